"""`on_progress`: local Whisper reports each segment as it comes out; the openai backend cannot tell."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mindpost.ai import get_transcriber
from mindpost.ai.transcribe import LocalTranscriber, OpenAITranscriber
from tests.ai import speech
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture(scope="session")
def jfk() -> Path:
    return speech.jfk_wav()


def test_local_whisper_reports_progress_per_segment(settings: Any, jfk: Path) -> None:
    settings.TRANSCRIBE_BACKEND = "local"
    transcriber = get_transcriber()
    assert isinstance(transcriber, LocalTranscriber)
    reports: list[float] = []

    transcript = transcriber.transcribe(audio=jfk, language="en", on_progress=reports.append)

    # One report per segment Whisper yields (some may be blank and dropped from the transcript).
    assert len(reports) >= len(transcript.segments) >= 1
    assert reports == sorted(reports)
    assert all(0 < fraction <= 1 for fraction in reports)
    assert reports[-1] == pytest.approx(transcript.segments[-1].end / transcript.duration, abs=0.05)
    assert reports[-1] > 0.8  # the last segment ends near the end of the 11 s clip


def test_local_whisper_without_a_callback_still_works(settings: Any, jfk: Path) -> None:
    settings.TRANSCRIBE_BACKEND = "local"
    transcript = get_transcriber().transcribe(audio=jfk, language="en")
    assert "americans" in transcript.text.lower()


def test_openai_backend_reports_nothing_in_between(openai_backends: FakeOpenAI, jfk: Path) -> None:
    openai_backends.transcript = "I met Nikos in Athens. He builds boats."
    transcriber = get_transcriber()
    assert isinstance(transcriber, OpenAITranscriber)
    reports: list[float] = []

    transcript = transcriber.transcribe(audio=jfk, on_progress=reports.append)

    assert transcript.text == "I met Nikos in Athens. He builds boats."
    assert reports == []
