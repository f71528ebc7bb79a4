"""Threads you can shape (issue 13, part 4): each part has a preview and a live counter (counted
by the server with the network's rule); split at the cursor, merge with the next, add and remove
parts; saving checks every part and shows the problem next to it. Screenshot:
docs/screenshots/thread-editor.png (1366 wide)."""

from __future__ import annotations

from typing import Any

from mindpost.posts.models import PostFormat
from tests.browser.conftest import assert_axe_clean, assert_fits_phone
from tests.browser.test_calendar import shoot
from tests.factories import PostFactory


def test_split_merge_add_remove_and_save(alice: Any) -> None:
    page = alice.page
    parts = ["1/2 The harbour was quiet at dawn. Boats came back with fish.", "2/2 We bought sardines."]
    post = PostFactory.create(user=alice.user, format=PostFormat.THREAD, parts=parts, content="\n\n".join(parts))
    alice.goto(f"/posts/{post.pk}/")
    editor = page.locator("#thread-editor")
    assert editor.locator("[data-part]").count() == 2
    assert editor.locator("#part-1").input_value() == "The harbour was quiet at dawn. Boats came back with fish."

    # Split part 1 after its first sentence.
    page.evaluate("() => { const a = document.getElementById('part-1'); a.focus(); a.setSelectionRange(30, 30); }")
    editor.locator("[data-part]").nth(0).get_by_role("button", name="Split at cursor").click()
    assert editor.locator("[data-part]").count() == 3
    assert editor.locator("#part-1").input_value() == "The harbour was quiet at dawn."
    assert editor.locator("#part-2").input_value() == "Boats came back with fish."
    assert page.evaluate("() => document.activeElement.id") == "part-2"  # the new part has the cursor
    alice.wait_until("() => document.querySelector('#part-1-count')?.textContent.trim() === '34 / 280'")
    assert editor.locator("[data-preview]").nth(0).inner_text() == "1/3 The harbour was quiet at dawn."

    # Too long: the counter says so as it is typed, and saving shows the error next to that part.
    editor.locator("#part-3").fill("sardines " * 40)
    alice.wait_until("() => document.querySelector('#part-3-count')?.classList.contains('text-red-800')")
    editor.get_by_role("button", name="Save thread").click()
    alice.wait_until("() => !document.querySelector('#part-3-error')?.hidden")
    assert "shorten this part or split it" in editor.locator("#part-3-error").inner_text()
    assert editor.locator("#part-3").get_attribute("aria-invalid") == "true"

    # Remove it, merge 1 and 2 back, add a new last part.
    editor.locator("[data-part]").nth(2).get_by_role("button", name="Remove part").click()
    editor.locator("[data-part]").nth(0).get_by_role("button", name="Merge with next").click()
    assert editor.locator("#part-1").input_value() == "The harbour was quiet at dawn. Boats came back with fish."
    for text in ("We bought sardines.", "Grilled them at home."):
        editor.get_by_role("button", name="Add part").click()
        page.keyboard.type(text)  # the new part has the cursor
    assert editor.locator("[data-part-label]").nth(1).inner_text() == "Part 2 of 3"
    alice.wait_until("() => document.querySelector('#part-3-count')?.textContent.trim() === '25 / 280'")

    assert_axe_clean(alice, "thread-editor")
    page.evaluate("() => { document.getElementById('thread-editor').scrollIntoView(); window.scrollBy(0, -72); }")
    shoot(alice, "thread-editor.png", width=1366)
    page.evaluate("() => { document.getElementById('thread-editor').scrollIntoView(); window.scrollBy(0, -72); }")
    page.set_viewport_size({"width": 390, "height": 844})
    assert_fits_phone(alice)
    page.set_viewport_size({"width": 1366, "height": 900})

    editor.get_by_role("button", name="Save thread").click()
    page.wait_for_url("**?thread=saved")
    post.refresh_from_db()
    assert post.parts == [
        "1/3 The harbour was quiet at dawn. Boats came back with fish.",
        "2/3 We bought sardines.",
        "3/3 Grilled them at home.",
    ]
    alice.assert_clean()
