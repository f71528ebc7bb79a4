"""Sign-up mail, "resend the email", sign-in copy and the time zone picker, through the web
pages with Django's test client (the browser tests walk the same flows in Chromium)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from mindpost.accounts.models import User
from tests.accounts.helpers import run_verification_mail_jobs
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _sign_up(client: Client, email: str, **extra: str) -> Any:
    data = {"email": email, "password1": PASSWORD, "password2": PASSWORD, **extra}
    return client.post("/accounts/signup/", data, HTTP_HOST="127.0.0.1:8000")


def test_verification_mail_names_the_product_and_links_to_site_url(settings: Any) -> None:
    settings.SITE_URL = "https://mindpost.example"
    response = _sign_up(Client(), "new@example.com")
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "MindPost: Confirm your email address"
    assert "Hello from" not in message.body
    assert "127.0.0.1" not in message.body
    assert message.body.startswith("Hi from MindPost,")
    assert "https://mindpost.example/accounts/confirm-email/" in message.body


def test_confirming_in_the_same_browser_signs_in() -> None:
    client = Client()
    _sign_up(client, "new@example.com")
    link = next(word for word in mail.outbox[0].body.split() if "/accounts/confirm-email/" in word)
    path = link.removeprefix(settings.SITE_URL)
    response = client.post(path)
    assert response.status_code == 302
    assert client.get("/record/").status_code == 200


def test_confirming_in_another_browser_confirms_but_does_not_sign_in() -> None:
    """Only the browser holding the pending sign-up is signed in: a leaked link is no login."""
    from allauth.account.models import EmailAddress

    _sign_up(Client(), "new@example.com")
    link = next(word for word in mail.outbox[0].body.split() if "/accounts/confirm-email/" in word)
    other = Client()
    response = other.post(link.removeprefix(settings.SITE_URL))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert EmailAddress.objects.get(email="new@example.com").verified
    assert other.get("/record/").status_code == 302


def test_sign_in_page_does_not_say_welcome_back() -> None:
    body = Client().get("/accounts/login/").content.decode()
    assert "Welcome back" not in body
    assert "Sign in to MindPost" in body


def test_confirm_page_resends_to_the_pending_address(django_capture_on_commit_callbacks: Any) -> None:
    client = Client()
    _sign_up(client, "new@example.com")
    page = client.get("/accounts/confirm-email/").content.decode()
    assert "Resend the email" in page
    assert "new@example.com" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/signup/resend/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "a new link is on its way" in response.content.decode()
    assert run_verification_mail_jobs() == 1
    assert len(mail.outbox) == 2
    assert f"{settings.SITE_URL}/accounts/confirm-email/" in mail.outbox[1].body


def test_resend_answers_alike_for_unknown_addresses_and_is_limited(
    django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.THROTTLE_ACCOUNT_EMAIL = "2/hour"
    client = Client()
    answers = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/signup/resend/", {"email": "nobody@example.com"}, HTTP_HX_REQUEST="true")
        answers.append((response.status_code, response.content))
    assert answers[0] == answers[1]
    assert answers[0][0] == 200
    assert run_verification_mail_jobs() == 2  # the jobs run and find no account to mail
    assert not mail.outbox
    limited = client.post("/signup/resend/", {"email": "nobody@example.com"}, HTTP_HX_REQUEST="true")
    assert limited.status_code == 429
    assert "Too many emails" in limited.content.decode()


def test_resend_without_an_address_is_a_form_error() -> None:
    response = Client().post("/signup/resend/", {"email": "not-an-address"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "Enter the address you signed up with" in response.content.decode()


def test_sign_up_keeps_the_browsers_time_zone() -> None:
    _sign_up(Client(), "athens@example.com", timezone="Europe/Athens")
    _sign_up(Client(), "mars@example.com", timezone="Mars/Olympus_Mons")
    assert User.objects.get(email="athens@example.com").timezone == "Europe/Athens"
    assert User.objects.get(email="mars@example.com").timezone == "UTC"


def test_settings_picker_saves_a_typed_zone_and_refuses_unknown_ones(web: Any, user: User) -> None:
    page = web.get("/settings/").content.decode()
    assert 'list="timezone-options"' in page
    assert "<select" not in page.split('id="timezone"')[0][-200:]
    response = web.post("/settings/profile/", {"timezone": "america/new york"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.timezone == "America/New_York"
    bad = web.post("/settings/profile/", {"timezone": "Atlantis/Capital"}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400
    assert "Unknown time zone: choose one from the list" in bad.content.decode()
    user.refresh_from_db()
    assert user.timezone == "America/New_York"
