"""Sign-in and email limits that a spoofed X-Forwarded-For or a change of address cannot dodge."""

from __future__ import annotations

from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from mindpost.accounts import services
from mindpost.accounts.models import User
from mindpost.core import throttling
from mindpost.core.models import ThrottleCounter
from tests.accounts.helpers import run_account_jobs
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/token/"


def _signin(api: APIClient, email: str, password: str, **extra: Any) -> Any:
    return api.post(TOKEN, {"email": email, "password": password}, format="json", **extra)


def test_spoofed_forwarded_for_does_not_dodge_throttle_or_lockout(api: APIClient, user: User) -> None:
    # PROXY_COUNT=0 (the default): the header is the client's own words and is ignored.
    responses = [_signin(api, user.email, "wrong", HTTP_X_FORWARDED_FOR=f"10.9.{i}.1") for i in range(40)]
    codes = [r.status_code for r in responses]
    assert codes[:4] == [401] * 4
    assert codes[4:] == [429] * 36  # locked (axes, 5th failure), then also throttled
    assert {r.json()["code"] for r in responses[4:]} <= {"locked_out", "throttled"}
    assert all(int(r["Retry-After"]) > 0 for r in responses[4:])
    # The locked-out account stays locked whatever the header says.
    response = _signin(api, user.email, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert response.status_code == 429


def test_locked_account_with_a_forwarded_for_header_is_still_refused(user: User) -> None:
    api = APIClient()
    for _ in range(5):
        _signin(api, user.email, "wrong")
    assert AccessAttempt.objects.filter(username=user.email, ip_address="127.0.0.1").exists()
    response = _signin(APIClient(), user.email, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert response.status_code == 429
    assert response.json()["code"] == "locked_out"


def test_per_account_limit_holds_across_client_addresses(api: APIClient, user: User, settings: Any) -> None:
    settings.THROTTLE_ACCOUNT_SIGNIN = "10/15min"
    # A botnet: every attempt from a new address, so neither axes (email + address) nor the
    # per-address `auth` rate ever triggers; the per-account counter does.
    responses = [_signin(api, user.email, "wrong", REMOTE_ADDR=f"10.1.{i}.7") for i in range(40)]
    codes = [r.status_code for r in responses]
    assert codes == [401] * 10 + [429] * 30
    body = responses[-1].json()
    assert body["code"] == "throttled"
    assert 0 < body["retry_after"] <= 900
    assert responses[-1]["Retry-After"] == str(body["retry_after"])
    # Even the right password, from yet another address, waits for the window.
    assert _signin(api, user.email, PASSWORD, REMOTE_ADDR="10.200.0.1").status_code == 429
    # Other accounts are not affected.
    assert _signin(api, "someone-else@example.com", "wrong", REMOTE_ADDR="10.200.0.2").status_code == 401


def test_per_account_limit_on_the_web_login(user: User, settings: Any) -> None:
    settings.THROTTLE_ACCOUNT_SIGNIN = "3/15min"
    codes = []
    for i in range(5):
        client = Client(REMOTE_ADDR=f"10.2.{i}.7")
        codes.append(client.post("/accounts/login/", {"login": user.email.upper(), "password": "wrong"}).status_code)
    assert codes == [200, 200, 200, 429, 429]
    response = Client(REMOTE_ADDR="10.2.99.7").post("/accounts/login/", {"login": user.email, "password": PASSWORD})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert b"Too many" in response.content


@pytest.mark.parametrize("path", ["/api/auth/password-reset/", "/api/auth/verify-email/resend/"])
def test_email_requests_are_limited_per_address(
    api: APIClient, make_user: Any, path: str, django_capture_on_commit_callbacks: Any
) -> None:
    make_user("reset-me@example.com", verified=path.endswith("password-reset/"))
    mail.outbox.clear()

    def burst(email: str) -> list[int]:
        with django_capture_on_commit_callbacks(execute=True):
            codes = [
                api.post(
                    path, {"email": email}, REMOTE_ADDR=f"10.3.{i}.1", HTTP_X_FORWARDED_FOR=f"1.1.{i}.1"
                ).status_code
                for i in range(30)
            ]
        run_account_jobs()  # verification links are mailed by a job
        return codes

    existing = burst("Reset-Me@example.com")
    assert len(mail.outbox) <= 3
    assert {m.to[0].lower() for m in mail.outbox} == {"reset-me@example.com"}
    # An address without an account gets exactly the same answers: nothing to enumerate.
    assert burst("nobody-here@example.com") == existing == [202] * 3 + [429] * 27
    response = api.post(path, {"email": "reset-me@example.com"}, REMOTE_ADDR="10.99.0.1")
    assert response.json()["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 3600


def test_one_proxy_right_most_entry_is_the_client(api: APIClient, settings: Any) -> None:
    settings.PROXY_COUNT = 1
    # Behind one proxy (10.0.0.2): spoofed entries on the left change nothing; 10/min per client.
    codes = [
        api.post(
            "/api/token/verify/",
            {"token": "x"},
            format="json",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"6.6.{i}.6, 203.0.113.7",
        ).status_code
        for i in range(11)
    ]
    assert codes == [401] * 10 + [429]
    # A different real client behind the same proxy has its own budget.
    other = api.post(
        "/api/token/verify/", {"token": "x"}, format="json", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.8"
    )
    assert other.status_code == 401
    assert ThrottleCounter.objects.filter(key="auth|ip:203.0.113.7").exists()
    assert not ThrottleCounter.objects.filter(key__contains="6.6.").exists()


def test_one_proxy_lockout_uses_the_real_client(api: APIClient, user: User, settings: Any) -> None:
    settings.PROXY_COUNT = 1
    for i in range(5):
        _signin(api, user.email, "wrong", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"7.7.{i}.7, 203.0.113.20")
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.20"}
    response = _signin(api, user.email, PASSWORD, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.20")
    assert response.json()["code"] == "locked_out"


def test_account_deletion_forgets_signins_and_counters(api: APIClient, make_user: Any, settings: Any) -> None:
    settings.AXES_ENABLE_ACCESS_FAILURE_LOG = True
    doomed = make_user("doomed@example.com")
    keeper = make_user("keeper@example.com")
    for person in (doomed, keeper):
        # A web sign-in writes an AccessLog row; the failure an AccessAttempt and an AccessFailureLog.
        assert Client().post("/accounts/login/", {"login": person.email, "password": PASSWORD}).status_code == 302
        _signin(api, person.email, "wrong")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {_signin(api, doomed.email, PASSWORD).json()['access']}")
    assert api.get("/api/me/").status_code == 200  # a `user|u:<id>` counter
    api.post("/api/auth/password-reset/", {"email": "Doomed@example.com"})
    assert AccessFailureLog.objects.filter(username="doomed@example.com").exists()
    assert AccessAttempt.objects.filter(username="doomed@example.com").exists()
    assert AccessLog.objects.filter(username="doomed@example.com").exists()
    doomed_keys = [
        throttling.key_for("user", throttling.user_subject(doomed.pk)),
        throttling.key_for("signin", throttling.email_subject(doomed.email)),
        throttling.key_for("account_email", throttling.email_subject(doomed.email)),
    ]
    assert ThrottleCounter.objects.filter(key__in=doomed_keys).count() == 3

    services.account_delete(user=doomed)

    for model in (AccessAttempt, AccessLog, AccessFailureLog):
        assert not model.objects.filter(username__iexact="doomed@example.com").exists()
    assert not ThrottleCounter.objects.filter(key__in=doomed_keys).exists()
    # Someone else's record stays.
    assert AccessLog.objects.filter(username="keeper@example.com").exists()
    assert ThrottleCounter.objects.filter(
        key=throttling.key_for("signin", throttling.email_subject(keeper.email))
    ).exists()
