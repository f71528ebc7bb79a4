"""A fake Telegram Bot API on 127.0.0.1 that checks what it receives.

- POST /bot{token}/getFile        {file_id} -> {file_id, file_size, file_path} (no file_path past 20 MB, as Telegram)
- GET  /file/bot{token}/{path}    the file's bytes
- POST /bot{token}/sendMessage    {chat_id, text}: validated and recorded in `sent`
- POST /bot{token}/setWebhook     {url (https), secret_token}: recorded in `webhooks`
A wrong token gets Telegram's 401 {"ok": false, "error_code": 401, "description": "Unauthorized"}.
"""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import Callable
from typing import Any

from tests.fakes.social_base import FakeServer, HttpError, Recorded, Reply

BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024


def tg_error(status: int, description: str) -> HttpError:
    return HttpError(status, {"ok": False, "error_code": status, "description": description})


class FakeTelegram(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.token = f"123456:{secrets.token_urlsafe(24)}"
        self.files: dict[str, tuple[str, bytes, int | None]] = {}  # file_id -> (path, bytes, declared size)
        self.sent: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []
        self._message_ids = itertools.count(1)

    def add_file(self, content: bytes, *, kind: str = "voice", declared_size: int | None = None) -> str:
        file_id = f"AwACAg{self.next_id()}"
        with self.lock:
            self.files[file_id] = (f"{kind}/file_{len(self.files)}.oga", content, declared_size)
        return file_id

    def texts_to(self, chat_id: int | str) -> list[str]:
        with self.lock:
            return [m["text"] for m in self.sent if str(m["chat_id"]) == str(chat_id)]

    def routes(self) -> list[tuple[str, str, Callable[..., Reply]]]:
        return [
            ("POST", r"/bot([^/]+)/getFile", self._get_file),
            ("GET", r"/file/bot([^/]+)/(.+)", self._download),
            ("POST", r"/bot([^/]+)/sendMessage", self._send_message),
            ("POST", r"/bot([^/]+)/setWebhook", self._set_webhook),
        ]

    def _auth(self, token: str) -> None:
        if token != self.token:
            raise tg_error(401, "Unauthorized")

    @staticmethod
    def _params(record: Recorded) -> dict[str, Any]:
        if record.headers.get("content-type", "").startswith("application/json"):
            body = record.json()
            return body if isinstance(body, dict) else {}
        return dict(record.query)

    def _get_file(self, record: Recorded, token: str) -> Reply:
        self._auth(token)
        file_id = self._params(record).get("file_id")
        with self.lock:
            stored = self.files.get(str(file_id))
        if stored is None:
            raise tg_error(400, "Bad Request: invalid file_id")
        path, content, declared = stored
        size = declared if declared is not None else len(content)
        result: dict[str, Any] = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size}
        if size <= BOT_DOWNLOAD_LIMIT:
            result["file_path"] = path
        return Reply(body={"ok": True, "result": result})

    def _download(self, record: Recorded, token: str, path: str) -> Reply:
        self._auth(token)
        with self.lock:
            found = next((content for p, content, _ in self.files.values() if p == path), None)
        if found is None:
            raise tg_error(404, "Not Found")
        return Reply(raw=found)

    def _send_message(self, record: Recorded, token: str) -> Reply:
        self._auth(token)
        params = self._params(record)
        text, chat_id = params.get("text"), params.get("chat_id")
        if not isinstance(text, str) or not 1 <= len(text) <= 4096:
            raise tg_error(400, "Bad Request: message text is empty or too long")
        if not re.fullmatch(r"-?\d+", str(chat_id)):
            raise tg_error(400, "Bad Request: chat not found")
        with self.lock:
            self.sent.append(params)
        message_id = next(self._message_ids)
        return Reply(body={"ok": True, "result": {"message_id": message_id, "chat": {"id": chat_id}, "text": text}})

    def _set_webhook(self, record: Recorded, token: str) -> Reply:
        self._auth(token)
        params = self._params(record)
        if not str(params.get("url", "")).startswith("https://"):
            raise tg_error(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        secret = str(params.get("secret_token", ""))
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise tg_error(400, "Bad Request: secret token contains unallowed characters")
        with self.lock:
            self.webhooks.append(params)
        return Reply(body={"ok": True, "result": True, "description": "Webhook was set"})
