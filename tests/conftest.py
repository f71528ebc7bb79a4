from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core.cache import cache
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.core import throttling

PASSWORD = "a-Long-and-unusual-passphrase-42"


@pytest.fixture(autouse=True)
def _clean_state(db: None, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rate-limit counters live in PostgreSQL (mindpost.core.throttling), allauth's own limits in
    # the database cache: start each test from zero.
    throttling.clear()
    # Their windows are fixed (10/min resets on the minute): stop the clock so that no test
    # straddles a window boundary by chance. Tests of the windows move it themselves.
    frozen = time.time()
    monkeypatch.setattr(throttling, "_clock", lambda: frozen)
    cache.clear()
    # Hashing is deliberately slow in production; tests sign in hundreds of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    counter = iter(range(1, 10_000))

    def make(email: str | None = None, *, verified: bool = True, password: str = PASSWORD, **extra: Any) -> User:
        email = email or f"person{next(counter)}@example.com"
        user = User.objects.create_user(email=email, password=password, **extra)
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=verified)
        return user

    return make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user("ada@example.com")


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def auth_api(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def bearer(client: APIClient, *, email: str, password: str = PASSWORD) -> str:
    response = client.post("/api/token/", {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    access: str = response.json()["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return access


# The OpenAI-compatible fake on 127.0.0.1 (tests/fakes/openai_server.py documents it):
# `openai_fake` (the server) and `openai_backends` (every AI backend pointed at it).
# Search and chat (tests/chat/helpers.py): `note_factory` (text notes through the notes services),
# `local_embedder` (real multilingual-e5) and `chat_fake` (the chat model is the fake above).
from tests.chat.helpers import chat_fake, local_embedder, note_factory  # noqa: E402, F401
from tests.fakes.openai_server import openai_backends, openai_fake  # noqa: E402, F401
