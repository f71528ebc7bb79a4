"""Audio clips for tests, generated with PyAV itself (no system tools needed)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

# format -> (container, codec, sample rate, file suffix)
ENCODINGS: dict[str, tuple[str, str, int, str]] = {
    "webm": ("webm", "libopus", 48_000, ".webm"),
    "ogg": ("ogg", "libopus", 48_000, ".ogg"),
    "mp4": ("ipod", "aac", 44_100, ".m4a"),
    "mp3": ("mp3", "libmp3lame", 44_100, ".mp3"),
    "wav": ("wav", "pcm_s16le", 44_100, ".wav"),
    "flac": ("flac", "flac", 44_100, ".flac"),
    "aac": ("adts", "aac", 44_100, ".aac"),
}


def tone(*, seconds: float, rate: int, freq: float = 440.0, dbfs: float = -12.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_clip(
    path: Path,
    samples: np.ndarray,
    *,
    fmt: str,
    rate: int | None = None,
    channels: int = 1,
    live: bool = False,
) -> Path:
    """Encode mono float32 `samples` (at `rate`, default the format's) into `path`.

    live=True writes webm the way a browser's MediaRecorder does: no duration, no cues.
    """
    container_format, codec, default_rate, _ = ENCODINGS[fmt]
    rate = rate or default_rate
    layout = "mono" if channels == 1 else "stereo"
    options = {"live": "1"} if live else {}
    with av.open(str(path), "w", format=container_format, options=options) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        data = np.tile(samples.reshape(1, -1), (channels, 1)).astype(np.float32)
        block = 4096
        for start in range(0, data.shape[1], block):
            piece = np.ascontiguousarray(data[:, start : start + block])
            frame = av.AudioFrame.from_ndarray(piece, format="fltp", layout=layout)
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def dominant_frequency(samples: np.ndarray, rate: int = 16_000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.shape[0])))
    return float(np.fft.rfftfreq(samples.shape[0], 1 / rate)[int(np.argmax(spectrum))])
