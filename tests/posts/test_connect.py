"""Connecting X and LinkedIn: OAuth 2.0 with PKCE against the loopback fakes."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from mindpost.core import crypto
from mindpost.posts.models import Connection, OAuthState
from tests.posts.conftest import api_for, confirm_link, connect_linkedin, connect_x, follow_callback

pytestmark = pytest.mark.django_db


def test_mobile_flow_connects_and_ends_at_the_deep_link(user, fake_x, x_user) -> None:
    response = api_for(user).post("/api/twitter-connection/connect/", {}, format="json")
    url = response.json()["authorize_url"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(f"{fake_x.base_url}/i/oauth2/authorize?")
    scopes = {"tweet.read", "tweet.write", "users.read", "offline.access", "media.write"}
    assert set(query["scope"][0].split()) == scopes
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"][0].endswith("/settings/connections/x/callback/")

    browser = Client()
    page = follow_callback(fake_x.approve(url), client=browser)
    assert not Connection.objects.exists()  # only the confirmation page's POST links
    landing = confirm_link(page, client=browser)
    assert landing.status_code == 302
    assert landing["Location"].startswith("braindump://settings/complete?status=success&connection_status=success")

    connection = Connection.objects.get(user=user)
    assert connection.username == "ada_l"
    assert connection.external_user_id == x_user.id
    assert connection.char_limit == 280
    assert connection.access_expires_at is not None
    assert connection.access_expires_at > timezone.now() + timedelta(minutes=100)
    # The fake checked the PKCE verifier against the challenge and the client's Basic auth.
    token_call = fake_x.calls("POST", "/2/oauth2/token")[0]
    assert token_call.headers["authorization"].startswith("Basic ")
    assert "code_verifier=" in token_call.body.decode()


def test_tokens_are_encrypted_at_rest(user, fake_x, x_user) -> None:
    connection = connect_x(user, fake_x)
    from django.db import connection as db

    with db.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM posts_connection WHERE id = %s", [connection.pk])
        stored_access, stored_refresh = cursor.fetchone()
    assert connection.access_token not in stored_access
    assert crypto.decrypt(stored_access) == connection.access_token
    assert crypto.decrypt(stored_refresh) == connection.refresh_token


def test_status_keeps_the_reference_fields(user, fake_x, x_user) -> None:
    client = api_for(user)
    assert client.get("/api/twitter-connection/status/").json() == {
        "connected": False,
        "needs_reauth": False,
        "verified": False,
        "char_limit": 280,
    }
    connect_x(user, fake_x)
    body = client.get("/api/twitter-connection/status/").json()
    assert body["connected"] is True
    assert body["twitter_username"] == "ada_l"
    assert body["twitter_name"] == "Ada Lovelace"
    assert body["connected_at"]
    assert body["needs_reauth"] is False
    assert body["char_limit"] == 280
    assert len(client.get("/api/twitter-connection/").json()) == 1


def test_verified_accounts_get_long_posts_unless_the_plan_caps_them(user, fake_x, monkeypatch) -> None:
    fake_x.add_user("blue", name="Blue", verified_type="blue")
    connect_x(user, fake_x)
    client = api_for(user)
    assert client.get("/api/twitter-connection/status/").json()["char_limit"] == 25_000
    from mindpost.billing import metering

    monkeypatch.setattr(metering, "max_post_chars", lambda *, user: 280)
    assert client.get("/api/twitter-connection/status/").json()["char_limit"] == 280


def test_state_is_single_use(user, fake_x, x_user) -> None:
    url = api_for(user).post("/api/twitter-connection/connect/", {}, format="json").json()["authorize_url"]
    callback = fake_x.approve(url)
    assert follow_callback(callback).status_code == 200  # the confirmation page
    replay = follow_callback(callback)
    assert "connection_status=error" in replay["Location"]
    assert "code=invalid_state" in replay["Location"]
    # The replay never reached X's token endpoint again.
    assert len(fake_x.calls("POST", "/2/oauth2/token")) == 1


def test_expired_state_is_refused(user, fake_x, x_user) -> None:
    url = api_for(user).post("/api/twitter-connection/connect/", {}, format="json").json()["authorize_url"]
    OAuthState.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    landing = follow_callback(fake_x.approve(url))
    assert "code=invalid_state" in landing["Location"]
    assert not Connection.objects.exists()


def test_a_forged_state_or_a_tampered_verifier_fails(user, fake_x, x_user) -> None:
    url = api_for(user).post("/api/twitter-connection/connect/", {}, format="json").json()["authorize_url"]
    callback = fake_x.approve(url)
    forged = callback.replace("state=", "state=x")
    assert "code=invalid_state" in follow_callback(forged)["Location"]
    # With the real state but a verifier that doesn't match the challenge, X refuses the code.
    state = OAuthState.objects.get()
    state.code_verifier = "a" * 64
    state.save()
    landing = follow_callback(callback)
    assert "connection_status=error" in landing["Location"]
    assert "code=reauth_required" in landing["Location"]
    assert not Connection.objects.exists()


def test_user_denying_access_is_reported(user, fake_x, x_user) -> None:
    url = api_for(user).post("/api/twitter-connection/connect/", {}, format="json").json()["authorize_url"]
    state = parse_qs(urlsplit(url).query)["state"][0]
    landing = Client().get("/settings/connections/x/callback/", {"state": state, "error": "access_denied"})
    assert "code=access_denied" in landing["Location"]


def test_web_flow_needs_a_session_and_returns_to_settings(user, fake_x, x_user) -> None:
    browser = Client()
    assert browser.post("/settings/connections/x/connect/")["Location"].startswith("/accounts/login/")
    browser.force_login(user)
    # HTMX navigates on HX-Redirect (a 302 after a form POST would break the CSP's form-action).
    start = browser.post("/settings/connections/x/connect/", headers={"HX-Request": "true"})
    assert start.status_code == 204
    assert start["HX-Redirect"].startswith(fake_x.base_url)
    landing = follow_callback(fake_x.approve(start["HX-Redirect"]), client=browser)
    assert landing["Location"].startswith("/settings/?connection_status=success&network=x")
    assert Connection.objects.filter(user=user).exists()


def test_web_callback_in_someone_elses_session_is_refused(user, make_user, fake_x, x_user) -> None:
    browser = Client()
    browser.force_login(user)
    start = browser.post("/settings/connections/x/connect/", headers={"HX-Request": "true"})
    callback = fake_x.approve(start["HX-Redirect"])
    other = Client()
    other.force_login(make_user())
    refused = follow_callback(callback, client=other)
    assert refused.status_code == 403
    assert b"session_mismatch" in refused.content
    assert not Connection.objects.exists()


def test_disconnect_keeps_the_reference_bodies(user, fake_x, x_user, django_capture_on_commit_callbacks) -> None:
    client = api_for(user)
    missing = client.delete("/api/twitter-connection/disconnect/")
    assert missing.status_code == 404
    assert missing.json()["status"] == "not_found"
    assert missing.json()["code"] == "not_connected"

    connection = connect_x(user, fake_x)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.delete("/api/twitter-connection/disconnect/")
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "code": "disconnected",
        "message": "Twitter account disconnected",
    }
    assert not Connection.objects.exists()
    revoked = fake_x.calls("POST", "/2/oauth2/revoke")
    assert len(revoked) == 1
    assert connection.refresh_token in revoked[0].body.decode()


def test_disconnect_is_never_a_get(user, fake_x, x_user) -> None:
    connect_x(user, fake_x)
    assert api_for(user).get("/api/twitter-connection/disconnect/").status_code == 405
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get("/settings/connections/x/disconnect/").status_code == 405
    # A cross-site POST has no CSRF token.
    assert browser.post("/settings/connections/x/disconnect/").status_code == 403
    assert Connection.objects.filter(user=user).exists()
    same_site = Client()
    same_site.force_login(user)
    assert same_site.post("/settings/connections/x/disconnect/").status_code == 302
    assert not Connection.objects.filter(user=user).exists()


def test_connections_are_per_user(user, make_user, fake_x, x_user) -> None:
    other = make_user()
    connect_x(user, fake_x)
    other_client = api_for(other)
    assert other_client.get("/api/twitter-connection/status/").json()["connected"] is False
    assert other_client.get("/api/twitter-connection/").json() == []
    assert other_client.delete("/api/twitter-connection/disconnect/").status_code == 404
    assert other_client.get("/api/connections/x/").json()["connected"] is False
    assert Connection.objects.filter(user=user).exists()


def test_unconfigured_network_says_so(user, settings) -> None:
    settings.X_CLIENT_ID = ""
    response = api_for(user).post("/api/twitter-connection/connect/", {}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "network_not_configured"


def test_connection_endpoints_need_auth_and_known_networks(api, user) -> None:
    assert api.get("/api/twitter-connection/status/").status_code == 401
    assert api.post("/api/twitter-connection/connect/").status_code == 401
    client = api_for(user)
    assert client.get("/api/connections/myspace/").status_code == 404
    assert client.get("/api/connections/myspace/").json()["code"] == "not_found"
    assert Client().get("/settings/connections/myspace/callback/").status_code == 404
    body = client.post("/api/twitter-connection/connect/", {"client": "fax"}, format="json")
    assert body.status_code == 400


def test_linkedin_connects_with_openid_scopes(user, fake_linkedin) -> None:
    sub = fake_linkedin.add_member("Grace Hopper")
    connection = connect_linkedin(user, fake_linkedin)
    assert connection.external_user_id == sub
    assert connection.name == "Grace Hopper"
    assert connection.char_limit == 3000
    token_call = fake_linkedin.calls("POST", "/oauth/v2/accessToken")[0]
    assert "client_secret=li-secret" in token_call.body.decode()
    listing = api_for(user).get("/api/connections/").json()
    by_network = {item["network"]: item for item in listing}
    assert by_network["linkedin"]["connected"] is True
    assert by_network["x"]["connected"] is False
