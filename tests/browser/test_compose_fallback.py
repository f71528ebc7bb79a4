"""No dead ends (issue 13, part 2): with nothing connected the editor says which networks can be
used, and offers Copy (clipboard, with a fallback) and "Open in X / LinkedIn / Bluesky" links that
follow the text as it is typed. Screenshot: docs/screenshots/compose-fallback.png (1366 wide)."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import assert_axe_clean, assert_fits_phone
from tests.browser.test_calendar import shoot

TEXT = "Tea & cake #brunch, then a walk to the lighthouse + a swim."


def test_copy_and_open_in_links_when_nothing_is_connected(alice: Any) -> None:
    page = alice.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=alice.stack.url)
    alice.goto("/posts/compose/")
    box = page.locator("#publish-options")
    assert "No network is connected" in box.inner_text()
    states = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#publish-options [data-state]')]"
        ".map(el => [el.dataset.network, el.dataset.state]))"
    )
    assert states["x"] == "connect"  # the stack configures the X app (a loopback fake)
    assert states["linkedin"] == "unavailable"  # no LinkedIn app on this server
    assert states["bluesky"] == "connect"

    page.locator("#content").fill(TEXT)
    encoded = "Tea%20%26%20cake%20%23brunch%2C%20then%20a%20walk%20to%20the%20lighthouse%20%2B%20a%20swim."
    alice.wait_until(
        f"() => (document.querySelector('#publish-options [data-intent=x]')?.href || '').endsWith('{encoded}')"
    )
    hrefs = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#publish-options [data-intent]')]"
        ".map(el => [el.dataset.intent, el.getAttribute('href')]))"
    )
    assert hrefs["x"] == f"https://x.com/intent/post?text={encoded}"
    assert hrefs["linkedin"] == f"https://www.linkedin.com/feed/?shareActive=true&text={encoded}"
    assert hrefs["bluesky"] == f"https://bsky.app/intent/compose?text={encoded}"
    assert page.locator("#publish-options [data-intent=x]").get_attribute("target") == "_blank"

    page.get_by_role("button", name="Copy text").click()
    alice.wait_until("() => document.querySelector('[data-copy-status]')?.textContent.includes('Copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == TEXT

    assert_axe_clean(alice, "compose-fallback")
    shoot(alice, "compose-fallback.png", width=1366)
    page.set_viewport_size({"width": 390, "height": 844})
    assert_fits_phone(alice)
    alice.assert_clean()


def test_copy_falls_back_without_the_clipboard_api(alice: Any) -> None:
    page = alice.page
    alice.goto("/posts/compose/")
    page.evaluate("() => Object.defineProperty(navigator, 'clipboard', { value: undefined })")
    page.locator("#content").fill(TEXT)
    page.get_by_role("button", name="Copy text").click()
    status = alice.wait_until("() => document.querySelector('[data-copy-status]')?.textContent")
    assert "Copied" in status or "Ctrl+C" in status
    # Either way the text is selected in the editor, ready for the shortcut.
    selected = page.evaluate(
        "() => { const a = document.getElementById('content');"
        " return a.value.slice(a.selectionStart, a.selectionEnd); }"
    )
    assert selected == TEXT
    alice.assert_clean()
