"""Fixtures for the channel tests: the Graph API and Bot API fakes wired into settings, signed
webhook deliveries, and the channel job run in-process (the real worker runs it in test_worker.py)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from mindpost.channels import services, tasks
from mindpost.channels.models import InboundMessage
from tests.fakes.graph_server import FakeGraph
from tests.fakes.telegram_server import FakeTelegram
from tests.notes import audio_files

APP_SECRET = "whatsapp-app-secret-for-tests"
VERIFY_TOKEN = "verify-me-please"
TG_SECRET = "telegram-webhook-secret_1"
NUMBER = "15551234567"
OTHER_NUMBER = "447700900123"
CHAT_ID = 424242

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def media_dir(settings: Any, tmp_path: Path) -> Path:
    """Each test stores audio in its own directory."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}},
    }
    settings.SITE_URL = "https://mindpost.example"
    return media


@pytest.fixture
def graph(settings: Any) -> Iterator[FakeGraph]:
    fake = FakeGraph().start()
    settings.WHATSAPP_TOKEN = fake.token
    settings.WHATSAPP_PHONE_NUMBER_ID = fake.phone_number_id
    settings.WHATSAPP_API_URL = fake.api_url
    settings.WHATSAPP_APP_SECRET = APP_SECRET
    settings.WHATSAPP_VERIFY_TOKEN = VERIFY_TOKEN
    settings.CHANNELS_HTTP_TIMEOUT_SECONDS = 5.0
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def tg(settings: Any) -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    settings.TELEGRAM_BOT_TOKEN = fake.token
    settings.TELEGRAM_BOT_USERNAME = "MindPostTestBot"
    settings.TELEGRAM_WEBHOOK_SECRET = TG_SECRET
    settings.TELEGRAM_API_URL = fake.base_url
    settings.CHANNELS_HTTP_TIMEOUT_SECONDS = 5.0
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Message ids whose job was queued (instead of queueing it); run them with `run_jobs`."""
    ids: list[str] = []
    monkeypatch.setattr(tasks, "defer_handle_inbound", lambda *, message_id: ids.append(str(message_id)))
    return ids


def run_jobs(queued: list[str], *, final_attempt: bool = False) -> None:
    """Run every queued job once, as the worker would (in order, each once)."""
    while queued:
        services.inbound_advance(message_id=queued.pop(0), final_attempt=final_attempt)


# --- WhatsApp deliveries -------------------------------------------------------------------


def wa_message(kind: str, *, sender: str = NUMBER, **fields: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "from": sender,
        "id": f"wamid.HBgL{next(_ids):08d}",
        "timestamp": "1764547200",
        "type": kind,
    }
    if kind == "text":
        message["text"] = {"body": fields["body"]}
    elif kind == "audio":
        message["audio"] = {"id": fields["media_id"], "mime_type": "audio/ogg; codecs=opus", "voice": True}
    else:
        message[kind] = {"id": "9999", "mime_type": "image/jpeg"}
    return message


def wa_payload(*messages: dict[str, Any], phone_number_id: str) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
                            "contacts": [{"profile": {"name": "Ada"}, "wa_id": m["from"]} for m in messages],
                            "messages": list(messages),
                        },
                    }
                ],
            }
        ],
    }


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_whatsapp(client: APIClient, payload: Any, *, signature: str | None = "valid") -> Any:
    body = json.dumps(payload).encode()
    headers = {}
    if signature == "valid":
        headers["X-Hub-Signature-256"] = sign(body)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return client.generic("POST", "/whatsapp/webhook/", body.decode(), content_type="application/json", headers=headers)


@pytest.fixture
def send_wa(api: APIClient, graph: FakeGraph) -> Callable[..., Any]:
    """Deliver messages to the webhook as WhatsApp would (signed); returns the response."""

    def send(*messages: dict[str, Any]) -> Any:
        response = post_whatsapp(api, wa_payload(*messages, phone_number_id=graph.phone_number_id))
        assert response.status_code == 200, response.content
        return response

    return send


# --- Telegram deliveries -------------------------------------------------------------------


def tg_update(*, chat_id: int = CHAT_ID, chat_type: str = "private", **content: Any) -> dict[str, Any]:
    number = next(_ids)
    return {
        "update_id": 900000 + number,
        "message": {
            "message_id": number,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Ada"},
            "chat": {"id": chat_id, "type": chat_type},
            "date": 1764547200,
            **content,
        },
    }


def post_telegram(client: APIClient, payload: Any, *, secret: str | None = TG_SECRET) -> Any:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.generic(
        "POST", "/telegram/webhook/", json.dumps(payload), content_type="application/json", headers=headers
    )


# --- audio ---------------------------------------------------------------------------------


def voice_bytes(seconds: float = 2.0) -> bytes:
    """A short Ogg/Opus recording, as WhatsApp and Telegram voice messages are."""
    return audio_files.encode(audio_files.tone(seconds), 16_000, "ogg")


def messages() -> list[InboundMessage]:
    return list(InboundMessage.objects.order_by("created_at"))
