from __future__ import annotations

import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.core import mail
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from tests.accounts.helpers import run_account_jobs, run_signup_mail_jobs, run_verification_mail_jobs
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db


def _link_key(body: str, marker: str) -> str:
    match = re.search(marker + r"([^/\s]+)/", body)
    assert match, body
    return match.group(1)


def test_register_verify_login_refresh_me(api: APIClient, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/auth/register/", {"email": "New@Example.com", "password": PASSWORD}, format="json")
    run_signup_mail_jobs()  # the mail is sent by a job
    assert response.status_code == 201
    assert response.json()["email"] == "new@example.com"
    user = User.objects.get(email="new@example.com")
    assert user.check_password(PASSWORD)

    # Unverified accounts cannot get tokens yet.
    response = api.post("/api/token/", {"email": "new@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "email_not_verified"

    assert len(mail.outbox) == 1
    key = _link_key(str(mail.outbox[0].body), "/accounts/confirm-email/")
    response = api.post("/api/auth/verify-email/", {"key": key}, format="json")
    assert response.status_code == 200, response.content
    assert EmailAddress.objects.get(user=user).verified

    tokens = api.post("/api/token/", {"email": "new@example.com", "password": PASSWORD}, format="json").json()
    assert set(tokens) == {"access", "refresh"}

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    me = api.get("/api/me/").json()
    assert me["email"] == "new@example.com"
    assert me["email_verified"] is True

    assert api.post("/api/token/verify/", {"token": tokens["access"]}, format="json").status_code == 200

    refreshed = api.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access", "refresh"}
    # Rotation retires the old refresh token; presenting it again is reuse (tests/accounts/test_tokens.py).
    again = api.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert again.status_code == 401
    assert again.json()["code"] == "token_reused"


def test_register_rejects_weak_password_and_bad_email(api: APIClient) -> None:
    response = api.post("/api/auth/register/", {"email": "x@example.com", "password": "12345678"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "password_invalid"
    assert body["fields"]["password"]
    assert not User.objects.filter(email="x@example.com").exists()

    response = api.post("/api/auth/register/", {"email": "not-an-email", "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "email" in response.json()["fields"]


def test_register_existing_email_does_not_reveal_account(
    api: APIClient, user: User, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/auth/register/", {"email": user.email.upper(), "password": PASSWORD}, format="json")
    assert response.status_code == 201
    run_signup_mail_jobs()
    assert User.objects.filter(email__iexact=user.email).count() == 1
    assert "You already have one" in mail.outbox[-1].body


def test_token_wrong_password_and_unknown_user(api: APIClient, user: User) -> None:
    response = api.post("/api/token/", {"email": user.email, "password": "wrong-password"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "no_active_account"
    response = api.post("/api/token/", {"email": "nobody@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 401


def test_inactive_user_cannot_sign_in(api: APIClient, make_user) -> None:
    inactive = make_user("gone@example.com", is_active=False)
    response = api.post("/api/token/", {"email": inactive.email, "password": PASSWORD}, format="json")
    assert response.status_code == 401


def test_verify_email_bad_key(api: APIClient) -> None:
    response = api.post("/api/auth/verify-email/", {"key": "nonsense"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_key"


def test_resend_verification(api: APIClient, make_user, django_capture_on_commit_callbacks) -> None:
    make_user("pending@example.com", verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/auth/verify-email/resend/", {"email": "pending@example.com"}, format="json")
    assert response.status_code == 202
    assert run_verification_mail_jobs() == 1
    assert len(mail.outbox) == 1
    assert f"{settings.SITE_URL}/accounts/confirm-email/" in str(mail.outbox[0].body)
    # Unknown addresses get the same answer and no email.
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/auth/verify-email/resend/", {"email": "who@example.com"}, format="json")
    assert response.status_code == 202
    assert run_verification_mail_jobs() == 1  # the job runs, and finds no account to mail
    assert len(mail.outbox) == 1


def test_password_reset_flow_signs_out_everywhere(api: APIClient, user: User) -> None:
    old = api.post("/api/token/", {"email": user.email, "password": PASSWORD}, format="json").json()

    response = api.post("/api/auth/password-reset/", {"email": user.email}, format="json")
    assert response.status_code == 202
    key = _link_key(str(mail.outbox[-1].body), "/accounts/password/reset/key/")

    weak = api.post("/api/auth/password-reset/confirm/", {"key": key, "password": "short"}, format="json")
    assert weak.status_code == 400
    assert weak.json()["code"] == "password_invalid"

    new_password = "Another-long-passphrase-77"
    response = api.post("/api/auth/password-reset/confirm/", {"key": key, "password": new_password}, format="json")
    assert response.status_code == 200, response.content
    user.refresh_from_db()
    assert user.check_password(new_password)

    # The token was single use, and old refresh tokens are dead.
    reused = api.post(
        "/api/auth/password-reset/confirm/", {"key": key, "password": "Third-long-pass-99x"}, format="json"
    )
    assert reused.status_code == 400
    assert reused.json()["code"] == "invalid_key"
    assert api.post("/api/token/refresh/", {"refresh": old["refresh"]}, format="json").status_code == 401


def test_password_reset_unknown_email_same_answer(
    api: APIClient, user: User, django_capture_on_commit_callbacks: Any
) -> None:
    def reset(email: str) -> tuple[int, bytes, list[Any]]:
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("/api/auth/password-reset/", {"email": email}, format="json")
        run_account_jobs()  # in case the mail is sent by a job
        return response.status_code, response.content, list(mail.outbox)

    known_status, known_body, known_mail = reset(user.email)
    unknown_status, unknown_body, unknown_mail = reset("nobody@example.com")

    # The same answer, byte for byte: the API does not tell whether an account exists...
    assert known_status == 202
    assert (unknown_status, unknown_body) == (known_status, known_body)
    assert [message.to for message in known_mail] == [[user.email]]
    # ...and nothing is sent to an address without an account.
    assert unknown_mail == []


@pytest.mark.parametrize("key", ["", "zz-abc", "1-", "nodash", "999999999999999999999999-x"])
def test_password_reset_confirm_bad_keys(api: APIClient, key: str) -> None:
    response = api.post("/api/auth/password-reset/confirm/", {"key": key, "password": PASSWORD}, format="json")
    assert response.status_code == 400
    # An empty key is a field error; any other bad key gets one answer, whatever is wrong with it.
    if key == "":
        assert response.json()["code"] == "invalid"
        assert "key" in response.json()["fields"]
    else:
        assert response.json()["code"] == "invalid_key"


def test_me_patch(api: APIClient, user: User) -> None:
    bearer(api, email=user.email)
    response = api.patch("/api/me/", {"display_name": " Ada ", "timezone": "Europe/Athens"}, format="json")
    assert response.status_code == 200
    assert response.json()["display_name"] == "Ada"
    assert response.json()["timezone"] == "Europe/Athens"
    bad = api.patch("/api/me/", {"timezone": "Mars/Olympus"}, format="json")
    assert bad.status_code == 400
    assert "timezone" in bad.json()["fields"]
    # The email and id are read-only.
    api.patch("/api/me/", {"email": "evil@example.com", "id": "x"}, format="json")
    user.refresh_from_db()
    assert user.email == "ada@example.com"


def test_me_requires_token(api: APIClient) -> None:
    response = api.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    api.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = api.get("/api/me/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_api_rejects_session_cookies(user: User) -> None:
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/me/").status_code == 401
