"""Your own words in the browser (issue 11, part 6): select a misheard name in a transcript, "Fix a
name everywhere" is filled in, it says how many notes will change, and confirming fixes them all;
the vocabulary textarea in settings saves. Works at 390 px; axe finds nothing serious. Screenshots:
docs/screenshots/fix-name.png (1366 wide) and fix-name-phone.png (390 wide)."""

from __future__ import annotations

from typing import Any

from mindpost.notes.models import Note, NoteSettings
from tests.browser.conftest import SCREENSHOTS, _shrink_png, assert_axe_clean
from tests.factories import NoteFactory

SELECT_WORD = """(word) => {
    const root = document.getElementById("note-transcript");
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
        const at = walker.currentNode.data.indexOf(word);
        if (at >= 0) {
            const range = document.createRange();
            range.setStart(walker.currentNode, at);
            range.setEnd(walker.currentNode, at + word.length);
            const selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            return true;
        }
    }
    return false;
}"""


def shoot(tab: Any, name: str, *, width: int) -> None:
    page = tab.page
    page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
    page.wait_for_timeout(200)
    page.locator("#fixname").scroll_into_view_if_needed()
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    _shrink_png(path)


def test_fix_a_name_everywhere_from_a_selected_word(alice: Any) -> None:
    page = alice.page
    note = NoteFactory.create(user=alice.user, text="I met Tavroza at the harbour in Afrio. Tavroza builds boats.")
    other = NoteFactory.create(user=alice.user, text="Call Tavroza about the boat trip next week.")
    untouched = NoteFactory.create(user=alice.user, text="Buy tomatoes and basil.")
    alice.goto(f"/notes/{note.pk}/")

    # Selecting the misheard word in the transcript fills in the form and opens it.
    assert page.evaluate(SELECT_WORD, "Tavroza")
    alice.wait_until("() => document.getElementById('fixname-find').value === 'Tavroza'")
    assert page.locator("#fixname-details").evaluate("el => el.open")
    page.locator("#fixname-replace").fill("Stavros")
    page.get_by_role("button", name="Check my notes").click()

    # It says how many notes will change before anything does.
    confirm = page.get_by_role("button", name="Replace in 2 notes")
    confirm.wait_for()
    assert "2 notes" in page.locator("#fixname-confirm").inner_text()
    assert Note.objects.get(pk=note.pk).transcription.startswith("I met Tavroza")

    assert_axe_clean(alice, "note page with fix a name")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shoot(alice, "fix-name.png", width=1366)
    shoot(alice, "fix-name-phone.png", width=390)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 800})

    confirm.click()
    page.get_by_text("in 2 notes. Search is being updated").wait_for()
    # The transcript on the page is corrected in place.
    alice.wait_until("() => document.getElementById('note-transcript').innerText.includes('I met Stavros')")
    assert Note.objects.get(pk=note.pk).transcription == "I met Stavros at the harbour in Afrio. Stavros builds boats."
    assert Note.objects.get(pk=other.pk).transcription == "Call Stavros about the boat trip next week."
    assert not Note.objects.get(pk=untouched.pk).edited
    assert "Stavros" in NoteSettings.objects.get(user=alice.user).vocabulary
    alice.assert_clean()


def test_vocabulary_textarea_in_settings(alice: Any) -> None:
    page = alice.page
    alice.goto("/settings/#words")
    page.locator("#vocabulary").fill("Stavros\nNafplio\nSiobhan")
    page.get_by_role("button", name="Save your words").click()
    page.get_by_text("Your words are saved.").wait_for()
    assert NoteSettings.objects.get(user=alice.user).vocabulary == "Stavros\nNafplio\nSiobhan"
    # A term too long is refused in place, and nothing changes.
    page.locator("#vocabulary").fill("Stavros\n" + "N" * 61)
    page.get_by_role("button", name="Save your words").click()
    page.locator("#words-result [data-code='vocabulary_term_too_long']").wait_for()
    assert NoteSettings.objects.get(user=alice.user).vocabulary == "Stavros\nNafplio\nSiobhan"
    # htmx logs the 400 it was told to expect; anything else is still a problem.
    alice.problems[:] = [p for p in alice.problems if "Error Code 400 from /settings/vocabulary/" not in p]
    assert_axe_clean(alice, "settings with your words")
    alice.assert_clean()
