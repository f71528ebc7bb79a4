"""Time zone in Chromium (issue 15, item 9): sign-up takes the browser's zone, the settings page
offers the device's zone when it differs and replaces the ~600-entry select with a searchable
field that is usable from the keyboard, and an unknown zone is a form error."""

from __future__ import annotations

from typing import Any

from tests.browser.test_axe import PHONE, overflowing, shoot
from tests.conftest import PASSWORD


def test_sign_up_takes_the_browsers_zone(new_tab: Any) -> None:
    from mindpost.accounts.models import User

    tab = new_tab(timezone_id="Pacific/Auckland")
    page = tab.page
    tab.goto("/accounts/signup/")
    assert page.locator("input[name=timezone]").input_value() == "Pacific/Auckland"
    page.get_by_label("Email").fill("auckland@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/accounts/confirm-email/")
    assert User.objects.get(email="auckland@example.com").timezone == "Pacific/Auckland"
    tab.assert_clean()


def test_settings_offers_the_device_zone_and_searches_zones(signed_in_tab: Any) -> None:
    from tests.factories import UserFactory

    user = UserFactory.create(email="tz@example.com")  # the model's default: UTC
    tab = signed_in_tab(user)  # the browser is in Europe/Athens (conftest's default)
    page = tab.page
    tab.goto("/settings/")
    field = page.get_by_label("Time zone")
    assert field.input_value() == "UTC"
    # Searchable: a text field with a list of suggestions, not a 600-entry <select>.
    assert field.get_attribute("list") == "timezone-options"
    assert page.locator("#timezone-options option").count() > 400
    assert page.locator("select#timezone").count() == 0
    use = page.get_by_role("button", name="Use Europe/Athens")
    use.wait_for()
    assert "This device is set to Europe/Athens" in page.locator("#profile").inner_text()
    page.locator("#profile").scroll_into_view_if_needed()
    shoot(tab, "settings-timezone")

    use.click()
    page.get_by_text("Profile saved.").wait_for()
    user.refresh_from_db()
    assert user.timezone == "Europe/Athens"
    assert not use.is_visible()  # the hint goes once the zones agree
    assert page.evaluate("() => document.activeElement.id") == "timezone"

    # Keyboard only: type a zone (any case, spaces for underscores) and press Enter.
    field.fill("")
    field.press_sequentially("america/new york")
    with page.expect_response("**/settings/profile/") as saved:
        field.press("Enter")
    assert saved.value.status == 200
    user.refresh_from_db()
    assert user.timezone == "America/New_York"

    # An unknown zone is a message next to the form, not a 500, and changes nothing.
    field.fill("Atlantis/Capital")
    with page.expect_response("**/settings/profile/") as refused:
        page.get_by_role("button", name="Save profile").click()
    assert 400 <= refused.value.status < 500
    alert = page.locator("#profile-result [role=alert]")
    alert.wait_for()
    assert "Unknown time zone: choose one from the list" in alert.inner_text()
    # htmx logs every 4xx to the console; the expected form error is not a problem of this page
    # (issue 15 bug 11 handles expected 4xx answers in the page; then this line finds nothing).
    tab.problems[:] = [p for p in tab.problems if "Response Status Error Code 4" not in p]
    user.refresh_from_db()
    assert user.timezone == "America/New_York"

    page.set_viewport_size(PHONE)
    tab.goto("/settings/")
    assert overflowing(page) is None
    assert page.get_by_label("Time zone").is_visible()
    tab.assert_clean()


def test_no_offer_when_the_zones_are_the_same_place(new_tab: Any) -> None:
    """Chromium names Kolkata "Asia/Calcutta" (an alias zoneinfo also knows): not a difference."""
    from tests.browser.conftest import sign_in
    from tests.factories import UserFactory

    tab = sign_in(
        new_tab(timezone_id="Asia/Kolkata"), UserFactory.create(email="in@example.com", timezone="Asia/Kolkata")
    )
    tab.goto("/settings/")
    tab.page.wait_for_timeout(200)  # Alpine has run
    assert tab.page.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone") == "Asia/Calcutta"
    assert not tab.page.get_by_text("This device is set to").is_visible()
    tab.assert_clean()
