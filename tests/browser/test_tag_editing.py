"""Issue 11, clean tags on the web: edit a note's title and tags with the keyboard, the filter
bar's most-used tags, and renaming/merging a tag on the /tags/ page. Screenshots: tags.png
(1366 wide) and tags-phone.png (390 wide)."""

from __future__ import annotations

from typing import Any

from mindpost.notes import blind_index, tagging
from mindpost.notes.models import Note, UserTag
from tests.browser.conftest import SCREENSHOTS, _shrink_png, assert_fits_phone
from tests.factories import NoteFactory

TEXT = (
    "Dentist appointment with Dr. Patel on Friday at nine. Ask about the crown and the insurance form. "
    "Maria can drive me there."
)


def tagged(user: Any, text: str, tags: list[str]) -> Note:
    note = NoteFactory.create(user=user, text=text)
    tagging.note_apply_tags(note=note, candidates=tags, source="enrichment")
    note.refresh_from_db()
    return note


def shoot(tab: Any, name: str, *, focus: str) -> None:
    """docs/screenshots/<name>.png at 1366 and <name>-phone.png at 390 px wide, `focus` in view."""
    page = tab.page
    original = page.viewport_size
    for suffix, size in (("", {"width": 1366, "height": 900}), ("-phone", {"width": 390, "height": 844})):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)
        page.locator(focus).scroll_into_view_if_needed()
        path = SCREENSHOTS / f"{name}{suffix}.png"
        page.screenshot(path=str(path), animations="disabled", caret="hide")
        _shrink_png(path)
    page.set_viewport_size(original)


def test_edit_title_and_tags_with_the_keyboard(alice: Any) -> None:
    page = alice.page
    note = tagged(alice.user, TEXT, ["dentist", "insurance"])
    for _ in range(3):  # "teeth" is the most used tag, so it leads the filter bar
        tagged(alice.user, "Floss every evening.", ["teeth"])
    alice.goto(f"/notes/{note.pk}/")

    # Open the disclosure and edit with the keyboard only.
    summary = page.locator("#note-tags summary")
    summary.focus()
    page.keyboard.press("Enter")
    title = page.get_by_label("Title", exact=True)
    title.wait_for()
    title.fill("Dentist with Dr. Patel, Friday 9:00")
    tags = page.get_by_role("textbox", name="Tags")
    tags.fill("#Teeth dentist RichardPowers")
    page.get_by_role("button", name="Save title and tags").focus()
    alice.audit("tags-edit-open")
    page.keyboard.press("Enter")
    page.locator("#note-tags .alert-success", has_text="Saved.").wait_for()

    # The title (out of band) and the tag chips refresh without a reload; "Teeth" took the
    # spelling Alice already uses.
    page.locator("h1", has_text="Dentist with Dr. Patel, Friday 9:00").wait_for()
    chips = page.locator("#note-details [aria-label='Tags'] a")
    assert chips.all_inner_texts() == ["#teeth", "#dentist", "#RichardPowers"]
    note.refresh_from_db()
    assert (note.title, note.tags, note.title_edited, note.tags_edited) == (
        "Dentist with Dr. Patel, Friday 9:00",
        ["teeth", "dentist", "RichardPowers"],
        True,
        True,
    )
    assert page.locator("#note-body .alert-success").count() == 0  # "Saved." once, by the form
    shoot(alice, "tags", focus="#note-tags")
    assert_fits_phone(alice)

    # Bad input: the error is announced and what was typed stays.
    page.get_by_role("textbox", name="Tags").fill("one two three four five six")
    page.get_by_role("button", name="Save title and tags").click()
    error = page.locator("#note-tags-error")
    error.wait_for()
    assert "at most 5" in error.inner_text()
    assert page.get_by_role("textbox", name="Tags").input_value() == "one two three four five six"
    note.refresh_from_db()
    assert note.tags == ["teeth", "dentist", "RichardPowers"]
    # htmx logs the 400 it swapped in on purpose; anything else still fails the test.
    alice.problems[:] = [p for p in alice.problems if "Response Status Error Code 400 from /notes/" not in p]
    alice.assert_clean()

    # The filter bar lists the most used tags, from the vocabulary.
    alice.goto("/notes/")
    bar = page.get_by_role("navigation", name="Filter by tag")
    assert bar.locator("a").all_inner_texts()[:2] == ["All notes", "#teeth"]


def test_rename_and_merge_on_the_tags_page(alice: Any, signed_in_tab: Any) -> None:
    page = alice.page
    both = tagged(alice.user, "Goals for the year.", ["goals", "health"])
    Note.objects.filter(pk=both.pk).update(
        tags_data='["goals", "health", "goal"]',
        tag_hashes=[blind_index.tag_hash(t) for t in ("goals", "health", "goal")],
    )
    tagging.vocabulary_recount(
        user_id=alice.user.pk, hashes=[blind_index.tag_hash("goal")], names={blind_index.tag_hash("goal"): "goal"}
    )
    bob = signed_in_tab("bob@example.com")
    theirs = tagged(bob.user, "Bob's goals.", ["goals"])

    alice.goto("/tags/")
    page.get_by_label("Tag", exact=True).select_option("goals")
    page.get_by_label("New name").fill("goal")
    page.get_by_role("button", name="Rename").click()
    page.locator("#tags-panel .alert-success", has_text="merged into #goal").wait_for()
    both.refresh_from_db()
    assert both.tags == ["goal", "health"]
    assert {row.name: row.note_count for row in UserTag.objects.filter(user=alice.user)} == {"goal": 1, "health": 1}
    theirs.refresh_from_db()
    assert theirs.tags == ["goals"]  # Bob's notes are never touched
    alice.audit("tags-page")
    assert_fits_phone(alice)

    # Bob's /tags/ page shows only his tags.
    bob.goto("/tags/")
    assert [" ".join(t.split()) for t in bob.page.locator("#tags-panel ul a").all_inner_texts()] == ["#goals · 1"]
