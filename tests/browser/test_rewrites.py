"""Rewrites in the browser (issue 11, part 4): on a note page, choose a style with the keyboard,
the version appears (polling while the worker writes it), copy it, delete an older one; your own
style from settings is in the menu. Works at 390 px; axe finds nothing serious. Screenshots:
docs/screenshots/rewrites.png (1366 wide) and rewrites-phone.png (390 wide)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mindpost.notes import rewrites
from mindpost.notes.models import NoteVersion, RewriteStatus
from tests.browser.conftest import SCREENSHOTS, _shrink_png, assert_axe_clean
from tests.factories import NoteFactory

TEXT = (
    "Um so I met Stavros at the harbour in Nafplio, uh, he has mended fishing nets there for forty years. "
    "I should call him next week about the boat trip."
)
CLEAN = "I met Stavros at the harbour in Nafplio. He has mended fishing nets there for forty years."
PIRATE = "Arr, I met Stavros at the harbour in Nafplio, matey."


@pytest.fixture
def rewrite_replies(fakes: Any) -> Iterator[None]:
    """The session's fake chat model answers rewrite prompts with fixed text (and everything else as before)."""
    original = fakes.openai.chat_reply

    def reply(request: dict[str, Any]) -> str:
        system = str(request.get("messages", [{}])[0].get("content", ""))
        if "You rewrite a person's own note" in system:
            return PIRATE if "pirate" in system else CLEAN
        return original(request) if callable(original) else str(original)

    fakes.openai.chat_reply = reply
    yield
    fakes.openai.chat_reply = original


def shoot(tab: Any, name: str, *, width: int) -> None:
    page = tab.page
    page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
    page.wait_for_timeout(200)
    page.locator("#rewrites").scroll_into_view_if_needed()
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    _shrink_png(path)


def test_rewrite_menu_by_keyboard_polls_copies_deletes_and_fits_a_phone(alice: Any, rewrite_replies: None) -> None:
    page = alice.page
    rewrites.custom_styles_set(user=alice.user, styles=[{"name": "Pirate", "instructions": "Talk like a pirate."}])
    note = NoteFactory.create(user=alice.user, text=TEXT)
    alice.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=alice.stack.url)
    alice.goto(f"/notes/{note.pk}/")

    # The panel loads by itself; the menu has the built-in styles and Alice's own.
    select = page.locator("#rewrite-style")
    select.wait_for()
    labels = select.locator("option").all_inner_texts()
    assert labels == [s.label for s in rewrites.STYLES] + ["Pirate"]
    assert page.get_by_text("No rewrites yet.").is_visible()

    # Keyboard only: focus the menu, pick "Pirate" (the last option), Tab to the button, Enter.
    select.focus()
    page.keyboard.press("End")
    assert select.input_value() == "custom:Pirate"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Rewrite"
    page.keyboard.press("Enter")
    first = page.locator("#rewrite-versions li").first
    first.get_by_text(PIRATE).wait_for(timeout=30_000)  # pending -> the worker writes it -> polled in
    assert NoteVersion.objects.get(note=note).status == RewriteStatus.DONE

    # A second rewrite (clean-up, the first option) goes on top and is open; the older one stays listed.
    select.select_option("clean_up")
    page.get_by_role("button", name="Rewrite", exact=True).click()
    page.locator("#rewrite-versions li").first.get_by_text(CLEAN).wait_for(timeout=30_000)
    assert page.locator("#rewrite-versions li").count() == 2

    # Copy: the clipboard gets the version's text, and the page says so.
    page.locator("#rewrite-versions li").first.get_by_role("button", name="Copy").click()
    page.locator("#rewrite-versions li").first.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == CLEAN

    # The transcript on the page is what was said, untouched.
    assert "Um so I met Stavros" in page.locator("#note-transcript").inner_text()

    assert_axe_clean(alice, "note page with rewrites")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shoot(alice, "rewrites.png", width=1366)
    shoot(alice, "rewrites-phone.png", width=390)
    # Nothing is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    # Delete the older (pirate) version.
    older = page.locator("#rewrite-versions li").nth(1)
    older.locator("summary").click()
    older.get_by_role("button", name="Delete").click()
    page.locator("#rewrite-versions li").nth(1).wait_for(state="detached")
    assert NoteVersion.objects.filter(note=note).count() == 1
    alice.assert_clean()


def test_own_styles_editor_in_settings(alice: Any) -> None:
    page = alice.page
    alice.goto("/settings/#rewrite-styles")
    page.locator("#style-name-new").fill("Tweet thread")
    page.locator("#style-instructions-new").fill("Short numbered posts, casual, no hashtags.")
    page.locator("#style-instructions-new").press("Tab")
    page.keyboard.press("Enter")  # focus is on "Save styles"
    page.get_by_text("Your styles are saved.").wait_for()
    assert rewrites.custom_styles(user=alice.user) == [
        {"name": "Tweet thread", "instructions": "Short numbered posts, casual, no hashtags."}
    ]
    # A name too long is refused with a message in place, and nothing changes.
    # (maxlength stops typing; an old browser or a crafted request does not have it)
    page.locator("#style-name-1").evaluate("(el) => { el.value = 'N'.repeat(41); }")
    page.get_by_role("button", name="Save styles").click()
    page.locator("[data-code]").wait_for()
    assert rewrites.custom_styles(user=alice.user)[0]["name"] == "Tweet thread"
    # htmx logs every 4xx it swaps; this one was asked for.
    expected = "Response Status Error Code 400 from /settings/rewrite-styles/"
    alice.problems[:] = [problem for problem in alice.problems if expected not in problem]
    assert_axe_clean(alice, "settings with rewrite styles")
    alice.assert_clean()
