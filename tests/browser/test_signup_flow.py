"""Sign-up in Chromium (issue 15, item 5): the verification mail names the product and links to
SITE_URL, the confirm-your-email page resends the mail, following the link signs the new user
in, and the sign-in page does not greet a stranger with "Welcome back"."""

from __future__ import annotations

import email
import time
from email import policy
from typing import Any

from tests.browser.test_axe import shoot
from tests.conftest import PASSWORD

EMAIL = "newcomer@example.com"


def _mails_to(stack: Any, address: str, *, count: int) -> list[Any]:
    """The parsed mails to `address`, oldest first, once at least `count` have arrived."""
    deadline = time.monotonic() + 30
    while True:
        messages = [email.message_from_string(text, policy=policy.default) for text in stack.mail()]
        mine = [m for m in messages if address in str(m["To"])]
        if len(mine) >= count or time.monotonic() > deadline:
            return mine
        time.sleep(0.3)


def _body(message: Any) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def test_sign_in_page_greets_neutrally(new_tab: Any) -> None:
    tab = new_tab()
    tab.goto("/accounts/login/")
    heading = tab.page.get_by_role("heading", level=1).inner_text()
    assert heading == "Sign in to MindPost"
    assert "Welcome back" not in tab.page.locator("main").inner_text()
    tab.assert_clean()


def test_sign_up_mail_resend_and_confirm_signs_in(new_tab: Any) -> None:
    from mindpost.accounts.models import User

    tab = new_tab(timezone_id="America/Sao_Paulo")
    page, stack = tab.page, tab.stack
    tab.goto("/accounts/signup/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again)").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/accounts/confirm-email/")
    assert page.get_by_role("heading", level=1).inner_text() == "Check your inbox"
    assert EMAIL in page.locator("main").inner_text()

    # The mail: the product's name and the configured public address, not the Host header.
    first = _mails_to(stack, EMAIL, count=1)
    assert len(first) == 1
    body = _body(first[0])
    assert "Hello from" not in body
    assert body.startswith("Hi from MindPost,")
    assert f"{stack.env['SITE_URL']}/accounts/confirm-email/" in body
    assert str(first[0]["Subject"]) == "MindPost: Confirm your email address"
    # The browser's zone came with the sign-up.
    assert User.objects.get(email=EMAIL).timezone == "America/Sao_Paulo"
    shoot(tab, "signup-confirm")

    # "Resend the email": answered in place; the worker mails a second link.
    page.get_by_role("button", name="Resend the email").click()
    page.get_by_text("a new link is on its way").wait_for()
    assert len(_mails_to(stack, EMAIL, count=2)) == 2

    # Following the newest link in the same browser signs the new user in.
    link = stack.last_link(to=EMAIL, pattern="/accounts/confirm-email/")
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    try:
        page.wait_for_url("**/record/")
    except Exception as exc:  # Playwright's timeout: say which half of the sign-in went missing
        raise AssertionError(_why_not_signed_in(tab)) from exc
    assert page.get_by_role("heading", level=1).inner_text() == "Record a note"
    tab.assert_clean()


def _why_not_signed_in(tab: Any) -> str:
    """What the server holds after the confirm POST: allauth signs in on confirmation only when the
    address got verified and the browser's session still holds the pending sign-up (a flake seen
    once in a full run landed on the sign-in page instead)."""
    from allauth.account.models import EmailAddress
    from django.conf import settings
    from django.contrib.sessions.models import Session

    cookies = {c["name"]: c["value"] for c in tab.page.context.cookies()}
    key = cookies.get(settings.SESSION_COOKIE_NAME, "")
    row = Session.objects.filter(session_key=key).first() if key else None
    data = row.get_decoded() if row is not None else None
    return (
        f"landed on {tab.page.url}; address verified: "
        f"{list(EmailAddress.objects.filter(email=EMAIL).values_list('verified', flat=True))}; "
        f"session cookie: {'yes' if key else 'no'}, row: {'yes' if row else 'no'}, "
        f"keys: {sorted(data) if data is not None else None}; sessions in the table: {Session.objects.count()}\n"
        f"web log:\n{tab.stack.log_tail('web')}"
    )


def test_expired_link_offers_a_new_one(new_tab: Any) -> None:
    tab = new_tab()
    tab.goto("/accounts/confirm-email/not-a-real-key/")
    assert "expired" in tab.page.locator("main").inner_text()
    tab.page.get_by_label("Email").fill("someone@example.com")
    tab.page.get_by_role("button", name="Resend the email").click()
    # The same answer whether or not the address has an account waiting.
    tab.page.get_by_text("a new link is on its way").wait_for()
    tab.assert_clean()
