"""Token revocation: the token version (password changes, sign out everywhere) and refresh token families."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework_simplejwt.tokens import RefreshToken

from mindpost.accounts import api as accounts_api
from mindpost.accounts import services
from mindpost.accounts.authentication import RevocableJWTAuthentication
from mindpost.accounts.models import TokenFamily, User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Another-long-passphrase-77"


def sign_in(client: APIClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/token/", {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    tokens: dict[str, str] = response.json()
    return tokens


def me_status(access: str) -> tuple[int, str | None]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = client.get("/api/me/")
    return response.status_code, response.json().get("code")


def refresh(client: APIClient, token: str) -> Any:
    return client.post("/api/token/refresh/", {"refresh": token}, format="json")


def link_path(body: str, marker: str) -> str:
    match = re.search(r"https?://[^/\s]+(" + re.escape(marker) + r"[^\s]+/)", body)
    assert match, body
    return match.group(1)


# --- the token version ----------------------------------------------------------------------------


def test_api_password_reset_revokes_access_and_refresh_tokens(api: APIClient, user: User) -> None:
    old = sign_in(api, user.email)
    assert me_status(old["access"]) == (200, None)

    api.post("/api/auth/password-reset/", {"email": user.email}, format="json")
    key = link_path(str(mail.outbox[-1].body), "/accounts/password/reset/key/").split("/")[-2]
    response = api.post("/api/auth/password-reset/confirm/", {"key": key, "password": NEW_PASSWORD}, format="json")
    assert response.status_code == 200, response.content

    # Right away, not after the access token's 60 minutes.
    assert me_status(old["access"]) == (401, "token_not_valid")
    assert api.post("/api/token/verify/", {"token": old["access"]}, format="json").status_code == 401
    assert refresh(api, old["refresh"]).status_code == 401

    new = sign_in(api, user.email, NEW_PASSWORD)
    assert me_status(new["access"]) == (200, None)
    assert api.post("/api/token/verify/", {"token": new["access"]}, format="json").status_code == 200


def test_web_password_reset_flow_revokes_tokens_and_other_sessions(api: APIClient, user: User) -> None:
    old = sign_in(api, user.email)
    other_browser = Client()
    other_browser.force_login(user)

    browser = Client()
    assert browser.post("/accounts/password/reset/", {"email": user.email}).status_code == 302
    start = browser.get(link_path(str(mail.outbox[-1].body), "/accounts/password/reset/key/"))
    assert start.status_code == 302  # allauth moves the key into the session
    done = browser.post(start["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302, done.content
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)

    assert me_status(old["access"]) == (401, "token_not_valid")
    assert refresh(api, old["refresh"]).status_code == 401
    # Django ties sessions to the password hash: the other browser is signed out too.
    assert other_browser.get("/notes/").status_code == 302  # to the sign-in page
    assert me_status(sign_in(api, user.email, NEW_PASSWORD)["access"]) == (200, None)


def test_web_password_change_revokes_tokens_but_keeps_this_session(api: APIClient, user: User) -> None:
    old = sign_in(api, user.email)
    browser, other_browser = Client(), Client()
    browser.force_login(user)
    other_browser.force_login(user)

    response = browser.post(
        "/accounts/password/change/", {"oldpassword": PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302, response.content

    assert me_status(old["access"]) == (401, "token_not_valid")
    assert refresh(api, old["refresh"]).status_code == 401
    assert browser.get("/notes/").status_code == 200
    assert other_browser.get("/notes/").status_code == 302  # to the sign-in page


def test_version_bump_revokes_every_token_and_a_new_sign_in_works(api: APIClient, user: User) -> None:
    phone, laptop = sign_in(api, user.email), sign_in(api, user.email)
    version = user.token_version

    services.tokens_blacklist_all(user=user)  # "sign out everywhere"; account deletion calls it too
    user.refresh_from_db()
    assert user.token_version == version + 1

    for tokens in (phone, laptop):
        assert me_status(tokens["access"]) == (401, "token_not_valid")
        assert refresh(api, tokens["refresh"]).status_code == 401
    assert me_status(sign_in(api, user.email)["access"]) == (200, None)


def test_saving_other_fields_or_rehashing_on_sign_in_keeps_tokens(
    api: APIClient, user: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = sign_in(api, user.email)
    user.display_name = "Ada"
    user.save()
    assert me_status(tokens["access"]) == (200, None)

    # A hash from an older hasher is upgraded on sign-in: a re-hash, not a password change.
    monkeypatch.setattr(PBKDF2PasswordHasher, "iterations", 1)
    settings.PASSWORD_HASHERS = [*settings.PASSWORD_HASHERS, "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    User.objects.filter(pk=user.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    tokens = sign_in(api, user.email)
    user.refresh_from_db()
    assert user.password.startswith("md5$")  # re-hashed with the preferred (test) hasher
    assert me_status(tokens["access"]) == (200, None)


def test_tokens_without_revocation_claims_are_refused(api: APIClient, user: User) -> None:
    legacy = RefreshToken.for_user(user)  # what the server issued before this change
    assert me_status(str(legacy.access_token)) == (401, "token_not_valid")
    assert refresh(api, str(legacy)).status_code == 401


# --- refresh token families -----------------------------------------------------------------------


def test_reusing_a_rotated_refresh_token_revokes_only_its_family(api: APIClient, user: User) -> None:
    first = sign_in(api, user.email)
    elsewhere = sign_in(api, user.email)  # another device: another family

    rotated = refresh(api, first["refresh"])
    assert rotated.status_code == 200
    assert set(rotated.json()) == {"access", "refresh"}
    second = rotated.json()
    assert me_status(second["access"]) == (200, None)

    reused = refresh(api, first["refresh"])
    assert reused.status_code == 401
    assert reused.json()["code"] == "token_reused"
    # The whole family is dead, the newest tokens included...
    assert refresh(api, second["refresh"]).status_code == 401
    assert me_status(second["access"]) == (401, "token_not_valid")
    assert api.post("/api/token/verify/", {"token": second["access"]}, format="json").status_code == 401
    # ...while the other device stays signed in.
    assert me_status(elsewhere["access"]) == (200, None)
    assert refresh(api, elsewhere["refresh"]).status_code == 200
    assert TokenFamily.objects.filter(user=user, revoked_reason="reused").count() == 1


def test_refresh_of_a_deleted_account_is_401(api: APIClient, make_user: Callable[..., User]) -> None:
    doomed = make_user("doomed@example.com")
    tokens = sign_in(api, doomed.email)
    doomed.delete()
    response = refresh(api, tokens["refresh"])
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def _post_json(url: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_parallel_refreshes_of_one_token_over_http_have_exactly_one_winner(
    live_server: Any, make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tight per-IP `auth` rate would answer 429 to most of the burst: this test is about rotation.
    monkeypatch.setattr(accounts_api.TokenRefresh, "throttle_classes", [])
    user = make_user("racer@example.com")
    status, tokens = _post_json(f"{live_server.url}/api/token/", {"email": user.email, "password": PASSWORD})
    assert status == 200, tokens

    attempts = 20
    barrier = threading.Barrier(attempts)

    def attempt(_: int) -> tuple[int, dict[str, Any]]:
        barrier.wait(timeout=30)
        return _post_json(f"{live_server.url}/api/token/refresh/", {"refresh": tokens["refresh"]})

    with ThreadPoolExecutor(max_workers=attempts) as pool:
        results = list(pool.map(attempt, range(attempts)))

    winners = [body for status, body in results if status == 200]
    assert len(winners) == 1, results
    assert all(status == 401 for status, _ in results if status != 200), results
    (winner,) = winners

    status, body = _post_json(f"{live_server.url}/api/token/refresh/", {"refresh": tokens["refresh"]})
    assert (status, body["code"]) == (401, "token_reused")
    # Reuse revoked the family: the winner's new refresh token is dead too.
    status, body = _post_json(f"{live_server.url}/api/token/refresh/", {"refresh": winner["refresh"]})
    assert status == 401
    assert me_status(winner["access"])[0] == 401


def test_the_revocation_checks_cost_no_extra_query(user: User, django_assert_num_queries: Any) -> None:
    access = sign_in(APIClient(), user.email)["access"]
    request = APIRequestFactory().get("/api/me/", HTTP_AUTHORIZATION=f"Bearer {access}")
    with django_assert_num_queries(1):  # the user lookup SimpleJWT makes anyway
        authenticated, _ = RevocableJWTAuthentication().authenticate(request)  # type: ignore[misc]
    assert authenticated == user


def test_expired_families_are_purged(user: User, settings: Any) -> None:
    old, recent = sign_in(APIClient(), user.email), sign_in(APIClient(), user.email)
    long_ago = timezone.now() - timedelta(days=365)
    recent_jti = RefreshToken(recent["refresh"])["jti"]  # type: ignore[arg-type]
    TokenFamily.objects.exclude(current_jti=recent_jti).update(created_at=long_ago)
    assert services.token_families_purge() == 1
    assert refresh(APIClient(), old["refresh"]).status_code == 401
    assert refresh(APIClient(), recent["refresh"]).status_code == 200
