"""Transcribers: real local Whisper on real speech, and the openai backend against the loopback fake."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mindpost.ai import (
    AIError,
    ModelUnavailable,
    Transcript,
    TransientAIError,
    get_transcriber,
    reset_backends,
)
from mindpost.ai.audio import SAMPLE_RATE, AudioDecodeError, decode
from mindpost.ai.transcribe import LocalTranscriber, OpenAITranscriber
from tests.ai import speech
from tests.ai.clips import tone, write_clip
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture(scope="session")
def jfk() -> Path:
    return speech.jfk_wav()


@pytest.fixture
def local(settings: Any) -> LocalTranscriber:
    settings.TRANSCRIBE_BACKEND = "local"
    transcriber = get_transcriber()
    assert isinstance(transcriber, LocalTranscriber)
    return transcriber


def check_shape(transcript: Transcript, *, duration: float) -> None:
    assert transcript.duration == pytest.approx(duration, abs=0.05)
    assert transcript.segments
    assert " ".join(segment.text for segment in transcript.segments) == transcript.text
    previous_end = 0.0
    for segment in transcript.segments:
        assert previous_end - 0.01 <= segment.start < segment.end <= duration + 0.5
        assert segment.text == segment.text.strip() != ""
        previous_end = segment.end


# --- local: faster-whisper base int8 -----------------------------------------------------


def test_local_whisper_transcribes_real_speech(local: LocalTranscriber, jfk: Path) -> None:
    transcript = local.transcribe(audio=jfk)

    assert local.model_name == "whisper-base-int8"
    assert transcript.language == "en"
    assert speech.word_error_rate(speech.JFK_TEXT, transcript.text) <= 0.1, transcript.text
    check_shape(transcript, duration=11.0)


def test_local_whisper_reads_a_browser_recording(local: LocalTranscriber, jfk: Path, tmp_path: Path) -> None:
    # The same speech as MediaRecorder would upload it: webm/opus at 48 kHz without a duration.
    samples = decode(jfk).samples
    upsampled = np.interp(np.arange(samples.shape[0] * 3) / 3, np.arange(samples.shape[0]), samples)
    webm = write_clip(tmp_path / "note.webm", upsampled.astype(np.float32), fmt="webm", rate=48_000, live=True)

    transcript = local.transcribe(audio=webm, language="en")

    assert transcript.language == "en"
    assert speech.word_error_rate(speech.JFK_TEXT, transcript.text) <= 0.15, transcript.text
    check_shape(transcript, duration=11.0)


def test_local_whisper_takes_samples_and_keeps_the_model_loaded(local: LocalTranscriber, jfk: Path) -> None:
    samples = decode(jfk).samples[: 4 * SAMPLE_RATE]  # "And so my fellow Americans"

    transcript = local.transcribe(audio=samples)

    assert "americans" in transcript.text.lower()
    assert transcript.duration == pytest.approx(4.0)
    model = local._model()
    reset_backends()
    again = get_transcriber()
    assert again is not local
    assert isinstance(again, LocalTranscriber)
    assert again._model() is model  # a reset does not reload the weights


def test_silence_is_an_empty_transcript_not_a_hallucination(local: LocalTranscriber, tmp_path: Path) -> None:
    path = write_clip(tmp_path / "quiet.ogg", np.zeros(48_000 * 3, dtype=np.float32), fmt="ogg")

    transcript = local.transcribe(audio=path)

    assert transcript == Transcript(text="", language=None, duration=transcript.duration, segments=[])
    assert transcript.duration == pytest.approx(3.0, abs=0.03)


def test_unknown_language_is_refused(local: LocalTranscriber) -> None:
    with pytest.raises(AIError, match="language"):
        local.transcribe(audio=np.zeros(SAMPLE_RATE, dtype=np.float32), language="klingon")


def test_bad_upload_raises_the_decode_error(local: LocalTranscriber, tmp_path: Path) -> None:
    path = tmp_path / "not-audio.webm"
    path.write_bytes(b"hello, I am text")

    with pytest.raises(AudioDecodeError) as caught:
        local.transcribe(audio=path)
    assert caught.value.code == "unsupported_format"


# --- openai: /v1/audio/transcriptions against the fake -------------------------------------


def test_openai_transcription_request_and_result(openai_backends: FakeOpenAI, jfk: Path) -> None:
    openai_backends.transcript = "I met Nikos in Athens. He builds boats."
    transcriber = get_transcriber()
    assert isinstance(transcriber, OpenAITranscriber)

    transcript = transcriber.transcribe(audio=jfk)

    assert transcriber.model_name == "whisper-1"
    assert transcript.text == "I met Nikos in Athens. He builds boats."
    assert transcript.language == "en"  # the API says "english"
    check_shape(transcript, duration=11.0)
    assert [s.text for s in transcript.segments] == ["I met Nikos in Athens.", "He builds boats."]
    (call,) = openai_backends.calls("/v1/audio/transcriptions")
    assert call.headers["authorization"] == f"Bearer {openai_backends.api_key}"
    assert call.field("model") == "whisper-1"
    assert call.field("response_format") == "verbose_json"
    assert call.field("timestamp_granularities[]") == "segment"
    assert call.field("language") is None
    upload, filename = call.form["file"]
    assert upload == jfk.read_bytes()  # the original file, not a re-encoding
    assert filename == "audio.wav"


def test_openai_transcription_of_samples_uploads_wav_and_passes_the_language(openai_backends: FakeOpenAI) -> None:
    samples = tone(seconds=2.0, rate=SAMPLE_RATE)

    transcript = get_transcriber().transcribe(audio=samples, language="de")

    assert transcript.language == "de"
    assert transcript.duration == pytest.approx(2.0)
    (call,) = openai_backends.calls("/v1/audio/transcriptions")
    assert call.field("language") == "de"
    assert call.form["file"][1] == "audio.wav"
    assert call.form["file"][0][:4] == b"RIFF"


def test_openai_transcription_skips_silence_and_bad_files_without_a_request(
    openai_backends: FakeOpenAI, tmp_path: Path
) -> None:
    assert get_transcriber().transcribe(audio=np.zeros(SAMPLE_RATE, dtype=np.float32)).text == ""
    garbage = tmp_path / "x.mp3"
    garbage.write_bytes(b"OggS" + bytes(500))
    with pytest.raises(AudioDecodeError):
        get_transcriber().transcribe(audio=garbage)
    assert openai_backends.calls("/v1/audio/transcriptions") == []


@pytest.mark.parametrize(
    ("status", "error", "transient"),
    [
        (500, TransientAIError, True),
        (502, TransientAIError, True),
        (429, TransientAIError, True),
        (503, ModelUnavailable, True),
        (400, AIError, False),
        (413, AIError, False),
    ],
)
def test_openai_transcription_errors_are_mapped(
    openai_backends: FakeOpenAI, status: int, error: type[AIError], transient: bool
) -> None:
    openai_backends.fail("/v1/audio/transcriptions", status=status)

    with pytest.raises(error) as caught:
        get_transcriber().transcribe(audio=tone(seconds=1.0, rate=SAMPLE_RATE))
    assert isinstance(caught.value, TransientAIError) is transient
    assert caught.value.status_code == status


def test_openai_transcription_timeout_is_transient(openai_backends: FakeOpenAI, settings: Any) -> None:
    settings.AI_TIMEOUT_SECONDS = 0.5
    openai_backends.fail("/v1/audio/transcriptions", delay=2.0)

    with pytest.raises(TransientAIError, match="timed out"):
        get_transcriber().transcribe(audio=tone(seconds=1.0, rate=SAMPLE_RATE))


def test_openai_wrong_key_is_permanent(openai_backends: FakeOpenAI, settings: Any) -> None:
    settings.OPENAI_API_KEY = "sk-wrong"

    with pytest.raises(AIError) as caught:
        get_transcriber().transcribe(audio=tone(seconds=1.0, rate=SAMPLE_RATE))
    assert not isinstance(caught.value, TransientAIError)
    assert caught.value.status_code == 401


def test_openai_unreachable_server_is_model_unavailable(openai_backends: FakeOpenAI, settings: Any) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        settings.OPENAI_BASE_URL = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"

    with pytest.raises(ModelUnavailable):
        get_transcriber().transcribe(audio=tone(seconds=1.0, rate=SAMPLE_RATE))
