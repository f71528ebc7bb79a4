"""Settings → Connections in the browser (issue 13): Bluesky and Mastodon have their own forms (handle +
app password; instance URL), a connected account shows with a Disconnect button, and a refused
instance address comes back as a plain-words notice. Works at 390 px; axe finds nothing serious.
Screenshots: docs/screenshots/networks.png (1366 wide) and networks-phone.png (390 wide).

The browser stack has no Bluesky/Mastodon fakes configured (and must never call the real services),
so nothing here submits a Bluesky password; connecting end to end is in tests/posts/test_bluesky.py
and test_mastodon.py. The Mastodon address used here is refused before any request is made.
"""

from __future__ import annotations

from typing import Any

from mindpost.posts.models import Connection
from tests.browser.conftest import SCREENSHOTS, _shrink_png, assert_axe_clean


def shoot(tab: Any, name: str, *, width: int) -> None:
    page = tab.page
    page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
    page.wait_for_timeout(200)
    page.locator("#connection-bluesky").scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    _shrink_png(path)


def test_bluesky_and_mastodon_forms_in_settings(alice: Any) -> None:
    Connection.objects.create(
        user=alice.user,
        network="bluesky",
        external_user_id="did:plc:alice",
        username="alice.bsky.social",
        name="alice.bsky.social",
        char_limit=300,
        access_token="not-a-real-token",
        base_url="http://127.0.0.1:9",  # disconnect's best-effort revoke fails fast, locally
    )
    page = alice.page
    alice.goto("/settings/")
    bluesky = page.locator("#connection-bluesky")
    assert "Connected as @alice.bsky.social" in bluesky.inner_text()
    mastodon = page.locator("#connection-mastodon")
    assert mastodon.get_by_label("Your Mastodon server").is_visible()
    assert_axe_clean(alice, "settings with Bluesky and Mastodon")
    shoot(alice, "networks.png", width=1366)
    shoot(alice, "networks-phone.png", width=390)
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= 390
    page.set_viewport_size({"width": 1366, "height": 900})

    mastodon.get_by_label("Your Mastodon server").fill("http://10.0.0.1")
    mastodon.get_by_role("button", name="Connect Mastodon").click()
    alice.wait_until("() => location.search.includes('connection_status=error')")
    assert "not valid or not allowed" in page.locator("#connections").inner_text()

    page.locator("#connection-bluesky").get_by_role("button", name="Disconnect Bluesky").click()
    alice.wait_until("() => location.search.includes('connection_status=disconnected')")
    assert not Connection.objects.filter(user=alice.user).exists()
    assert page.locator("#connection-bluesky").get_by_label("App password").is_visible()
    alice.assert_clean()
