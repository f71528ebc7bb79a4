from __future__ import annotations

# First: the session's secrets into the environment, then Django (tests/session_env.py).
import tests.session_env  # noqa: F401

# isort: split
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.ai import embed
from mindpost.billing.models import Plan
from mindpost.core import throttling
from mindpost.notes.models import Note
from tests.factories import PASSWORD, UserFactory, indexed_note, seed_plans

ROOT = Path(__file__).resolve().parents[1]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    # The suite runs in random order (pytest-randomly); -q hides the header that names the seed,
    # so say it at the end, where a failure is read: rerun with the same order to reproduce it.
    seed = getattr(config.option, "randomly_seed", None)
    if config.pluginmanager.hasplugin("randomly") and isinstance(seed, int):
        terminalreporter.write_line(f"random order: rerun with -p randomly --randomly-seed={seed}")


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
    # Query vectors are cached per process by (model, text): a test must not get the vector an
    # earlier test computed instead of calling its (fake, failing) embedder.
    embed.query_cache.clear()
    # Hashing is deliberately slow in production; tests sign in hundreds of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Thin wrappers over tests/factories.py, kept because hundreds of tests use these names.
@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(email: str | None = None, **kwargs: Any) -> User:
        return UserFactory.create(**({"email": email} if email else {}), **kwargs)

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


@pytest.fixture
def plans(db: None) -> dict[str, Plan]:
    """The seeded billing plans by code (transactional tests flush the seed migration's rows)."""
    return seed_plans()


@pytest.fixture
def note_factory(db: None) -> Callable[..., Note]:
    """`note_factory(user, text, created_at=None)`: a ready note indexed through the notes services."""
    return indexed_note


def start_llmserver(*, log: Path, preset: str = "smollm2", context: int = 2048) -> tuple[str, subprocess.Popen[bytes]]:
    """`manage.py llmserver` on a free loopback port, once healthy: (its /v1 URL, the process)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "llmserver", "--preset", preset, "--port", str(port), "--context", str(context)],
        cwd=ROOT,
        env={**os.environ, "LLM_PRESET": preset},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),  # a file, not a pipe nobody reads: a full pipe would block the server
    )
    url = f"http://127.0.0.1:{port}"
    # Generous: the model loads while other tests keep both cores busy.
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"llmserver exited with {process.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            if response.status == 200:
                return f"{url}/v1", process
        if time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise RuntimeError(f"llmserver did not become healthy: {log.read_text()[-2000:]}")
        time.sleep(0.25)


@pytest.fixture(scope="session")
def smollm2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real SmolLM2-135M server (xllamacpp) for every test that needs the real small model."""
    url, process = start_llmserver(log=tmp_path_factory.mktemp("llmserver") / "stderr.log")
    try:
        yield url
    finally:
        process.kill()
        process.wait()


def bearer(client: APIClient, *, email: str, password: str = PASSWORD) -> str:
    response = client.post("/api/token/", {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    access: str = response.json()["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return access


# The OpenAI-compatible fake on 127.0.0.1 (tests/fakes/openai_server.py documents it):
# `openai_fake` (the server) and `openai_backends` (every AI backend pointed at it).
# Search and chat (tests/chat/helpers.py): `local_embedder` (real multilingual-e5) and `chat_fake`
# (the chat model is the fake above).
from tests.chat.helpers import chat_fake, local_embedder  # noqa: E402, F401
from tests.fakes.openai_server import openai_backends, openai_fake  # noqa: E402, F401


@pytest.fixture
def live_server_url() -> Iterator[str]:
    """The ASGI app (config.asgi, middleware included) under uvicorn in a thread, on a port the OS picks."""
    import asyncio
    import threading

    import uvicorn
    from django.db import connections

    from config.asgi import application

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", lifespan="off"))

    def serve() -> None:
        asyncio.run(server.serve(sockets=[sock]))
        connections.close_all()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def web(user: User) -> Any:
    """The web app's test client, signed in as `user` (a session, as a browser has)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client
