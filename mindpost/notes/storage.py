"""Where a note's audio lives and how it is handed back to its owner.

Audio is stored in Django's default storage under users/<user id>/notes/<note id>.<ext>,
so account export and deletion find it. Clients never get a storage path: the
`recording` URL points at our own view with a signed, short-lived token bound to the
note and its owner. That view streams the file (with HTTP Range), decrypting it: files
are encrypted at rest by the default storage (mindpost.core.encrypted_storage). Only with
FILE_ENCRYPTION=false may it redirect to a short-lived signed storage URL on cloud storage.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.conf import settings
from django.core import signing
from django.core.files import File
from django.core.files.storage import FileSystemStorage, default_storage
from django.urls import reverse

from mindpost.ai.audio import FORMATS
from mindpost.core import encrypted_storage, userdata

logger = logging.getLogger(__name__)

_TOKEN_SALT = "mindpost.notes.recording"  # noqa: S105 - a namespace for signing, not a secret
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def audio_path(*, user_id: Any, note_id: Any, audio_format: str) -> str:
    known = FORMATS.get(audio_format)
    return userdata.user_file_path(user_id, "notes", f"{note_id}{known.extension if known else '.bin'}")


def save_audio(*, name: str, content: IO[bytes]) -> str:
    """Store the audio; returns the name the storage actually used."""
    content.seek(0)
    return default_storage.save(name, File(content, name=name.rsplit("/", 1)[-1]))


def delete_audio(name: str) -> None:
    """Delete a stored file; a file that is already gone is fine."""
    if not name:
        return
    with contextlib.suppress(FileNotFoundError):
        default_storage.delete(name)


def open_audio(name: str) -> IO[bytes]:
    return default_storage.open(name, "rb")


def content_type(audio_format: str) -> str:
    known = FORMATS.get(audio_format)
    return known.mime if known else "application/octet-stream"


# --- Recording URLs ---------------------------------------------------------------


def recording_token(*, note_id: Any, user_id: Any) -> str:
    return signing.dumps({"n": str(note_id), "u": str(user_id)}, salt=_TOKEN_SALT, compress=True)


class TokenExpired(Exception):
    pass


def read_recording_token(token: str) -> tuple[str, str] | None:
    """(note id, user id) from a valid token; None if forged; TokenExpired if too old."""
    try:
        data = signing.loads(token, salt=_TOKEN_SALT, max_age=settings.NOTE_AUDIO_URL_SECONDS)
    except signing.SignatureExpired as exc:
        raise TokenExpired from exc
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str) or not isinstance(data.get("u"), str):
        return None
    return data["n"], data["u"]


def recording_path(*, note_id: Any, user_id: Any) -> str:
    """Path (no host) of the playback view for one note, carrying a signed token."""
    url = reverse("notes:recording", kwargs={"pk": note_id})
    return f"{url}?token={recording_token(note_id=note_id, user_id=user_id)}"


def delivery_mode() -> str:
    # A signed storage URL would hand out ciphertext: encrypted files always go through
    # our view, which decrypts only the chunks a Range asks for.
    if encrypted_storage.is_encrypting(default_storage):
        return "stream"
    mode = settings.NOTE_AUDIO_DELIVERY
    if mode in ("stream", "redirect"):
        return str(mode)
    # default_storage is a LazyObject; isinstance sees through it to the real backend.
    backend = getattr(default_storage, "inner", default_storage)
    return "stream" if isinstance(backend, FileSystemStorage) else "redirect"


def signed_storage_url(name: str) -> str:
    """A short-lived signed URL from the cloud storage backend itself."""
    return str(default_storage.url(name))


# --- Byte ranges ---------------------------------------------------------------------


class RangeNotSatisfiable(Exception):
    pass


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range asked for (RFC 9110 §14.1.2), None for the whole file.

    Multi-range requests and malformed headers are answered with the whole file, as the
    RFC allows; a range that starts past the end raises RangeNotSatisfiable.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(size - length, 0), size - 1) if size else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        raise RangeNotSatisfiable
    if end < start:
        return None
    return ByteRange(start, end)


def iter_file(handle: IO[bytes], *, start: int, length: int, block: int = 64 * 1024) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            data = handle.read(min(block, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()
