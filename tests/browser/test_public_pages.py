"""Pages anyone can open: landing, sign in, sign up, password reset, error pages."""

from __future__ import annotations

from typing import Any


def test_landing_and_auth_pages_are_accessible(new_tab: Any) -> None:
    tab = new_tab()
    tab.goto("/")
    assert tab.page.get_by_role("heading", level=1).inner_text().startswith("Speak your thoughts.")
    tab.audit("landing", full_page=True)

    tab.page.get_by_role("link", name="Sign in").first.click()
    tab.page.wait_for_url("**/accounts/login/")
    assert tab.page.get_by_label("Email").is_visible()
    tab.audit("login")

    tab.goto("/accounts/signup/")
    tab.audit("signup")

    tab.goto("/accounts/password/reset/")
    tab.audit("password-reset")


def _serve(tab: Any, path: str, response: Any) -> None:
    """Serve a response rendered in-process (DEBUG off, as in production) at `path` on the stack."""
    headers = dict(response.items())
    tab.page.route(
        tab.stack.url + path,
        lambda route: route.fulfill(status=response.status_code, headers=headers, body=response.content),
    )


def test_error_pages_in_product_style(new_tab: Any, client: Any, rf: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    from config import urls

    tab = new_tab()
    # 404 goes through every middleware of the real stack's settings, but with DEBUG off.
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    _serve(tab, "/no-such-page/", response)
    assert tab.goto("/no-such-page/").status == 404
    assert tab.page.get_by_role("heading", level=1).inner_text() == "Not found"
    tab.audit("error-404")

    for status, handler, heading in (
        (403, urls.handler403, "Not allowed"),
        (500, urls.handler500, "Something went wrong"),
    ):
        request = rf.get(f"/error-{status}/")
        request.user = AnonymousUser()
        _serve(tab, f"/error-{status}/", handler(request))
        tab.expect_error(f"/error-{status}/")
        assert tab.goto(f"/error-{status}/").status == status
        assert tab.page.get_by_role("heading", level=1).inner_text() == heading
        tab.audit(f"error-{status}")


def test_bad_sign_in_shows_message_in_place(new_tab: Any) -> None:
    tab = new_tab()
    tab.goto("/accounts/login/")
    tab.page.get_by_label("Email").fill("nobody@example.com")
    tab.page.get_by_label("Password").fill("not-the-password")
    tab.page.get_by_role("button", name="Sign in").click()
    tab.page.wait_for_load_state("load")
    assert "not correct" in tab.page.get_by_role("alert").first.inner_text()
    tab.assert_clean()
