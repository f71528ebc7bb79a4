"""A fake WhatsApp Cloud API (Meta Graph API) on 127.0.0.1 that checks what it receives.

- GET  /v21.0/{media-id}              Bearer token; answers {url, mime_type, sha256, file_size, id} of an
                                      uploaded medium (`add_media`), 404 in Graph's error shape otherwise
- GET  /media/{media-id}/download     Bearer token again (the real CDN URL needs it too); the bytes
- POST /v21.0/{phone-number-id}/messages  Bearer; validates the text message body; records it in `sent`
Faults: `add_fault(Fault(...))` from tests/fakes/social_base.py (e.g. a 500 on the send).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.social_base import FakeServer, HttpError, Recorded, Reply

VERSION = "v21.0"


def graph_error(status: int, message: str, code: int) -> HttpError:
    return HttpError(status, {"error": {"message": message, "type": "OAuthException", "code": code}})


@dataclass
class StoredMedia:
    content: bytes
    mime_type: str
    declared_size: int | None = None  # a file_size to announce instead of the real one


class FakeGraph(FakeServer):
    def __init__(self, *, phone_number_id: str = "1098765432") -> None:
        super().__init__()
        self.token = secrets.token_urlsafe(24)
        self.phone_number_id = phone_number_id
        self.media: dict[str, StoredMedia] = {}
        self.sent: list[dict[str, Any]] = []
        self._wamids = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/{VERSION}"

    def add_media(
        self, content: bytes, *, mime_type: str = "audio/ogg; codecs=opus", declared_size: int | None = None
    ) -> str:
        media_id = self.next_id()
        with self.lock:
            self.media[media_id] = StoredMedia(content, mime_type, declared_size)
        return media_id

    def texts_to(self, to: str) -> list[str]:
        with self.lock:
            return [m["text"]["body"] for m in self.sent if m["to"] == to]

    # --- routes ---------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Callable[..., Reply]]]:
        return [
            ("GET", rf"/{VERSION}/(\d+)", self._media_info),
            ("GET", r"/media/(\d+)/download", self._media_download),
            ("POST", rf"/{VERSION}/(\d+)/messages", self._post_message),
        ]

    def _auth(self, record: Recorded) -> None:
        header = record.headers.get("authorization", "")
        if header != f"Bearer {self.token}":
            raise graph_error(401, "Invalid OAuth access token - Cannot parse access token", 190)

    def _stored(self, media_id: str) -> StoredMedia:
        with self.lock:
            stored = self.media.get(media_id)
        if stored is None:
            raise graph_error(404, f"Unsupported get request. Object with ID '{media_id}' does not exist", 100)
        return stored

    def _media_info(self, record: Recorded, media_id: str) -> Reply:
        self._auth(record)
        stored = self._stored(media_id)
        size = stored.declared_size if stored.declared_size is not None else len(stored.content)
        return Reply(
            body={
                "messaging_product": "whatsapp",
                "url": f"{self.base_url}/media/{media_id}/download",
                "mime_type": stored.mime_type,
                "sha256": hashlib.sha256(stored.content).hexdigest(),
                "file_size": size,
                "id": media_id,
            }
        )

    def _media_download(self, record: Recorded, media_id: str) -> Reply:
        self._auth(record)
        return Reply(raw=self._stored(media_id).content)

    def _post_message(self, record: Recorded, phone_number_id: str) -> Reply:
        self._auth(record)
        if phone_number_id != self.phone_number_id:
            raise graph_error(400, "Unsupported post request: unknown phone number id", 100)
        if not record.headers.get("content-type", "").startswith("application/json"):
            raise graph_error(400, "Expected a JSON body", 100)
        body = record.json()
        to = body.get("to", "")
        text = (body.get("text") or {}).get("body", "")
        problems = []
        if body.get("messaging_product") != "whatsapp":
            problems.append("messaging_product must be whatsapp")
        if body.get("type") != "text":
            problems.append("only text messages are expected")
        if not re.fullmatch(r"\d{6,15}", str(to)):
            problems.append("to must be a phone number")
        if not isinstance(text, str) or not text or len(text) > 4096:
            problems.append("text.body must have 1 to 4096 characters")
        if problems:
            raise graph_error(400, "; ".join(problems), 100)
        with self.lock:
            self.sent.append(body)
        wamid = f"wamid.fake{next(self._wamids)}"
        contacts = [{"input": to, "wa_id": to}]
        return Reply(body={"messaging_product": "whatsapp", "contacts": contacts, "messages": [{"id": wamid}]})
