"""Account mail leaves the request (a job sends it), the per-address email limit covers the
"you already have an account" mail, and a wrong password on account deletion counts against
the account's sign-in limit."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from tests.accounts.helpers import run_account_jobs, run_signup_mail_jobs, verification_mail_jobs
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db

RESEND = "/api/auth/verify-email/resend/"


def test_resend_sends_no_mail_in_the_request_and_queues_the_same_job_for_anyone(
    api: APIClient, make_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    make_user("pending@example.com", verified=False)
    make_user("done@example.com", verified=True)
    answers = []
    for email in ("pending@example.com", "done@example.com", "nobody@example.com"):
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(RESEND, {"email": email}, format="json")
        answers.append((response.status_code, response.content))
    # The same answer, and the same work in the request (one job, no mail), whoever asks.
    assert answers[0] == answers[1] == answers[2]
    assert mail.outbox == []
    assert [job.args for job in verification_mail_jobs()] == [
        {"email": "pending@example.com"},
        {"email": "done@example.com"},
        {"email": "nobody@example.com"},
    ]

    assert run_account_jobs() == 3
    assert [message.to for message in mail.outbox] == [["pending@example.com"]]
    assert "/accounts/confirm-email/" in str(mail.outbox[0].body)


def test_already_registered_mail_respects_the_per_address_limit_silently(
    make_user: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.THROTTLE_ACCOUNT_EMAIL = "2/hour"
    make_user("taken@example.com")
    client = APIClient()
    answers = []
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/auth/register/", {"email": "taken@example.com", "password": PASSWORD}, format="json"
            )
        answers.append((response.status_code, response.json()))
    # Every answer is the same 201: the limit is applied by the job, after the response.
    assert answers == [answers[0]] * 5
    assert answers[0][0] == 201

    assert run_signup_mail_jobs() == 5
    assert len(mail.outbox) == 2
    assert all("You already have one" in str(message.body) for message in mail.outbox)


def test_already_registered_mails_share_the_limit_with_reset_mails(
    api: APIClient, make_user: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.THROTTLE_ACCOUNT_EMAIL = "2/hour"
    make_user("taken@example.com")
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            APIClient().post("/api/auth/register/", {"email": "taken@example.com", "password": PASSWORD}, format="json")
    run_signup_mail_jobs()
    assert len(mail.outbox) == 2
    # The address has had its mails for the window: a reset request now says so.
    response = api.post("/api/auth/password-reset/", {"email": "taken@example.com"}, format="json")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"


def test_wrong_passwords_on_account_deletion_count_against_the_sign_in_limit(make_user: Any, settings: Any) -> None:
    settings.THROTTLE_ACCOUNT_SIGNIN = "5/15min"
    victim: User = make_user("victim@example.com")
    stolen = APIClient()
    bearer(stolen, email=victim.email)  # one sign-in: one of the five checks

    codes = [stolen.post("/api/account/delete/", {"password": f"guess-{i}"}, format="json") for i in range(6)]
    assert [response.status_code for response in codes] == [403] * 4 + [429] * 2
    assert codes[0].json()["code"] == "wrong_password"
    refused = codes[-1]
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 900
    assert refused.json()["retry_after"] == int(refused["Retry-After"])

    # Past the limit the password is not even checked: the right one waits too.
    assert stolen.post("/api/account/delete/", {"password": PASSWORD}, format="json").status_code == 429
    assert User.objects.filter(pk=victim.pk).exists()
    # The same counter as sign-in: guessing here used up the sign-in attempts too.
    signin = APIClient().post("/api/token/", {"email": victim.email, "password": PASSWORD}, format="json")
    assert signin.status_code == 429
