"""The ASGI body-size guard in front of Django (config/asgi.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mindpost.notes.asgi import MULTIPART_SLACK, BodySizeLimit


async def echo_app(scope: Any, receive: Any, send: Any) -> None:
    """Reads the whole body like Django's ASGI handler does, then answers its length."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def call(chunks: list[bytes], *, content_length: int | None, path: str = "/api/brain-dumps/") -> tuple[int, bytes, int]:
    headers = [(b"content-length", str(content_length).encode())] if content_length is not None else []
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    pending = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1} for i, chunk in enumerate(chunks)
    ]
    received = {"n": 0}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        received["n"] += 1
        return pending.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(BodySizeLimit(echo_app)(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, received["n"]


@pytest.fixture
def limit(settings: Any) -> int:
    settings.NOTE_MAX_UPLOAD_BYTES = 1000
    return 1000 + MULTIPART_SLACK


def test_small_bodies_pass(limit: int) -> None:
    assert call([b"x" * 100], content_length=100)[:2] == (200, b"100")
    assert call([b"x" * 100, b"y" * 100], content_length=None)[:2] == (200, b"200")


def test_declared_oversize_is_refused_without_reading(limit: int) -> None:
    status, body, reads = call([b"x" * 10], content_length=limit + 1)
    assert status == 413
    assert reads == 0
    assert json.loads(body)["code"] == "file_too_large"
    assert json.loads(body)["max_bytes"] == 1000


def test_undeclared_oversize_stops_at_the_limit(limit: int) -> None:
    chunk = b"x" * 16_384
    status, body, reads = call([chunk] * 100, content_length=None)
    assert status == 413
    assert reads <= limit // len(chunk) + 2  # stopped soon after the limit, not after 1.6 MB
    assert json.loads(body)["code"] == "file_too_large"


def test_the_served_application_is_guarded() -> None:
    from config.asgi import application

    assert isinstance(application, BodySizeLimit)


def test_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(BodySizeLimit(app)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def test_django_stops_reading_an_undeclared_oversize_body(limit: int) -> None:
    from config.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/brain-dumps/",
        "raw_path": b"/api/brain-dumps/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"multipart/form-data; boundary=x")],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    chunk = b"x" * 16_384
    reads = {"n": 0}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        reads["n"] += 1
        return {"type": "http.request", "body": chunk, "more_body": reads["n"] < 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(application(scope, receive, send))
    assert sent[0]["status"] == 413
    assert reads["n"] < 20


@pytest.mark.parametrize("path", ["/api/imports/", "/import/"])
def test_bulk_import_paths_take_import_max_bytes(limit: int, settings: Any, path: str) -> None:
    settings.IMPORT_MAX_BYTES = 200_000
    size = limit + 10  # over the upload limit, under the import limit
    assert call([b"x" * size], content_length=size, path=path)[:2] == (200, str(size).encode())
    assert call([b"x" * size], content_length=size)[0] == 413  # any other path keeps the upload limit
    assert call([b"x" * 10], content_length=200_000 + MULTIPART_SLACK + 1, path=path)[0] == 413
