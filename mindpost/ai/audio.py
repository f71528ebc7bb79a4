"""Audio in: sniff the container from its first bytes, decode to 16 kHz mono float32, spot silence.

Decoding uses PyAV (FFmpeg inside the wheel; no system ffmpeg). The demuxer is chosen from
the sniffed magic bytes, never from the file name or the client's Content-Type, so FFmpeg
only ever sees the few containers listed in FORMATS. Samples are counted as they are decoded,
which is why a browser's MediaRecorder webm/opus (no duration in its header) gets a correct
duration.

    decode(path) -> DecodedAudio(samples, duration, format)
    sniff_format(head_bytes) -> "webm" | "matroska" | "ogg" | "mp4" | "mp3" | "wav" | "flac" | "aac" | None
    is_silent(samples) -> bool
    encode_wav(samples) -> bytes   (16-bit PCM WAV, for providers that want a file)

Errors are AudioDecodeError(code) with code in AudioDecodeError.CODES; it is an AIError, so
callers that treat AIError as permanent do the right thing.
"""

from __future__ import annotations

import contextlib
import io
import logging
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .types import AIError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
_HEAD_BYTES = 4096


@dataclass(frozen=True)
class AudioFormat:
    name: str
    mime: str  # what to store / serve the original file as
    extension: str
    demuxer: str  # FFmpeg demuxer used to open it


FORMATS: dict[str, AudioFormat] = {
    fmt.name: fmt
    for fmt in (
        AudioFormat("webm", "audio/webm", ".webm", "matroska"),
        AudioFormat("matroska", "audio/x-matroska", ".mka", "matroska"),
        AudioFormat("ogg", "audio/ogg", ".ogg", "ogg"),
        AudioFormat("mp4", "audio/mp4", ".m4a", "mov"),
        AudioFormat("mp3", "audio/mpeg", ".mp3", "mp3"),
        AudioFormat("wav", "audio/wav", ".wav", "wav"),
        AudioFormat("flac", "audio/flac", ".flac", "flac"),
        AudioFormat("aac", "audio/aac", ".aac", "aac"),
    )
}


class AudioDecodeError(AIError):
    """The upload is not usable audio. `code` is stable and safe to show to API clients."""

    CODES = {
        "unsupported_format": "This is not an audio format we can read (webm, ogg, m4a/mp4, mp3, wav, flac).",
        "corrupt_audio": "The audio file is damaged and could not be decoded.",
        "empty_audio": "The audio file contains no sound.",
        "too_long": "The recording is longer than allowed.",
    }

    def __init__(self, code: str, detail: str | None = None) -> None:
        if code not in self.CODES:
            raise ValueError(f"unknown audio error code {code!r}")
        super().__init__(detail or self.CODES[code])
        self.code = code


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32, mono, SAMPLE_RATE Hz, in [-1, 1]
    duration: float  # seconds
    format: str  # a FORMATS key


def _is_mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG-1/2 layer I-III frame header (what an mp3 without an ID3 tag starts with)."""
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version = (head[1] >> 3) & 0b11
    layer = (head[1] >> 1) & 0b11
    bitrate = head[2] >> 4
    rate = (head[2] >> 2) & 0b11
    return version != 0b01 and layer != 0 and bitrate not in (0, 0xF) and rate != 0b11


def _is_adts_frame(head: bytes) -> bool:
    """A raw AAC (ADTS) frame: 12-bit sync, layer 00."""
    return len(head) >= 7 and head[0] == 0xFF and (head[1] & 0xF6) == 0xF0


def sniff_format(head: bytes) -> str | None:
    """Detect the audio container from the first bytes of a file (pass at least 64; 4 KB is plenty)."""
    if len(head) < 4:
        return None
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska family; the DocType says which
        return "webm" if b"webm" in head[:64] or b"matroska" not in head[:64] else "matroska"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:3] == b"ID3" and len(head) >= 10:
        # Skip the tag (syncsafe size) to see what follows; tags can precede FLAC or AAC too.
        size = 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | (head[9] & 0x7F))
        if head[5] & 0x10:
            size += 10  # footer present
        rest = head[size:]
        if rest[:4] == b"fLaC":
            return "flac"
        if _is_adts_frame(rest):
            return "aac"
        return "mp3"
    if _is_mpeg_audio_frame(head):
        return "mp3"
    if _is_adts_frame(head):
        return "aac"
    return None


def decode(path: Path | str, *, max_seconds: float | None = None) -> DecodedAudio:
    """Decode an audio file to 16 kHz mono float32.

    Raises AudioDecodeError: "empty_audio" (no bytes, no audio stream or no samples),
    "unsupported_format" (magic bytes of no known container), "corrupt_audio" (FFmpeg
    cannot read it) or "too_long" (more than `max_seconds`, checked while decoding so a
    huge file never fills memory). A recording cut off mid-way keeps what was decodable.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(_HEAD_BYTES)
    if not head:
        raise AudioDecodeError("empty_audio")
    fmt = sniff_format(head)
    if fmt is None:
        raise AudioDecodeError("unsupported_format")
    limit = int(max_seconds * SAMPLE_RATE) if max_seconds is not None else None

    chunks: list[np.ndarray] = []
    total = 0
    bad_packets = 0
    try:
        container = av.open(str(path), format=FORMATS[fmt].demuxer)
    except av.FFmpegError as exc:
        raise AudioDecodeError("corrupt_audio") from exc
    try:
        if not container.streams.audio:
            raise AudioDecodeError("empty_audio", "The file has no audio track.")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)

        def take(frames: list[av.AudioFrame]) -> None:
            nonlocal total
            for frame in frames:
                data = frame.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                chunks.append(data)
                total += data.shape[0]
            if limit is not None and total > limit:
                raise AudioDecodeError("too_long")

        try:
            for packet in container.demux(stream):
                try:
                    decoded = packet.decode()
                except av.FFmpegError:
                    bad_packets += 1  # a damaged packet: skip it, like players do
                    continue
                for frame in decoded:
                    take(resampler.resample(frame))
        except av.FFmpegError as exc:
            # The container broke off (a truncated upload): keep the audio before the break.
            if total == 0:
                raise AudioDecodeError("corrupt_audio") from exc
            logger.warning("Audio %s is truncated after %.1f s: %s", path.name, total / SAMPLE_RATE, exc)
        with contextlib.suppress(av.FFmpegError):  # flushing a broken stream may fail too
            take(resampler.resample(None))
    finally:
        container.close()

    if total == 0:
        raise AudioDecodeError("corrupt_audio" if bad_packets else "empty_audio")
    samples = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    np.clip(samples, -1.0, 1.0, out=samples)
    return DecodedAudio(samples=samples, duration=total / SAMPLE_RATE, format=fmt)


def is_silent(
    samples: np.ndarray,
    *,
    threshold_dbfs: float = -50.0,
    min_voiced_seconds: float = 0.3,
    sample_rate: int = SAMPLE_RATE,
) -> bool:
    """True when fewer than `min_voiced_seconds` of 30 ms frames are louder than `threshold_dbfs`.

    Whisper invents text ("Thank you.") for silence, so silent uploads should not reach it.
    A lone click or a quiet hiss stays "silent"; any real speech passes easily.
    """
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    frame = max(1, int(sample_rate * 0.03))
    count = samples.shape[0] // frame
    if count == 0:
        return True
    frames = samples[: count * frame].reshape(count, frame)
    rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
    loud = rms > 10 ** (threshold_dbfs / 20)
    return float(np.count_nonzero(loud)) * frame / sample_rate < min_voiced_seconds


def encode_wav(samples: np.ndarray, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """16-bit PCM mono WAV bytes for float32 samples in [-1, 1]."""
    pcm = (np.clip(np.asarray(samples, dtype=np.float32).reshape(-1), -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()
