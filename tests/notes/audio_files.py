"""Make real audio files for the notes tests: espeak-ng speech, silence, tones, in every format."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import wave
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

# container, codec, file extension for each accepted upload format
FORMATS = {
    "webm": ("webm", "libopus", "webm"),
    "ogg": ("ogg", "libopus", "ogg"),
    "m4a": ("mp4", "aac", "m4a"),
    "mp3": ("mp3", "libmp3lame", "mp3"),
    "flac": ("flac", "flac", "flac"),
    "wav": ("wav", "pcm_s16le", "wav"),
}


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


def speech_wav(text: str, path: Path, *, words_per_minute: int = 130) -> Path:
    """Synthetic speech (espeak-ng, 22.05 kHz mono WAV)."""
    subprocess.run(["espeak-ng", "-s", str(words_per_minute), "-w", str(path), text], check=True, timeout=120)
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as handle:
        rate = handle.getframerate()
        frames = handle.readframes(handle.getnframes())
    return np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32768.0, rate


def wav_bytes(samples: np.ndarray, rate: int = 16_000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes())
    return buffer.getvalue()


def tone(seconds: float, *, rate: int = 16_000, frequency: float = 440.0, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * math.pi * frequency * t)).astype(np.float32)


def silence(seconds: float, *, rate: int = 16_000) -> np.ndarray:
    return np.zeros(int(seconds * rate), dtype=np.float32)


def encode(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    """Encode mono float samples into one of FORMATS with PyAV (no system ffmpeg)."""
    container_name, codec, _ = FORMATS[fmt]
    out_rate = 48_000 if codec == "libopus" else (44_100 if codec in ("aac", "libmp3lame") else rate)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_name) as container:
        stream: Any = container.add_stream(codec, rate=out_rate)
        stream.layout = "mono"
        resampler = av.AudioResampler(format=stream.format, layout="mono", rate=out_rate)
        frame = av.AudioFrame.from_ndarray(
            (np.clip(samples, -1, 1) * 32767).astype(np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = rate
        frame.time_base = Fraction(1, rate)
        frame.pts = 0
        for resampled in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(resampled):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()
