"""Checking an uploaded recording inside the request, before a note exists.

The request does the cheap, bounded work so that a bad file gets a clear 4xx at once
instead of a note that fails later: the size, the format (sniffed from the content, not
the name), the duration (first from the container's packets without decoding, so a
50 MB, three-hour file is refused without decoding it), then one full decode to catch
corrupt and silent recordings. Transcription always happens in the job.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import av
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from mindpost.accounts.models import User
from mindpost.core.errors import AppError, Invalid, TooLarge, Unprocessable, UnsupportedFormat
from mindpost.notes import idempotency

logger = logging.getLogger(__name__)

_HEAD_BYTES = 4096


@dataclass(frozen=True)
class CheckedAudio:
    path: Path
    format: str
    duration: float
    size: int
    fingerprint: str


def file_too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"The recording is larger than {limit // (1024 * 1024)} MB.",
        code="file_too_large",
        extra={"max_bytes": limit},
    )


class SizeLimitUploadHandler(FileUploadHandler):
    """Stops reading an upload as soon as it passes the limit (for bodies without Content-Length)."""

    def __init__(self, request: object = None, *, limit: int) -> None:
        super().__init__(request)  # type: ignore[arg-type]
        self.limit = limit
        self.received = 0
        self.exceeded = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.exceeded = True
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


@contextmanager
def spooled(upload: UploadedFile) -> Iterator[tuple[Path, int, str]]:
    """Copy the upload to a private temp file: (path, size, fingerprint); removed afterwards."""
    with tempfile.NamedTemporaryFile(prefix="mindpost-upload-", suffix=".audio") as handle:
        chunks = _copy(upload, handle)
        fingerprint = idempotency.fingerprint(kind="voice", chunks=chunks)
        handle.flush()
        yield Path(handle.name), handle.tell(), fingerprint


def _copy(upload: UploadedFile, handle: IO[bytes]) -> Iterator[bytes]:
    upload.seek(0)
    for chunk in upload.chunks():
        handle.write(chunk)
        yield chunk


def probe_duration(path: Path) -> float | None:
    """Audio duration from the container's packets (no decoding); None if it cannot be read.

    Reading packets without decoding them is cheap even for the largest upload allowed.
    Headers are not trusted: MediaRecorder's WebM has none, and a forged one could
    claim any length.
    """
    try:
        with av.open(str(path)) as container:
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None or stream.time_base is None:
                return None
            time_base = float(stream.time_base)
            first: int | None = None
            last = 0.0
            for packet in container.demux(stream):
                if packet.pts is None:
                    continue
                if first is None:
                    first = packet.pts
                end = (packet.pts + (packet.duration or 0) - first) * time_base
                last = max(last, end)
            return last
    except (av.FFmpegError, OSError, ValueError):
        return None


def max_seconds_for(user: User) -> int:
    from mindpost.billing import metering

    cap = metering.max_recording_seconds(user=user)
    return int(cap) if cap is not None else int(settings.NOTE_MAX_DURATION_SECONDS)


def too_long(*, duration: float, limit: int) -> Unprocessable:
    return Unprocessable(
        f"The recording is {duration / 60:.1f} minutes long; your limit is {limit / 60:.0f} minutes.",
        code="recording_too_long",
        extra={"max_seconds": limit, "duration_seconds": round(duration, 1)},
    )


_DECODE_ERRORS: dict[str, tuple[type[AppError], str]] = {
    "unsupported_format": (
        UnsupportedFormat,
        "This file is not a recording we can read. Send webm, ogg, m4a, mp4, mp3, wav or flac audio.",
    ),
    "corrupt_audio": (Unprocessable, "The recording is damaged or cut off, so it cannot be played."),
    "empty_audio": (Unprocessable, "The recording contains no audio."),
}


def decode_error(code: str) -> AppError:
    kind, message = _DECODE_ERRORS.get(code, (Unprocessable, "The recording cannot be read."))
    return kind(message, code=code if code in _DECODE_ERRORS else "corrupt_audio")


def check_audio(*, path: Path, size: int, fingerprint: str, max_seconds: int) -> CheckedAudio:
    """Sniff, probe and decode the spooled file; an AppError for anything we will not accept."""
    from mindpost.ai import audio as ai_audio

    if size == 0:
        raise Invalid("The recording is empty.", code="empty_audio")
    with path.open("rb") as handle:
        head = handle.read(_HEAD_BYTES)
    audio_format = ai_audio.sniff_format(head)
    if audio_format is None:
        raise decode_error("unsupported_format")

    probed = probe_duration(path)
    if probed is not None and probed > max_seconds + 1:
        raise too_long(duration=probed, limit=max_seconds)

    try:
        # Bounded: decoding stops (too_long) as soon as the samples pass the limit.
        decoded = ai_audio.decode(path, max_seconds=max_seconds + 1)
    except ai_audio.AudioDecodeError as exc:
        if exc.code == "too_long":
            raise too_long(duration=probed or float(max_seconds + 1), limit=max_seconds) from exc
        raise decode_error(exc.code) from exc
    if decoded.duration > max_seconds + 0.5:
        raise too_long(duration=decoded.duration, limit=max_seconds)
    if decoded.duration <= 0 or len(decoded.samples) == 0:
        raise decode_error("empty_audio")
    if ai_audio.is_silent(decoded.samples):
        raise Unprocessable(
            "The recording is silent: we could not hear anything. Check the microphone and try again.",
            code="silent_audio",
        )
    return CheckedAudio(
        path=path, format=audio_format, duration=float(decoded.duration), size=size, fingerprint=fingerprint
    )
