"""Fixtures for the posts tests: loopback fakes of X, LinkedIn and an OpenAI-compatible
chat server, temporary media storage, notes (tests/factories.py), and a helper that connects an account
through the real OAuth flow."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection as db_connection
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.posts.models import Connection
from tests.factories import NoteFactory
from tests.fakes.linkedin_server import FakeLinkedIn
from tests.fakes.x_server import FakeX, XUser
from tests.posts.chat_fake import ScriptedChat


@pytest.fixture
def media(tmp_path: Any, settings: Any) -> Any:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    return tmp_path


@pytest.fixture
def fake_x(settings: Any, media: Any) -> Iterator[FakeX]:
    fake = FakeX(client_id="x-client", client_secret="x-secret").start()
    settings.X_CLIENT_ID = fake.client_id
    settings.X_CLIENT_SECRET = fake.client_secret
    settings.X_API_BASE_URL = fake.base_url
    settings.X_AUTHORIZE_URL = f"{fake.base_url}/i/oauth2/authorize"
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 2.0
    yield fake
    fake.stop()


@pytest.fixture
def x_user(fake_x: FakeX) -> XUser:
    return fake_x.add_user("ada_l", name="Ada Lovelace")


@pytest.fixture
def fake_linkedin(settings: Any, media: Any) -> Iterator[FakeLinkedIn]:
    fake = FakeLinkedIn().start()
    settings.LINKEDIN_CLIENT_ID = fake.client_id
    settings.LINKEDIN_CLIENT_SECRET = fake.client_secret
    settings.LINKEDIN_API_BASE_URL = fake.base_url
    settings.LINKEDIN_AUTHORIZE_URL = f"{fake.base_url}/oauth/v2/authorization"
    settings.LINKEDIN_TOKEN_URL = f"{fake.base_url}/oauth/v2/accessToken"
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 2.0
    yield fake
    fake.stop()


@pytest.fixture
def chat(settings: Any) -> Iterator[ScriptedChat]:
    """An OpenAI-compatible chat server answering from a script; the AI backend points at it."""
    fake = ScriptedChat().start()
    settings.CHAT_BACKEND = "openai"
    settings.OPENAI_BASE_URL = f"{fake.base_url}/v1"
    settings.OPENAI_API_KEY = "sk-test-posts"
    settings.CHAT_MODEL = "fake-chat"
    settings.AI_TIMEOUT_SECONDS = 10
    settings.AI_MAX_RETRIES = 0  # every scripted reply is consumed exactly once
    from mindpost import ai

    ai.reset_backends()
    yield fake
    fake.stop()
    ai.reset_backends()


def api_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def follow_callback(callback_url: str, *, client: Client | None = None) -> Any:
    """Send the browser back to our callback (the network's redirect)."""
    parts = urlsplit(callback_url)
    return (client or Client()).get(parts.path, parse_qs(parts.query))


CONFIRMATION_FIELD = re.compile(r'name="confirmation" value="([^"]+)"')


def confirm_link(page: Any, *, client: Client, network: str = "x", action: str = "link") -> Any:
    """Press a button of the confirmation page an API-started flow ends on (the same browser)."""
    assert page.status_code == 200, getattr(page, "headers", page)
    match = CONFIRMATION_FIELD.search(page.content.decode())
    assert match, "no confirmation form on the page"
    data = {"confirmation": match.group(1), "action": action}
    token = client.cookies.get("csrftoken")
    if token is not None:
        data["csrfmiddlewaretoken"] = token.value
    return client.post(f"/settings/connections/{network}/confirm/", data)


def connect_x(user: User, fake: FakeX, *, login_as: str | None = None) -> Connection:
    """The mobile flow end to end: our connect endpoint, X's consent, our callback, the confirmation page."""
    if login_as:
        fake.login_as = login_as
    response = api_for(user).post("/api/twitter-connection/connect/", {}, format="json")
    assert response.status_code == 200, response.content
    browser = Client()
    page = follow_callback(fake.approve(response.json()["authorize_url"]), client=browser)
    landing = confirm_link(page, client=browser)
    assert landing.status_code == 302
    assert "connection_status=success" in landing["Location"], landing["Location"]
    return Connection.objects.get(user=user, network="x")


def connect_linkedin(user: User, fake: FakeLinkedIn) -> Connection:
    response = api_for(user).post("/api/connections/linkedin/connect/", {"client": "web"}, format="json")
    assert response.status_code == 200, response.content
    browser = Client()
    page = follow_callback(fake.approve(response.json()["authorize_url"]), client=browser)
    landing = confirm_link(page, client=browser, network="linkedin")
    assert "connection_status=success" in landing["Location"], landing["Location"]
    return Connection.objects.get(user=user, network="linkedin")


@pytest.fixture
def make_note(db: None) -> Callable[..., Any]:
    """`make_note(user, text=..., **fields)`: a ready text note row (tests/factories.py NoteFactory)."""

    def make(user: User, text: str = "I walked to the harbour in Nafplio and met Stavros.", **extra: Any) -> Any:
        return NoteFactory.create(user=user, text=text, **extra)

    return make


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (16, 12), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "image/png") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content, content_type=content_type)


def variants_json(*texts: str, topics: list[str] | None = None) -> str:
    return json.dumps({"posts": [{"post_text": text, "topics": topics or ["harbour"]} for text in texts]})


def close_db() -> None:
    db_connection.close()
