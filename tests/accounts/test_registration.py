"""Registration answers alike, and does the same work, whether or not the email has an account."""

from __future__ import annotations

from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from tests.accounts.helpers import run_signup_mail_jobs, signup_mail_jobs
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

URL = "/api/auth/register/"


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password hash computed (the test hasher is MD5, see tests/conftest.py)."""
    calls: list[str] = []
    encode = MD5PasswordHasher.encode

    def counting(self: MD5PasswordHasher, password: str, salt: str) -> str:
        calls.append(password)
        return encode(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting)
    return calls


def register(email: str, capture: Any) -> Any:
    with capture(execute=True):
        return APIClient().post(URL, {"email": email, "password": PASSWORD}, format="json")


def test_new_and_existing_email_do_the_same_work_and_answer_alike(
    make_user: Any, hash_calls: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    make_user("taken@example.com")
    hash_calls.clear()

    taken = register("Taken@Example.com", django_capture_on_commit_callbacks)
    taken_hashes, taken_jobs = len(hash_calls), len(signup_mail_jobs())
    hash_calls.clear()
    fresh = register("Fresh@Example.com", django_capture_on_commit_callbacks)
    fresh_hashes, fresh_jobs = len(hash_calls), len(signup_mail_jobs()) - taken_jobs

    assert taken.status_code == fresh.status_code == 201
    assert taken.json() == {**fresh.json(), "email": "taken@example.com"}
    assert fresh.json()["email"] == "fresh@example.com"
    assert set(taken.headers) == set(fresh.headers)
    # One hash each (the password of a taken address is hashed and thrown away), one mail job each.
    assert taken_hashes == fresh_hashes == 1
    assert taken_jobs == fresh_jobs == 1
    # Neither request sent mail itself: the job does, after the response.
    assert mail.outbox == []

    assert User.objects.filter(email="taken@example.com").count() == 1
    fresh_user = User.objects.get(email="fresh@example.com")
    assert fresh_user.check_password(PASSWORD)
    assert fresh_user.token_version == 0

    assert run_signup_mail_jobs() == 2
    by_recipient = {message.to[0]: str(message.body) for message in mail.outbox}
    assert "You already have one" in by_recipient["taken@example.com"]
    assert f"{settings.SITE_URL}/accounts/confirm-email/" in by_recipient["fresh@example.com"]


def test_a_refused_registration_queues_no_mail(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(URL, {"email": "weak@example.com", "password": "12345678"}, format="json")
    assert response.status_code == 400
    assert signup_mail_jobs() == []


def test_the_verification_job_skips_an_address_verified_meanwhile(
    make_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    register("late@example.com", django_capture_on_commit_callbacks)
    EmailAddress.objects.filter(email="late@example.com").update(verified=True)
    assert run_signup_mail_jobs() == 1
    assert mail.outbox == []
