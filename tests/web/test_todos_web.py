"""The To-do page (grouping by due date in the user's zone, empty states, done filter), its
HTMX toggle (done and undo) and the lazily loaded "Similar notes" panel: per-user, server side."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client

from mindpost.accounts.models import User
from mindpost.notes.models import ActionItem, Note
from mindpost.web.views.todos import Row, group_open_items
from tests.chat.helpers import GREECE, GYM, OSAKA
from tests.factories import ActionItemFactory, NoteFactory, UserFactory

pytestmark = pytest.mark.django_db

HX: dict[str, Any] = {"HTTP_HX_REQUEST": "true"}


def test_groups_in_order_and_by_the_users_today() -> None:
    today = date(2026, 3, 10)
    items = {
        name: ActionItem(text=name, due_date=due)
        for name, due in {
            "later": today + timedelta(days=7),
            "none": None,
            "week-end": today + timedelta(days=6),
            "today": today,
            "overdue": today - timedelta(days=1),
            "tomorrow": today + timedelta(days=1),
        }.items()
    }
    groups = group_open_items([Row(item=item, moment=None) for item in items.values()], today=today)
    assert [(g.label, [r.item.text for r in g.rows]) for g in groups] == [
        ("Overdue", ["overdue"]),
        ("Today", ["today"]),
        ("This week", ["week-end", "tomorrow"]),
        ("Later", ["later"]),
        ("No date", ["none"]),
    ]


def test_page_lists_open_items_with_note_and_moment_links(user: User, web: Client) -> None:
    note = NoteFactory.create(user=user, text="Dentist on Friday. Call Dr. Patel.")
    ActionItemFactory.create(note=note, text="Call Dr. Patel", start_seconds=12.4)
    ActionItemFactory.create(note=note, text="Finished already", done=True)
    page = web.get("/todos/").content.decode()
    assert "Call Dr. Patel" in page
    assert "Finished already" not in page
    assert f'href="/notes/{note.pk}/"' in page
    assert f'href="/notes/{note.pk}/?t=12"' in page
    done = web.get("/todos/?show=done").content.decode()
    assert "Finished already" in done
    assert "Call Dr. Patel" not in done


def test_empty_state_explains_where_todos_come_from(web: Client) -> None:
    page = web.get("/todos/").content.decode()
    assert "No to-dos yet" in page
    assert "picks it out once the note is ready" in page


def test_all_done_says_so(user: User, web: Client) -> None:
    ActionItemFactory.create(note=NoteFactory.create(user=user), done=True)
    page = web.get("/todos/").content.decode()
    assert "Nothing left to do" in page


def test_toggle_marks_done_offers_undo_and_undoes(user: User, web: Client) -> None:
    item = ActionItemFactory.create(note=NoteFactory.create(user=user), text="Book the ferry")
    response = web.post(f"/todos/{item.pk}/done/", {"done": "1"}, **HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="todo-{item.pk}"' in body
    assert "Undo" in body
    item.refresh_from_db()
    assert item.done
    assert item.done_at is not None

    undo = web.post(f"/todos/{item.pk}/done/", {"done": "0"}, **HX)
    assert "Undo" not in undo.content.decode()
    item.refresh_from_db()
    assert not item.done
    # An unchecked checkbox sends nothing: that is "open" too.
    web.post(f"/todos/{item.pk}/done/", {"done": "1"}, **HX)
    web.post(f"/todos/{item.pk}/done/", {}, **HX)
    item.refresh_from_db()
    assert not item.done


def test_toggle_without_javascript_redirects_back(user: User, web: Client) -> None:
    item = ActionItemFactory.create(note=NoteFactory.create(user=user))
    response = web.post(f"/todos/{item.pk}/done/", {"done": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/todos/"


def test_another_users_items_and_notes_are_404(user: User, web: Client) -> None:
    other = UserFactory.create()
    theirs = ActionItemFactory.create(note=NoteFactory.create(user=other), text="Their secret errand")
    assert "Their secret errand" not in web.get("/todos/?show=done").content.decode()
    assert "Their secret errand" not in web.get("/todos/").content.decode()
    assert web.post(f"/todos/{theirs.pk}/done/", {"done": "1"}, **HX).status_code == 404
    theirs.refresh_from_db()
    assert not theirs.done
    their_note = NoteFactory.create(user=other)
    assert web.get(f"/notes/{their_note.pk}/similar/", **HX).status_code == 404


def test_signed_out_is_sent_to_sign_in(client: Client) -> None:
    assert client.get("/todos/").status_code == 302


@pytest.mark.usefixtures("local_embedder")
def test_note_page_loads_similar_notes_lazily(user: User, web: Client, note_factory: Callable[..., Note]) -> None:
    greece = note_factory(user, GREECE)
    osaka = note_factory(user, OSAKA)
    note_factory(user, GYM)
    page = web.get(f"/notes/{greece.pk}/").content.decode()
    assert f'hx-get="/notes/{greece.pk}/similar/"' in page
    assert "Osaka" not in page  # not computed with the page
    panel = web.get(f"/notes/{greece.pk}/similar/", **HX).content.decode()
    assert f'href="/notes/{osaka.pk}/"' in panel
    assert f'href="/notes/{greece.pk}/"' not in panel


def test_similar_panel_when_there_is_nothing_else(user: User, web: Client) -> None:
    note = NoteFactory.create(user=user)
    panel = web.get(f"/notes/{note.pk}/similar/", **HX).content.decode()
    assert "No other notes about this yet" in panel
