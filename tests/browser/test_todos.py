"""To-dos and similar notes in the browser (issue 11, parts 3 and 5).

- /todos/: open items grouped Overdue / Today / This week / Later / No date (in the user's zone);
  the checkbox marks one done in place over HTMX, Undo opens it again; the Done filter lists it;
  each item links to its note and to the moment in the recording, where the player starts.
- The note page loads "Similar notes" after the page itself.
Works at 390 px without sideways scrolling; axe finds nothing serious. Screenshots:
docs/screenshots/todos.png (1366 wide), todos-phone.png (390 wide) and similar.png (1366 wide).
"""

from __future__ import annotations

import io
import wave
from datetime import timedelta
from typing import Any

from mindpost.notes import action_items
from mindpost.notes.models import ActionItem, NoteKind
from tests.browser.conftest import SCREENSHOTS, _shrink_png, assert_axe_clean
from tests.factories import ActionItemFactory, IndexedNoteFactory, NoteFactory

VOICE_TEXT = (
    "Dentist appointment with Dr. Patel moved to Friday. I need to call the insurance about the claim, "
    "and book the ferry to Hydra for the long weekend before the prices go up."
)
COOKING = "Made pasta with fresh tomatoes and basil for Sarah's dinner party. Next time more garlic."
BUDGET = "The lighthouse restoration committee wants a bigger budget for the new lamp and the paint."
GYM = "Leg day at the gym: squats, lunges and twenty minutes on the bike. Knee felt fine."


def silent_wav(seconds: int = 40) -> bytes:
    """A quiet mono WAV long enough to seek into (8 kHz, 16-bit)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * 8000 * seconds)
    return buffer.getvalue()


def shoot(tab: Any, name: str, *, width: int, scroll_to: str | None = None) -> None:
    page = tab.page
    page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
    page.wait_for_timeout(200)
    if scroll_to:
        page.locator(scroll_to).scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    _shrink_png(path)


def page_width_at(tab: Any, width: int) -> int:
    tab.page.set_viewport_size({"width": width, "height": 844})
    tab.page.wait_for_timeout(200)
    return int(tab.page.evaluate("document.documentElement.scrollWidth"))


def test_todo_page_groups_marks_done_undoes_and_links_to_the_moment(alice: Any, settings: Any) -> None:
    page = alice.page
    user = alice.user
    user.timezone = "Europe/Athens"
    user.save(update_fields=["timezone"])
    today = action_items.user_today(user=user)
    # The recording goes where the stack's web process reads media (plaintext files are read as is).
    settings.MEDIA_ROOT = str(alice.stack.var_dir / "media")
    note = NoteFactory.create(user=user, kind=NoteKind.VOICE, text=VOICE_TEXT, audio=silent_wav(), duration_seconds=40)
    other = NoteFactory.create(user=user, text="Ideas for the garden. Plant tomatoes in May.")
    make = ActionItemFactory.create
    make(note=note, text="Renew the passport", due_date=today - timedelta(days=2), start_seconds=3.0)
    call = make(note=note, text="Call the insurance about the claim", due_date=today, start_seconds=12.0)
    make(note=note, text="Book the ferry to Hydra", due_date=today + timedelta(days=3), start_seconds=21.4)
    make(note=other, text="Plant the tomatoes", due_date=today + timedelta(days=30))
    make(
        note=other,
        text="Look up https://example.com/a-very-long-link-to-a-garden-supplier-catalogue-without-any-spaces-in-it",
    )

    alice.goto("/todos/")
    headings = page.locator("main h2").all_inner_texts()
    assert [h.split()[0] for h in headings] == ["Overdue", "Today", "This", "Later", "No"]

    # Mark one done with its checkbox: the row updates in place and offers Undo.
    row = page.locator(f"#todo-{call.pk}")
    row.get_by_role("checkbox").click()
    alice.wait_until(f"() => document.querySelector('#todo-{call.pk}').dataset.done === 'true'")
    assert ActionItem.objects.get(pk=call.pk).done
    undo = page.locator(f"#todo-{call.pk}").get_by_role("button", name="Undo")
    assert page.locator(f"#todo-{call.pk}").get_by_role("checkbox").is_checked()
    undo.click()
    alice.wait_until(f"() => document.querySelector('#todo-{call.pk}').dataset.done === 'false'")
    assert not ActionItem.objects.get(pk=call.pk).done

    assert_axe_clean(alice, "to-do page")
    shoot(alice, "todos.png", width=1366)
    shoot(alice, "todos-phone.png", width=390)
    assert page_width_at(alice, 390) <= 390
    page.set_viewport_size({"width": 1366, "height": 900})

    # Done again, then the Done filter lists it and the open list does not.
    page.locator(f"#todo-{call.pk}").get_by_role("checkbox").click()
    alice.wait_until(f"() => document.querySelector('#todo-{call.pk}').dataset.done === 'true'")
    page.get_by_role("link", name="Done", exact=True).click()
    page.wait_for_url("**/todos/?show=done")
    assert page.locator(f"#todo-{call.pk}").is_visible()
    page.get_by_role("link", name="Open", exact=True).click()
    page.wait_for_url("**/todos/")
    assert page.locator(f"#todo-{call.pk}").count() == 0

    # The ferry's moment link opens the note with the player at 0:21.
    ferry = page.locator("li", has_text="Book the ferry to Hydra")
    ferry.get_by_role("link", name="from 0:21", exact=False).click()
    page.wait_for_url(f"**/notes/{note.pk}/?t=21")
    alice.wait_until("() => { const a = document.querySelector('audio'); return a && a.currentTime >= 20.5; }")
    # And the note link opens the note itself.
    alice.goto("/todos/")
    page.locator("li", has_text="Plant the tomatoes").get_by_role("link", name="Ideas for the garden").click()
    page.wait_for_url(f"**/notes/{other.pk}/")
    alice.assert_clean()


def test_empty_todo_page_explains_where_todos_come_from(alice: Any) -> None:
    alice.goto("/todos/")
    empty = alice.page.locator("#todos-empty")
    assert "No to-dos yet" in empty.inner_text()
    assert empty.get_by_role("link", name="Record a note").is_visible()
    assert page_width_at(alice, 390) <= 390
    assert_axe_clean(alice, "empty to-do page")
    alice.assert_clean()


def test_note_page_shows_similar_notes_after_loading(alice: Any, settings: Any) -> None:
    settings.EMBED_BACKEND = "local"
    cooking = IndexedNoteFactory.create(user=alice.user, text=COOKING)
    dinner = IndexedNoteFactory.create(
        user=alice.user, text="Dinner idea: tomato and basil bruschetta, then pasta. Buy parmesan."
    )
    IndexedNoteFactory.create(user=alice.user, text=BUDGET)
    IndexedNoteFactory.create(user=alice.user, text=GYM)
    page = alice.page
    alice.goto(f"/notes/{cooking.pk}/")
    panel = page.locator("#similar-notes")
    panel.scroll_into_view_if_needed()
    panel.locator("li").first.wait_for()
    hrefs = panel.locator("li a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    # By link, not title: the live worker may have enriched the titles meanwhile.
    assert str(dinner.pk) in hrefs[0]  # the other tomato-and-basil note first
    assert not any(str(cooking.pk) in href for href in hrefs)  # never itself
    assert_axe_clean(alice, "note page with similar notes")
    shoot(alice, "similar.png", width=1366, scroll_to="#similar-notes")
    assert page_width_at(alice, 390) <= 390
    alice.assert_clean()
