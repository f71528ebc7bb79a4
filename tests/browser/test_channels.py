"""Settings → Messaging apps in the browser (issue 12): the panel loads into the settings page,
shows the linked WhatsApp number (last digits only) with an Unlink button, and unlinking works in
place over HTMX. Works at 390 px without sideways scrolling; axe finds nothing serious.
Screenshots: docs/screenshots/channels.png (1366 wide) and channels-phone.png (390 wide).

The browser stack has no WhatsApp or Telegram credentials, so the other channel shows "Not
available on this server"; issuing codes is covered by tests/channels/test_api.py.
"""

from __future__ import annotations

from typing import Any

from mindpost.channels import base
from mindpost.channels.models import ChannelLink
from tests.browser.conftest import SCREENSHOTS, _shrink_png, assert_axe_clean


def shoot(tab: Any, name: str, *, width: int) -> None:
    page = tab.page
    page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
    page.wait_for_timeout(200)
    page.locator("#channels").scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    _shrink_png(path)


def test_settings_lists_the_linked_number_and_unlinks_it(alice: Any) -> None:
    ChannelLink.objects.create(
        user=alice.user,
        channel="whatsapp",
        address="15551234567",
        address_hash=base.lookup_hash("address", "15551234567"),
    )
    page = alice.page
    alice.goto("/settings/")
    panel = page.locator("#channels-panel")
    alice.wait_until("() => document.querySelector('#channels-panel [data-channel=whatsapp]') !== null")
    whatsapp = panel.locator("[data-channel=whatsapp]")
    assert "Linked to •••• 4567" in whatsapp.inner_text()
    assert "Not available on this server." in panel.locator("[data-channel=telegram]").inner_text()
    assert_axe_clean(alice, "settings with messaging apps")
    shoot(alice, "channels.png", width=1366)
    shoot(alice, "channels-phone.png", width=390)
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= 390

    whatsapp.get_by_role("button", name="Unlink WhatsApp").click()
    alice.wait_until("() => document.querySelector('#channels-panel [role=status]') !== null")
    assert "Unlinked." in panel.inner_text()
    assert "Not available on this server." in panel.locator("[data-channel=whatsapp]").inner_text()
    assert not ChannelLink.objects.exists()
    alice.assert_clean()
