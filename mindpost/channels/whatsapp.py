"""WhatsApp Cloud API: the webhook (handshake, X-Hub-Signature-256, message events), media
download through the Graph API, and text replies from the business phone number."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from django.conf import settings

from mindpost.channels.base import Channel, ChannelError, Inbound, Media, MediaTooLarge
from mindpost.channels.models import InboundKind

# A WhatsApp text message holds at most 4096 characters.
MAX_TEXT = 4096
# Message types that are answered "send a voice message or a question"; others (reactions,
# system notices, deleted messages) get no answer at all.
_OTHER_TYPES = {"image", "video", "document", "sticker", "location", "contacts", "interactive", "button"}


class WhatsApp(Channel):
    slug = "whatsapp"
    display_name = "WhatsApp"

    def is_configured(self) -> bool:
        return all(
            (
                settings.WHATSAPP_TOKEN,
                settings.WHATSAPP_PHONE_NUMBER_ID,
                settings.WHATSAPP_APP_SECRET,
                settings.WHATSAPP_VERIFY_TOKEN,
            )
        )

    # --- webhook ------------------------------------------------------------------------

    def handshake(self, *, params: Mapping[str, str]) -> str | None:
        """The hub.challenge to echo when Meta verifies the callback URL, else None (403)."""
        expected = settings.WHATSAPP_VERIFY_TOKEN
        token = params.get("hub.verify_token", "")
        if not expected or params.get("hub.mode") != "subscribe":
            return None
        if not hmac.compare_digest(token.encode(), expected.encode()):
            return None
        return params.get("hub.challenge", "")

    def verify(self, *, headers: Mapping[str, str], body: bytes) -> bool:
        secret = settings.WHATSAPP_APP_SECRET
        header = headers.get("X-Hub-Signature-256", "")
        if not secret or not header.startswith("sha256="):
            return False
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(header[len("sha256=") :].strip().encode(), expected.encode())

    def parse(self, payload: Any) -> list[Inbound]:
        if not isinstance(payload, dict):
            raise ValueError("not an object")
        found: list[Inbound] = []
        for entry in payload.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                if change.get("field") != "messages" or not isinstance(value, dict):
                    continue
                own = str((value.get("metadata") or {}).get("phone_number_id", ""))
                if own and settings.WHATSAPP_PHONE_NUMBER_ID and own != settings.WHATSAPP_PHONE_NUMBER_ID:
                    continue  # another number of the same app
                for message in value.get("messages") or []:  # "statuses" (delivery receipts) are skipped
                    inbound = self._message(message)
                    if inbound is not None:
                        found.append(inbound)
        return found

    @staticmethod
    def _message(message: dict[str, Any]) -> Inbound | None:
        kind = message.get("type")
        sender, message_id = str(message.get("from", "")), str(message.get("id", ""))
        if not sender or not message_id:
            return None
        if kind == "text":
            body = (message.get("text") or {}).get("body", "")
            return Inbound(message_id=message_id, sender=sender, kind=InboundKind.TEXT, text=str(body))
        if kind == "audio":  # voice notes (audio.voice = true) and forwarded audio files
            audio = message.get("audio") or {}
            return Inbound(
                message_id=message_id,
                sender=sender,
                kind=InboundKind.AUDIO,
                media_id=str(audio.get("id", "")),
                mime_type=str(audio.get("mime_type", "")),
            )
        if kind in _OTHER_TYPES:
            return Inbound(message_id=message_id, sender=sender, kind=InboundKind.OTHER, mime_type=str(kind))
        return None

    # --- Graph API ------------------------------------------------------------------------

    def _api(self, path: str) -> str:
        return f"{settings.WHATSAPP_API_URL.rstrip('/')}/{path}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {settings.WHATSAPP_TOKEN}"}

    def fetch_media(self, *, media_id: str, max_bytes: int) -> Media:
        # Two steps: the media id gives a short-lived URL, which also needs the bearer token.
        info = self._call("GET", self._api(quote(media_id, safe="")), what="media lookup", headers=self._auth())
        try:
            meta = info.json()
            url = str(meta["url"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ChannelError("WhatsApp media lookup answered without a URL.") from exc
        size = meta.get("file_size")
        if isinstance(size, int) and size > max_bytes:
            raise MediaTooLarge("The file is too large.", size=size)
        content = self._download(url, max_bytes=max_bytes, what="media download", headers=self._auth())
        return Media(content=content, mime_type=str(meta.get("mime_type", "")))

    def send_text(self, *, to: str, text: str) -> None:
        self._call(
            "POST",
            self._api(f"{settings.WHATSAPP_PHONE_NUMBER_ID}/messages"),
            what="message send",
            headers=self._auth(),
            json={
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": to,
                "type": "text",
                "text": {"preview_url": False, "body": text[:MAX_TEXT]},
            },
        )

    def connect_url(self, *, code: str) -> str | None:
        number = "".join(ch for ch in settings.WHATSAPP_BUSINESS_NUMBER if ch.isdigit())
        return f"https://wa.me/{number}?text={quote('MP-' + code)}" if number else None


CHANNEL = WhatsApp()
