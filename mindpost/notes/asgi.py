"""An ASGI guard that refuses oversized request bodies before Django reads them.

Django's ASGI handler reads the whole body (spooling it to disk) before any view runs, so a
view can only refuse a 2 GB upload after it has been received. This wrapper answers 413 at
once when `Content-Length` is over the limit, and stops a body sent without a length as soon
as it passes the limit. The limit is the largest upload MindPost takes (NOTE_MAX_UPLOAD_BYTES;
IMPORT_MAX_BYTES on the bulk-import paths) plus room for multipart framing; views still apply
their own, tighter limits.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings

# Loose ASGI types: servers, Django and tests each spell the message mappings differently.
Scope = MutableMapping[str, Any]
Message = Any
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

MULTIPART_SLACK = 64 * 1024


# Bulk import (mindpost.imports) takes many files in one request: its own, larger cap.
IMPORT_PATHS = ("/api/imports/", "/import/")


def body_limit(path: str = "") -> int:
    largest = int(settings.NOTE_MAX_UPLOAD_BYTES)
    if path in IMPORT_PATHS:
        largest = max(largest, int(getattr(settings, "IMPORT_MAX_BYTES", 0)))
    return largest + MULTIPART_SLACK


class BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(str(scope.get("path", "")))
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._refuse(send, limit)
                    return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = json.dumps(
            {
                "code": "file_too_large",
                "detail": f"The request body is larger than {limit // (1024 * 1024)} MB.",
                "fields": {},
                "max_bytes": int(settings.NOTE_MAX_UPLOAD_BYTES),
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
