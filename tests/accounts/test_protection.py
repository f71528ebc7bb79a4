from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from mindpost.accounts.models import User
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db


def test_auth_endpoints_have_a_tight_throttle(api: APIClient) -> None:
    codes = [api.post("/api/token/verify/", {"token": "x"}, format="json").status_code for _ in range(11)]
    assert codes[:10] == [401] * 10
    assert codes[10] == 429
    body = api.post("/api/token/verify/", {"token": "x"}, format="json").json()
    assert body["code"] == "throttled"
    assert body["retry_after"] > 0


def test_anonymous_throttle(api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/min"})
    codes = [api.post("/api/auth/password-reset/", {"email": "a@example.com"}).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]


def test_user_throttle(api: APIClient, user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    bearer(api, email=user.email)
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/min"})
    codes = [api.get("/api/me/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_throttle_counts_are_shared_through_the_database_cache(api: APIClient) -> None:
    # Two different clients (think: two web processes) draw from one budget per IP.
    other = APIClient()
    for _ in range(5):
        api.post("/api/token/verify/", {"token": "x"}, format="json")
        other.post("/api/token/verify/", {"token": "x"}, format="json")
    assert api.post("/api/token/verify/", {"token": "x"}, format="json").status_code == 429


def test_api_login_lockout(api: APIClient, user: User) -> None:
    for _ in range(4):
        response = api.post("/api/token/", {"email": user.email, "password": "wrong-one"}, format="json")
        assert response.status_code == 401
    # The fifth failure locks the email + IP pair.
    response = api.post("/api/token/", {"email": user.email, "password": "wrong-one"}, format="json")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    # Even the right password is refused while locked out.
    response = api.post("/api/token/", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"
    # Another account from the same IP is not affected.
    other = User.objects.create_user(email="other@example.com", password=PASSWORD)
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=other, email=other.email, verified=True, primary=True)
    assert api.post("/api/token/", {"email": other.email, "password": PASSWORD}, format="json").status_code == 200


def test_web_login_lockout(user: User) -> None:
    client = Client()
    for _ in range(4):
        assert client.post("/accounts/login/", {"login": user.email, "password": "wrong"}).status_code == 200
    assert client.post("/accounts/login/", {"login": user.email, "password": "wrong"}).status_code == 429
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert b"Too many" in response.content


def test_web_login_follows_only_same_site_next(user: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD, "next": "/api/docs/"})
    assert response.status_code == 302
    assert response["Location"] == "/api/docs/"
    client.post("/accounts/logout/")

    response = client.post(
        "/accounts/login/", {"login": user.email, "password": PASSWORD, "next": "https://evil.example/steal"}
    )
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]

    client.post("/accounts/logout/")
    response = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD, "next": "//evil.example/"})
    assert "evil.example" not in response["Location"]


def test_logout_is_post_only(user: User) -> None:
    client = Client()
    client.force_login(user)
    client.get("/accounts/logout/")
    assert "_auth_user_id" in client.session  # GET shows a confirmation page, it does not sign out
    client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session


def test_web_signup_sends_verification(db: None) -> None:
    from django.core import mail

    client = Client()
    response = client.post(
        "/accounts/signup/", {"email": "web@example.com", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert User.objects.filter(email="web@example.com").exists()
    assert "/accounts/confirm-email/" in mail.outbox[-1].body


def test_security_headers_and_csp(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
