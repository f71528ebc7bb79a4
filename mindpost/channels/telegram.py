"""Telegram Bot API: the webhook (X-Telegram-Bot-Api-Secret-Token), deep-link codes
(`/start <code>`), voice/audio/video-note download (getFile), replies (sendMessage) and setWebhook."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from django.conf import settings

from mindpost.channels.base import Channel, ChannelError, Inbound, Media, MediaTooLarge
from mindpost.channels.models import InboundKind

MAX_TEXT = 4096
# Bots can download files up to 20 MB (getFile answers larger ones without a file_path).
BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024
# Bot API media that carry speech; video notes are mp4 with an audio track.
_MEDIA = {"voice": "audio/ogg", "audio": "audio/mpeg", "video_note": "video/mp4"}
_OTHER = {"photo", "document", "video", "sticker", "animation", "location", "contact"}


class Telegram(Channel):
    slug = "telegram"
    display_name = "Telegram"

    def is_configured(self) -> bool:
        return bool(settings.TELEGRAM_BOT_TOKEN and settings.TELEGRAM_WEBHOOK_SECRET and settings.TELEGRAM_BOT_USERNAME)

    def verify(self, *, headers: Mapping[str, str], body: bytes) -> bool:
        secret = settings.TELEGRAM_WEBHOOK_SECRET
        given = headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())

    def parse(self, payload: Any) -> list[Inbound]:
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        message = payload.get("message")
        if not isinstance(message, dict):
            return []  # edits, channel posts, callbacks: nothing to do
        chat = message.get("chat") or {}
        if chat.get("type") != "private":
            return []  # never answer from someone's notes into a group
        sender, message_id = str(chat.get("id", "")), str(message.get("message_id", ""))
        if not sender or not message_id:
            return []
        # message_id is unique per chat only: the dedup key is both.
        key = f"{sender}:{message_id}"
        if isinstance(message.get("text"), str):
            return [Inbound(message_id=key, sender=sender, kind=InboundKind.TEXT, text=message["text"])]
        for field, default_mime in _MEDIA.items():
            media = message.get(field)
            if isinstance(media, dict):
                size, duration = media.get("file_size"), media.get("duration")
                return [
                    Inbound(
                        message_id=key,
                        sender=sender,
                        kind=InboundKind.AUDIO,
                        media_id=str(media.get("file_id", "")),
                        mime_type=str(media.get("mime_type") or default_mime),
                        file_size=size if isinstance(size, int) else None,
                        duration=float(duration) if isinstance(duration, int | float) else None,
                    )
                ]
        if _OTHER & message.keys():
            return [Inbound(message_id=key, sender=sender, kind=InboundKind.OTHER)]
        return []

    def _method(self, name: str) -> str:
        return f"{settings.TELEGRAM_API_URL.rstrip('/')}/bot{settings.TELEGRAM_BOT_TOKEN}/{name}"

    def _result(self, name: str, **kwargs: Any) -> Any:
        response = self._call("POST", self._method(name), what=name, **kwargs)
        try:
            body = response.json()
        except ValueError as exc:
            raise ChannelError(f"Telegram {name} answered with something that is not JSON.") from exc
        if not body.get("ok"):
            raise ChannelError(f"Telegram {name} failed: {body.get('description', '')}")
        return body.get("result")

    def fetch_media(self, *, media_id: str, max_bytes: int) -> Media:
        result = self._result("getFile", json={"file_id": media_id}) or {}
        size, path = result.get("file_size"), result.get("file_path")
        if isinstance(size, int) and size > max_bytes:
            raise MediaTooLarge("The file is too large.", size=size)
        if not path:
            # Bots may download files up to 20 MB; larger ones come back without a path.
            raise MediaTooLarge("The file is too large for a Telegram bot.", size=size, limit=BOT_DOWNLOAD_LIMIT)
        base_url = settings.TELEGRAM_API_URL.rstrip("/")
        url = f"{base_url}/file/bot{settings.TELEGRAM_BOT_TOKEN}/{quote(str(path), safe='/')}"
        return Media(content=self._download(url, max_bytes=max_bytes, what="file download"), mime_type="")

    def send_text(self, *, to: str, text: str) -> None:
        self._result(
            "sendMessage",
            json={"chat_id": to, "text": text[:MAX_TEXT], "link_preview_options": {"is_disabled": True}},
        )

    def set_webhook(self, *, url: str) -> None:
        self._result(
            "setWebhook",
            json={"url": url, "secret_token": settings.TELEGRAM_WEBHOOK_SECRET, "allowed_updates": ["message"]},
        )

    def connect_url(self, *, code: str) -> str | None:
        username = settings.TELEGRAM_BOT_USERNAME.lstrip("@")
        return f"https://t.me/{username}?start={code}" if username else None


CHANNEL = Telegram()
