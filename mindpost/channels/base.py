"""The interface every inbound messaging channel implements (whatsapp.py, telegram.py).

A channel verifies a webhook request, turns its body into `Inbound` messages, fetches the bytes
of a voice message, and sends a text reply. Services and jobs only talk to this interface, so a
third channel is one more module registered in `CHANNELS`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from django.conf import settings
from django.utils.crypto import salted_hmac

from mindpost.channels.models import InboundKind
from mindpost.core.errors import NotFound


@dataclass(frozen=True)
class Inbound:
    """One message as the platform sent it, reduced to what we act on."""

    message_id: str  # the platform's id: deliveries are de-duplicated by it
    sender: str  # where a reply goes: a phone number (digits) or a chat id
    kind: InboundKind
    text: str = ""
    media_id: str = ""
    mime_type: str = ""
    file_size: int | None = None  # when the platform says so up front (Telegram)
    duration: float | None = None  # seconds, when the platform says so up front (Telegram)

    def payload(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "media_id": self.media_id,
            "mime_type": self.mime_type,
            "file_size": self.file_size,
            "duration": self.duration,
        }


@dataclass(frozen=True)
class Media:
    content: bytes
    mime_type: str


class ChannelError(Exception):
    """The platform refused a call for good (a 4xx): retrying will not help."""

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class TransientChannelError(ChannelError):
    """The platform is unreachable, failing (5xx) or rate limiting (429): the job retries."""


class MediaTooLarge(ChannelError):
    """The file is larger than we accept; `size` when the platform said how large."""

    def __init__(self, detail: str, *, size: int | None = None, limit: int | None = None) -> None:
        super().__init__(detail)
        self.size = size
        self.limit = limit  # the platform's own limit, when lower than ours


def lookup_hash(kind: str, value: str) -> str:
    """A keyed hash (HMAC-SHA256 with SECRET_KEY) to find an encrypted address or message id by
    equality; without the key, a list of likely phone numbers cannot be matched against it."""
    return salted_hmac(f"mindpost.channels.{kind}", value, algorithm="sha256").hexdigest()


# Link codes: 10 characters of an alphabet without look-alikes (0/O, 1/I/L): ~49 bits, 15 minutes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
_CODE = re.compile(rf"\b(?:MP-?)?([{CODE_ALPHABET}]{{{CODE_LENGTH}}})\b")


def find_code(text: str) -> str | None:
    """The link code in a short message ("MP-ABCD234567", "link abcd234567", "/start ABCD234567")."""
    if len(text) > 80:
        return None
    match = _CODE.search(text.upper())
    return match.group(1) if match else None


class Channel(ABC):
    slug: ClassVar[str]
    display_name: ClassVar[str]

    @abstractmethod
    def is_configured(self) -> bool: ...

    @abstractmethod
    def verify(self, *, headers: Mapping[str, str], body: bytes) -> bool:
        """True when the request really comes from the platform (compared in constant time)."""

    @abstractmethod
    def parse(self, payload: Any) -> list[Inbound]:
        """The messages of a verified webhook body; events we do not act on are left out."""

    @abstractmethod
    def fetch_media(self, *, media_id: str, max_bytes: int) -> Media:
        """The bytes of a voice message; MediaTooLarge past `max_bytes` (without reading the rest)."""

    @abstractmethod
    def send_text(self, *, to: str, text: str) -> None: ...

    def connect_url(self, *, code: str) -> str | None:
        """A link that opens the chat app with the code ready to send, when the channel has one."""
        return None

    # --- HTTP shared by the channels ------------------------------------------------------

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=settings.CHANNELS_HTTP_TIMEOUT_SECONDS, follow_redirects=False)

    def _check(self, response: httpx.Response, *, what: str) -> httpx.Response:
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientChannelError(
                f"{self.display_name} {what} failed with {response.status_code}.", status=response.status_code
            )
        if response.status_code >= 400:
            raise ChannelError(
                f"{self.display_name} {what} was refused ({response.status_code}): {response.text[:300]}",
                status=response.status_code,
            )
        return response

    def _call(self, method: str, url: str, *, what: str, **kwargs: Any) -> httpx.Response:
        try:
            with self._client() as client:
                return self._check(client.request(method, url, **kwargs), what=what)
        except httpx.HTTPError as exc:  # connection refused, timeout, protocol error
            raise TransientChannelError(f"{self.display_name} {what} failed: {type(exc).__name__}.") from exc

    def _download(self, url: str, *, max_bytes: int, what: str, **kwargs: Any) -> bytes:
        """GET a file, stopping as soon as it passes `max_bytes`."""
        try:
            with self._client() as client, client.stream("GET", url, **kwargs) as response:
                self._check(response, what=what)
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise MediaTooLarge("The file is too large.", size=int(declared))
                chunks: list[bytes] = []
                received = 0
                for chunk in response.iter_bytes():
                    received += len(chunk)
                    if received > max_bytes:
                        raise MediaTooLarge("The file is too large.")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise TransientChannelError(f"{self.display_name} {what} failed: {type(exc).__name__}.") from exc


def all_channels() -> dict[str, Channel]:
    from mindpost.channels import telegram, whatsapp

    return {whatsapp.CHANNEL.slug: whatsapp.CHANNEL, telegram.CHANNEL.slug: telegram.CHANNEL}


def get(slug: str) -> Channel:
    channel = all_channels().get(slug)
    if channel is None:
        raise NotFound("Unknown channel.", code="unknown_channel")
    return channel
