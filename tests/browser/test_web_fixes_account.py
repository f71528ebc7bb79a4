"""Issue 15, bugs 6 and 7: usage without a limit shows the count alone; deleting the account
ends on a goodbye page."""

from __future__ import annotations

import re
from typing import Any

from mindpost.billing import metering
from mindpost.billing.metering import Metric


def test_usage_without_a_limit_shows_the_count_alone(alice: Any) -> None:
    for _ in range(5):
        metering.reserve(user=alice.user, metric=Metric.RECORDINGS)  # billing is off: no limits
    alice.goto("/settings/")
    assert "∞" not in alice.page.locator("main").inner_text()
    row = alice.page.locator("li", has_text="Recordings").last
    assert row.locator("[data-usage]").inner_text().strip().startswith("5")
    # No bar half-filled towards nothing.
    assert alice.page.locator("[role=meter]").count() == 0
    assert alice.page.locator(".meter-bar").count() == 0
    alice.assert_clean()


def test_deleting_the_account_ends_on_the_goodbye_page(alice: Any) -> None:
    from mindpost.accounts.models import User
    from tests.conftest import PASSWORD

    user = alice.user  # made by the factories with PASSWORD
    page = alice.page
    alice.goto("/settings/")
    page.get_by_role("button", name="Delete my account…").click()
    page.get_by_label("Type your password to confirm").fill(PASSWORD)
    page.locator("#delete-form").get_by_role("button", name=re.compile("Delete")).click()
    page.wait_for_url("**/goodbye/")
    assert page.get_by_role("heading", level=1).inner_text() == "Goodbye"
    assert "deleted" in page.locator("main").inner_text()
    assert not User.objects.filter(pk=user.pk).exists()
    alice.assert_clean()
