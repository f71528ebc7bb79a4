"""GET /api/action-items/ (state and due filters in the user's zone, pagination) and PATCH."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.notes import action_items
from mindpost.notes.models import ActionItem
from tests.factories import ActionItemFactory, NoteFactory, UserFactory

pytestmark = pytest.mark.django_db


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def texts(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["text"] for item in response.json()["results"]]


def frozen_now(moment: datetime) -> Any:
    """Freeze django.utils.timezone.now() for the to-dos module only (no clock library needed)."""
    return mock.patch.object(action_items.timezone, "now", return_value=moment)


def test_list_shows_open_items_with_their_note_and_moment(user: User, auth_api: APIClient) -> None:
    note = NoteFactory.create(user=user, text="Dentist on Friday. Call Dr. Patel.")
    item = ActionItemFactory.create(note=note, text="Call Dr. Patel", start_seconds=42.7, due_date=date(2026, 3, 6))
    ActionItemFactory.create(note=note, text="Already done", done=True)

    response = auth_api.get("/api/action-items/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 1
    (row,) = body["results"]
    assert row == {
        "id": str(item.pk),
        "text": "Call Dr. Patel",
        "due_date": "2026-03-06",
        "done": False,
        "done_at": None,
        "edited": False,
        "note": {"id": str(note.pk), "title": "Dentist on Friday"},
        "start_seconds": 42.7,
        "moment_url": f"http://testserver/notes/{note.pk}/?t=43",
    }


def test_an_item_without_a_time_has_no_moment(user: User, auth_api: APIClient) -> None:
    ActionItemFactory.create(note=NoteFactory.create(user=user), start_seconds=None)
    (row,) = auth_api.get("/api/action-items/").json()["results"]
    assert row["moment_url"] is None
    assert row["start_seconds"] is None


def test_status_filter(user: User, auth_api: APIClient) -> None:
    note = NoteFactory.create(user=user)
    ActionItemFactory.create(note=note, text="open one")
    ActionItemFactory.create(note=note, text="done one", done=True, done_at=datetime(2026, 3, 1, tzinfo=UTC))
    assert texts(auth_api.get("/api/action-items/")) == ["open one"]
    assert texts(auth_api.get("/api/action-items/", {"status": "open"})) == ["open one"]
    assert texts(auth_api.get("/api/action-items/", {"status": "done"})) == ["done one"]
    assert texts(auth_api.get("/api/action-items/", {"status": "all"})) == ["open one", "done one"]


def test_open_items_come_soonest_due_first_and_undated_last(user: User, auth_api: APIClient) -> None:
    note = NoteFactory.create(user=user)
    ActionItemFactory.create(note=note, text="no date")
    ActionItemFactory.create(note=note, text="later", due_date=date(2026, 5, 1))
    ActionItemFactory.create(note=note, text="sooner", due_date=date(2026, 3, 1))
    assert texts(auth_api.get("/api/action-items/")) == ["sooner", "later", "no date"]


def _windows_user(zone: str) -> tuple[User, APIClient]:
    """Items due on 9, 10, 11, 16 and 17 March and one with no date, for a user in `zone`."""
    person = UserFactory.create(timezone=zone)
    note = NoteFactory.create(user=person)
    for day in (9, 10, 11, 16, 17):
        ActionItemFactory.create(note=note, text=f"due {day}", due_date=date(2026, 3, day))
    ActionItemFactory.create(note=note, text="undated")
    return person, client_for(person)


@pytest.mark.parametrize(
    ("zone", "today"),
    [
        # 2026-03-09 22:30 UTC is already the 10th in Tokyo and still the 9th in New York.
        ("Asia/Tokyo", 10),
        ("UTC", 9),
        ("America/New_York", 9),
    ],
)
def test_due_windows_are_read_in_the_users_time_zone(zone: str, today: int) -> None:
    _, client = _windows_user(zone)
    with frozen_now(datetime(2026, 3, 9, 22, 30, tzinfo=UTC)):
        assert texts(client.get("/api/action-items/", {"due": "today"})) == [f"due {today}"]
        overdue = texts(client.get("/api/action-items/", {"due": "overdue"}))
        week = texts(client.get("/api/action-items/", {"due": "week"}))
        none = texts(client.get("/api/action-items/", {"due": "none"}))
        every = texts(client.get("/api/action-items/", {"due": "any"}))
    assert overdue == [f"due {day}" for day in (9, 10, 11, 16, 17) if day < today]
    # The next 7 days, today included: the 16th is in Tokyo's week (10th-16th), not in UTC's (9th-15th).
    assert week == [f"due {day}" for day in (9, 10, 11, 16, 17) if today <= day < today + 7]
    assert none == ["undated"]
    assert len(every) == 6


def test_user_today_follows_the_profile_zone() -> None:
    moment = datetime(2026, 3, 9, 22, 30, tzinfo=UTC)
    tokyo = User(email="t@example.com", timezone="Asia/Tokyo")
    unknown = User(email="m@example.com", timezone="Mars/Olympus")
    assert action_items.user_today(user=tokyo, now=moment) == date(2026, 3, 10)
    assert action_items.user_today(user=unknown, now=moment) == date(2026, 3, 9)  # UTC fallback
    assert moment.astimezone(ZoneInfo("Asia/Tokyo")).date() == date(2026, 3, 10)


def test_due_before_and_due_after(user: User, auth_api: APIClient) -> None:
    note = NoteFactory.create(user=user)
    for day in (1, 10, 20):
        ActionItemFactory.create(note=note, text=f"due {day}", due_date=date(2026, 4, day))
    ActionItemFactory.create(note=note, text="undated")
    assert texts(auth_api.get("/api/action-items/", {"due_after": "2026-04-10"})) == ["due 10", "due 20"]
    assert texts(auth_api.get("/api/action-items/", {"due_before": "2026-04-10"})) == ["due 1"]
    assert texts(auth_api.get("/api/action-items/", {"due_after": "2026-04-02", "due_before": "2026-04-20"})) == [
        "due 10"
    ]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "finished"}, "status"),
        ({"due": "tomorrow"}, "due"),
        ({"due_before": "next week"}, "due_before"),
        ({"due_after": "2026-02-30"}, "due_after"),
        ({"due_after": "2026-04-10", "due_before": "2026-04-10"}, "due_after"),
    ],
)
def test_bad_filters_are_400_with_a_code(auth_api: APIClient, params: dict[str, str], field: str) -> None:
    response = auth_api.get("/api/action-items/", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_filter"
    assert field in body["fields"]


def test_pagination_like_the_notes_list(user: User, auth_api: APIClient) -> None:
    note = NoteFactory.create(user=user)
    for n in range(3):
        ActionItemFactory.create(note=note, text=f"item {n}", position=n)
    first = auth_api.get("/api/action-items/", {"page_size": 2}).json()
    assert first["count"] == 3
    assert len(first["results"]) == 2
    assert first["next"]
    second = auth_api.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None
    assert auth_api.get("/api/action-items/", {"page": 9}).json()["code"] == "not_found"


def test_list_query_count_does_not_grow_with_items(
    user: User, auth_api: APIClient, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        note = NoteFactory.create(user=user)
        ActionItemFactory.create_batch(3, note=note)
    with django_assert_max_num_queries(4):  # user (force_authenticate has none), count, page
        assert len(texts(auth_api.get("/api/action-items/"))) == 9


def test_patch_marks_done_and_undoes(user: User, auth_api: APIClient) -> None:
    item = ActionItemFactory.create(note=NoteFactory.create(user=user))
    response = auth_api.patch(f"/api/action-items/{item.pk}/", {"done": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["done"] is True
    assert response.json()["done_at"]
    item.refresh_from_db()
    assert item.done
    assert item.done_at is not None
    first_done_at = item.done_at

    again = auth_api.patch(f"/api/action-items/{item.pk}/", {"done": True}, format="json")
    assert again.status_code == 200
    item.refresh_from_db()
    assert item.done_at == first_done_at  # marking a done item done keeps when it was done

    undo = auth_api.patch(f"/api/action-items/{item.pk}/", {"done": False}, format="json")
    assert undo.status_code == 200
    assert undo.json()["done"] is False
    assert undo.json()["done_at"] is None
    assert texts(auth_api.get("/api/action-items/")) == [item.text]


def test_patch_edits_text_and_due_date(user: User, auth_api: APIClient) -> None:
    item = ActionItemFactory.create(note=NoteFactory.create(user=user), due_date=date(2026, 3, 1))
    response = auth_api.patch(
        f"/api/action-items/{item.pk}/", {"text": "  Call   Dr. Patel ", "due_date": "2026-03-04"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["text"] == "Call Dr. Patel"
    assert response.json()["due_date"] == "2026-03-04"
    cleared = auth_api.patch(f"/api/action-items/{item.pk}/", {"due_date": None}, format="json")
    assert cleared.json()["due_date"] is None
    item.refresh_from_db()
    assert (item.text, item.due_date, item.done) == ("Call Dr. Patel", None, False)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "required"),
        ({"done": "maybe"}, "invalid"),
        ({"due_date": "friday"}, "invalid"),
        ({"text": "   "}, "empty_text"),
        ({"text": "x" * 501}, "text_too_long"),
    ],
)
def test_patch_refuses_bad_input_with_a_code(user: User, auth_api: APIClient, body: dict[str, Any], code: str) -> None:
    item = ActionItemFactory.create(note=NoteFactory.create(user=user))
    response = auth_api.patch(f"/api/action-items/{item.pk}/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    item.refresh_from_db()
    assert not item.done


def test_another_users_items_are_invisible_and_404(user: User, auth_api: APIClient) -> None:
    mine = ActionItemFactory.create(note=NoteFactory.create(user=user), text="mine")
    theirs = ActionItemFactory.create(note=NoteFactory.create(user=UserFactory.create()), text="theirs")

    assert texts(auth_api.get("/api/action-items/", {"status": "all", "due": "any"})) == ["mine"]
    for method in ("get", "patch"):
        response = getattr(auth_api, method)(f"/api/action-items/{theirs.pk}/", {"done": True}, format="json")
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert not theirs.done
    assert auth_api.patch("/api/action-items/not-a-uuid/", {"done": True}, format="json").status_code == 404
    assert ActionItem.objects.get(pk=mine.pk).done is False


def test_signed_out_is_401() -> None:
    assert APIClient().get("/api/action-items/").status_code == 401
