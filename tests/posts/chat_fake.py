"""An OpenAI-compatible chat server on 127.0.0.1 that answers from a queue of scripted
replies, so generation tests can play bad JSON, code fences, too-long posts, or a model
that is down. It checks the request shape (Bearer key, model, messages) like the real API."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from tests.fakes.social_base import FakeServer, HttpError, Recorded, Reply, bearer


class ScriptedChat(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        # Each item: a reply text, or an int HTTP status to fail with.
        self.script: deque[str | int] = deque()
        self.default_reply = '{"posts": []}'

    def reply(self, *items: str | int) -> None:
        self.script.extend(items)

    @property
    def completions(self) -> list[Recorded]:
        return self.calls("POST", r"/v1/chat/completions")

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", r"/v1/chat/completions", self._complete),
            ("GET", r"/v1/models", self._models),
        ]

    def _models(self, record: Recorded) -> Reply:
        return Reply(body={"object": "list", "data": [{"id": "fake-chat", "object": "model", "owned_by": "tests"}]})

    def _complete(self, record: Recorded) -> Reply:
        bearer(record)
        body = record.json()
        messages = body.get("messages") if isinstance(body, dict) else None
        if not body.get("model") or not isinstance(messages, list) or not messages:
            raise HttpError(400, {"error": {"message": "model and messages are required", "type": "invalid_request"}})
        for message in messages:
            if message.get("role") not in ("system", "user", "assistant") or not isinstance(
                message.get("content"), str
            ):
                raise HttpError(400, {"error": {"message": "bad message", "type": "invalid_request"}})
        with self.lock:
            item = self.script.popleft() if self.script else self.default_reply
        if isinstance(item, int):
            raise HttpError(item, {"error": {"message": "scripted failure", "type": "server_error"}})
        return Reply(
            body={
                "id": f"chatcmpl-{self.next_id()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": item}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
            }
        )
