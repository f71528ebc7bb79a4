"""mindpost.ai.audio: sniffing, decoding every accepted container, silence, and the error codes."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from mindpost.ai import AIError
from mindpost.ai.audio import (
    FORMATS,
    SAMPLE_RATE,
    AudioDecodeError,
    decode,
    encode_wav,
    is_silent,
    sniff_format,
)
from tests.ai.clips import ENCODINGS, dominant_frequency, tone, write_clip


@pytest.mark.parametrize("fmt", list(ENCODINGS))
def test_decodes_each_container_to_16k_mono_float32(tmp_path: Path, fmt: str) -> None:
    rate = ENCODINGS[fmt][2]
    path = write_clip(tmp_path / f"clip{ENCODINGS[fmt][3]}", tone(seconds=1.5, rate=rate, freq=440.0), fmt=fmt)

    decoded = decode(path)

    assert decoded.format == fmt
    assert decoded.samples.dtype == np.float32
    assert decoded.samples.ndim == 1
    assert decoded.duration == pytest.approx(decoded.samples.shape[0] / SAMPLE_RATE)
    assert decoded.duration == pytest.approx(1.5, abs=0.06)  # codecs pad a frame at most
    # Resampled correctly: the tone is still at 440 Hz, and at the level it was written.
    assert dominant_frequency(decoded.samples) == pytest.approx(440.0, abs=3.0)
    assert 0.15 < float(np.abs(decoded.samples).max()) < 0.35
    assert not is_silent(decoded.samples)


def test_browser_webm_without_duration_header_gets_its_real_length(tmp_path: Path) -> None:
    # MediaRecorder writes webm/opus as a live stream: no duration in the header, no cues.
    path = write_clip(tmp_path / "recording.webm", tone(seconds=3.0, rate=48_000), fmt="webm", live=True)
    with av.open(str(path)) as container:
        assert container.duration is None

    decoded = decode(path)

    assert decoded.format == "webm"
    assert decoded.duration == pytest.approx(3.0, abs=0.03)


def test_stereo_44k_is_mixed_down_to_mono(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "stereo.wav", tone(seconds=1.0, rate=44_100), fmt="wav", channels=2)

    decoded = decode(path)

    assert decoded.samples.shape == (16_000,)
    assert dominant_frequency(decoded.samples) == pytest.approx(440.0, abs=3.0)


def test_the_demuxer_comes_from_the_content_not_the_file_name(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "clip.ogg", tone(seconds=1.0, rate=48_000), fmt="ogg")
    renamed = path.rename(tmp_path / "actually-ogg.mp3")

    assert decode(renamed).format == "ogg"


def test_wav_bytes_round_trip() -> None:
    samples = tone(seconds=0.5, rate=SAMPLE_RATE)
    data = encode_wav(samples)

    assert sniff_format(data[:64]) == "wav"
    assert len(data) == 44 + 2 * samples.shape[0]


def test_encode_wav_then_decode_gives_the_samples_back(tmp_path: Path) -> None:
    samples = tone(seconds=0.5, rate=SAMPLE_RATE)
    path = tmp_path / "x.wav"
    path.write_bytes(encode_wav(samples))

    decoded = decode(path)

    assert np.allclose(decoded.samples, samples, atol=1e-3)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "webm"),
        (b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska", "matroska"),
        (b"OggS\x00\x02" + bytes(30), "ogg"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"\x00\x00\x00\x1cftypM4A \x00\x00\x00\x00", "mp4"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "mp4"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x0a" + bytes(10) + b"\xff\xfb\x90\x64", "mp3"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x02" + bytes(2) + b"fLaC", "flac"),
        (b"\xff\xfb\x90\x64\x00\x00", "mp3"),  # MPEG-1 layer III frame, no tag
        (b"\xff\xf1\x50\x80\x02\x1f\xfc", "aac"),  # ADTS
        (b"\xff\xff\xff\xff", None),  # sync bits but reserved fields
        (b"%PDF-1.7\n", None),
        (b"<html>", None),
        (b"GIF89a", None),
        (b"", None),
        (b"Og", None),
    ],
)
def test_sniff_format(head: bytes, expected: str | None) -> None:
    assert sniff_format(head) == expected


def test_every_sniffed_format_has_a_mime_type_and_extension() -> None:
    for name, fmt in FORMATS.items():
        assert fmt.name == name
        assert fmt.mime.startswith("audio/")
        assert fmt.extension.startswith(".")


def _code(path: Path, **kwargs: float) -> str:
    with pytest.raises(AudioDecodeError) as caught:
        decode(path, **kwargs)
    assert isinstance(caught.value, AIError)  # permanent: retrying cannot help
    assert str(caught.value)  # a human-readable message for the API
    return caught.value.code


def test_empty_file_is_empty_audio(tmp_path: Path) -> None:
    path = tmp_path / "empty.webm"
    path.write_bytes(b"")
    assert _code(path) == "empty_audio"


def test_wav_with_a_header_and_no_samples_is_empty_audio(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    path.write_bytes(encode_wav(np.zeros(0, dtype=np.float32)))
    assert _code(path) == "empty_audio"


@pytest.mark.parametrize(
    "content", [b"Just some text, not audio at all.\n" * 20, b"%PDF-1.7\n" + os.urandom(2000), os.urandom(4000)]
)
def test_unknown_content_is_unsupported_format(tmp_path: Path, content: bytes) -> None:
    if sniff_format(content) is not None:  # random bytes can look like an MPEG frame header
        content = b"\x00" + content
    path = tmp_path / "upload.m4a"
    path.write_bytes(content)
    assert _code(path) == "unsupported_format"


@pytest.mark.parametrize("magic", [b"OggS", b"fLaC", b"\x1a\x45\xdf\xa3", b"\x00\x00\x00\x1cftypM4A "])
def test_known_magic_followed_by_garbage_is_corrupt_audio(tmp_path: Path, magic: bytes) -> None:
    path = tmp_path / "broken"
    path.write_bytes(magic + np.random.default_rng(7).bytes(8000))
    assert _code(path) == "corrupt_audio"


def test_truncated_browser_recording_keeps_the_audio_before_the_cut(tmp_path: Path) -> None:
    full = write_clip(tmp_path / "full.webm", tone(seconds=4.0, rate=48_000), fmt="webm", live=True)
    cut = tmp_path / "cut.webm"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])

    decoded = decode(cut)

    assert 1.0 < decoded.duration < 3.0


def test_too_long_stops_decoding_early(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "long.flac", tone(seconds=3.0, rate=44_100), fmt="flac")
    assert _code(path, max_seconds=1.0) == "too_long"
    assert decode(path, max_seconds=5.0).duration == pytest.approx(3.0, abs=0.01)


def test_a_video_only_container_has_no_audio(tmp_path: Path) -> None:
    path = tmp_path / "video.webm"
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), dtype=np.uint8), format="rgb24")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    assert _code(path) == "empty_audio"


def test_unknown_error_code_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown audio error code"):
        AudioDecodeError("bad_code")


def test_silence_detection() -> None:
    rng = np.random.default_rng(1)
    second = SAMPLE_RATE
    assert is_silent(np.zeros(3 * second, dtype=np.float32))
    assert is_silent(np.zeros(0, dtype=np.float32))
    # Room hiss at -70 dBFS, and a single click, are still silence.
    assert is_silent((rng.standard_normal(3 * second) * 10 ** (-70 / 20)).astype(np.float32))
    click = np.zeros(3 * second, dtype=np.float32)
    click[second : second + 40] = 0.8
    assert is_silent(click)
    # A second of a tone at -30 dBFS in three seconds of silence is not.
    voiced = np.zeros(3 * second, dtype=np.float32)
    voiced[second : 2 * second] = tone(seconds=1.0, rate=SAMPLE_RATE, dbfs=-30.0)
    assert not is_silent(voiced)
