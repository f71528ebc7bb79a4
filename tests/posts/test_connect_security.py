"""Connecting a network must link the account of the person who approved it to *their* MindPost
account: the login-CSRF / account-linking attack (A starts a flow, sends the authorize link
to a victim, the victim approves at X) must link nothing."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.test import Client
from django.utils import timezone

from mindpost.core import crypto
from mindpost.posts.models import Connection, OAuthState
from tests.posts.conftest import CONFIRMATION_FIELD, api_for, confirm_link, follow_callback

pytestmark = pytest.mark.django_db


def _web_start(browser: Client, network: str = "x") -> str:
    """Press Connect on the settings page (plain form POST); return the network's authorize URL."""
    page = browser.post(f"/settings/connections/{network}/connect/")
    assert page.status_code == 200, page
    match = re.search(r'href="([^"]+)" rel="noreferrer"', page.content.decode())
    assert match
    return html.unescape(match.group(1))


def _signed_in(user: Any) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture
def victim_on_x(fake_x: Any, x_user: Any) -> Any:
    """The X account that approves at X (the victim's, in the attack tests)."""
    victim = fake_x.add_user("victim", name="The Victim")
    fake_x.login_as = victim.id
    return victim


# --- the attack ----------------------------------------------------------------------------------
def test_an_anonymous_browser_cannot_finish_someone_elses_web_flow(user, fake_x, victim_on_x) -> None:
    attacker = _signed_in(user)
    callback = fake_x.approve(_web_start(attacker))  # the victim approved A's link at X

    refused = follow_callback(callback, client=Client())  # the victim's browser: no MindPost session
    assert refused.status_code == 403
    assert b"session_mismatch" in refused.content
    assert b"nothing was linked" in refused.content
    assert not Connection.objects.exists()
    assert fake_x.calls("POST", "/2/oauth2/token") == []  # the victim's code was never traded
    # The state is spent: the attacker can't replay the callback in his own browser either.
    replay = follow_callback(callback, client=attacker)
    assert "code=invalid_state" in replay["Location"]
    assert not Connection.objects.exists()


def test_another_users_session_cannot_finish_the_flow(user, make_user, fake_x, victim_on_x) -> None:
    callback = fake_x.approve(_web_start(_signed_in(user)))
    victim = make_user()
    refused = follow_callback(callback, client=_signed_in(victim))
    assert refused.status_code == 403
    assert b"session_mismatch" in refused.content
    assert not Connection.objects.filter(user__in=[user, victim]).exists()


def test_the_same_user_in_another_browser_cannot_finish_it(user, fake_x, x_user) -> None:
    # Same account, different browser (e.g. a leaked authorize link opened elsewhere).
    callback = fake_x.approve(_web_start(_signed_in(user)))
    refused = follow_callback(callback, client=_signed_in(user))
    assert refused.status_code == 403
    assert not Connection.objects.exists()


# --- the legitimate web flow ---------------------------------------------------------------------
def test_same_user_same_browser_connects(user, fake_x, x_user) -> None:
    browser = _signed_in(user)
    first = fake_x.approve(_web_start(browser))
    second = fake_x.approve(_web_start(browser))  # a second tab: both stay valid
    landing = follow_callback(first, client=browser)
    assert landing.status_code == 302
    assert landing["Location"].startswith("/settings/?connection_status=success&network=x")
    assert Connection.objects.get(user=user).username == "ada_l"
    assert "connection_status=success" in follow_callback(second, client=browser)["Location"]


def test_the_continue_page_moves_on_without_javascript(user, fake_x, x_user) -> None:
    page = _signed_in(user).post("/settings/connections/x/connect/")
    assert b'http-equiv="refresh"' in page.content
    assert fake_x.base_url.encode() in page.content


def test_the_web_connect_start_is_post_only(user, fake_x, x_user) -> None:
    assert Client().get("/settings/connections/x/connect/").status_code == 405
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/settings/connections/x/connect/").status_code == 405
    # A cross-site form POST has no CSRF token.
    assert browser.post("/settings/connections/x/connect/").status_code == 403
    assert not OAuthState.objects.exists()
    # The settings page's Connect button is a CSRF-protected form.
    settings_page = browser.get("/settings/").content.decode()
    assert re.search(r'<form method="post" action="/settings/connections/x/connect/"', settings_page)
    assert 'href="/settings/connections/x/connect/"' not in settings_page


def test_the_api_connect_start_is_post_only(user, fake_x, x_user) -> None:
    assert api_for(user).get("/api/twitter-connection/connect/").status_code == 405
    assert api_for(user).get("/api/connections/x/connect/").status_code == 405


# --- the mobile flow: a confirmation page before linking -----------------------------------------
def _mobile_callback(user: Any, fake_x: Any, browser: Client) -> Any:
    url = api_for(user).post("/api/twitter-connection/connect/", {}, format="json").json()["authorize_url"]
    return follow_callback(fake_x.approve(url), client=browser)


def test_mobile_callback_shows_who_gets_linked_and_links_nothing(user, fake_x, x_user) -> None:
    browser = Client(enforce_csrf_checks=True)
    page = _mobile_callback(user, fake_x, browser)
    body = page.content.decode()
    assert page.status_code == 200
    assert "ada@example.com" in body
    assert "@ada_l" in body
    assert 'value="link"' in body
    assert 'value="cancel"' in body
    assert "no-store" in page["Cache-Control"]
    # The form may end at the app's deep link despite the CSP's form-action 'self'.
    assert "form-action 'self' braindump:" in page["Content-Security-Policy"]
    assert not Connection.objects.exists()
    # No token in the page; held server-side, encrypted.
    issued = list(fake_x.access_tokens) + list(fake_x.refresh_tokens)
    assert issued
    assert not any(token in body for token in issued)
    with db.cursor() as cursor:
        cursor.execute("SELECT pending_tokens FROM posts_oauthstate")
        (stored,) = cursor.fetchone()
    assert not any(token in stored for token in issued)
    assert any(token in crypto.decrypt(stored) for token in issued)

    landing = confirm_link(page, client=browser)
    assert landing.status_code == 302
    assert landing["Location"].startswith("braindump://settings/complete?status=success")
    assert "network=x" in landing["Location"]
    assert Connection.objects.get(user=user).username == "ada_l"
    assert OAuthState.objects.get().pending_tokens == ""


def test_the_confirmation_works_once(user, make_user, fake_x, x_user) -> None:
    browser = Client()
    page = _mobile_callback(user, fake_x, browser)
    assert "connection_status=success" in confirm_link(page, client=browser)["Location"]
    Connection.objects.all().delete()
    # The leaked page replayed, in the same browser or in another user's session.
    replay = confirm_link(page, client=browser)
    assert "connection_status=error" in replay["Location"]
    assert "code=confirmation_used" in replay["Location"]
    assert "code=confirmation_used" in confirm_link(page, client=_signed_in(make_user()))["Location"]
    assert not Connection.objects.exists()


def test_another_browser_cannot_post_the_confirmation(user, fake_x, x_user) -> None:
    browser = Client(enforce_csrf_checks=True)
    page = _mobile_callback(user, fake_x, browser)
    confirmation = CONFIRMATION_FIELD.search(page.content.decode()).group(1)  # type: ignore[union-attr]
    elsewhere = Client(enforce_csrf_checks=True)
    response = elsewhere.post("/settings/connections/x/confirm/", {"confirmation": confirmation, "action": "link"})
    assert response.status_code == 403  # no CSRF cookie/token of the page's browser
    assert not Connection.objects.exists()
    assert "connection_status=success" in confirm_link(page, client=browser)["Location"]


def test_an_expired_confirmation_is_refused(user, fake_x, x_user, django_capture_on_commit_callbacks) -> None:
    browser = Client()
    page = _mobile_callback(user, fake_x, browser)
    OAuthState.objects.update(confirm_expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        landing = confirm_link(page, client=browser)
    assert "connection_status=error" in landing["Location"]
    assert "code=confirmation_expired" in landing["Location"]
    assert not Connection.objects.exists()
    assert OAuthState.objects.get().pending_tokens == ""
    assert len(fake_x.calls("POST", "/2/oauth2/revoke")) == 1  # the unused token is given back


def test_cancel_links_nothing(user, fake_x, x_user, django_capture_on_commit_callbacks) -> None:
    browser = Client()
    page = _mobile_callback(user, fake_x, browser)
    with django_capture_on_commit_callbacks(execute=True):
        landing = confirm_link(page, client=browser, action="cancel")
    assert landing["Location"].startswith("braindump://settings/complete?status=error")
    assert "code=cancelled" in landing["Location"]
    assert not Connection.objects.exists()
    assert len(fake_x.calls("POST", "/2/oauth2/revoke")) == 1
    assert "code=confirmation_used" in confirm_link(page, client=browser)["Location"]


def test_a_made_up_confirmation_is_refused(user, fake_x, x_user) -> None:
    _mobile_callback(user, fake_x, Client())
    response = Client().post("/settings/connections/x/confirm/", {"confirmation": "guess", "action": "link"})
    assert response.status_code == 400
    assert b"invalid_confirmation" in response.content
    assert Client().get("/settings/connections/x/confirm/").status_code == 405
    assert not Connection.objects.exists()


def test_an_api_started_web_client_flow_also_asks_first(user, fake_linkedin) -> None:
    fake_linkedin.add_member("Grace Hopper")
    url = api_for(user).post("/api/connections/linkedin/connect/", {"client": "web"}, format="json")
    browser = Client()
    page = follow_callback(fake_linkedin.approve(url.json()["authorize_url"]), client=browser)
    assert b"Grace Hopper" in page.content
    assert b"ada@example.com" in page.content
    assert not Connection.objects.exists()
    landing = confirm_link(page, client=browser, network="linkedin")
    assert landing["Location"].startswith("/settings/?connection_status=success&network=linkedin")
    assert Connection.objects.filter(user=user, network="linkedin").exists()
