"""The user's own words reach the transcriber: faster-whisper's `hotwords` (local) and the
OpenAI-compatible `prompt` field, within Whisper's 224-token prompt window."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mindpost.ai import get_transcriber
from mindpost.ai.transcribe import PROMPT_MAX_CHARS, LocalTranscriber, OpenAITranscriber
from tests.ai import speech
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


@pytest.fixture
def whisper_calls(local: LocalTranscriber, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The keyword arguments each faster-whisper call gets (the real model still runs)."""
    model = local._model()
    real = model.transcribe
    calls: list[dict[str, Any]] = []

    def spy(audio: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real(audio, **kwargs)

    monkeypatch.setattr(model, "transcribe", spy)
    return calls


def test_local_whisper_gets_the_prompt_and_still_transcribes(
    local: LocalTranscriber, jfk: Path, whisper_calls: list[dict[str, Any]]
) -> None:
    transcript = local.transcribe(audio=jfk, prompt="  Kennedy,\n Americans.  ")
    assert whisper_calls[-1]["hotwords"] == "Kennedy, Americans."
    assert "initial_prompt" not in whisper_calls[-1]
    assert speech.word_error_rate(speech.JFK_TEXT, transcript.text) <= 0.15, transcript.text


def test_local_whisper_without_words_gets_no_prompt(
    local: LocalTranscriber, jfk: Path, whisper_calls: list[dict[str, Any]]
) -> None:
    local.transcribe(audio=jfk, prompt="   ")
    assert "hotwords" not in whisper_calls[-1]
    assert "initial_prompt" not in whisper_calls[-1]


def test_initial_prompt_mode_passes_initial_prompt(
    local: LocalTranscriber, jfk: Path, whisper_calls: list[dict[str, Any]]
) -> None:
    other = LocalTranscriber(model_dir=local.model_dir, prompt_mode="initial_prompt")  # same cached model
    transcript = other.transcribe(audio=jfk, prompt="Kennedy.")
    assert whisper_calls[-1]["initial_prompt"] == "Kennedy."
    assert "hotwords" not in whisper_calls[-1]
    assert "country" in transcript.text.lower()


def test_a_full_vocabulary_prompt_fits_whispers_window(local: LocalTranscriber) -> None:
    from faster_whisper.tokenizer import Tokenizer

    from mindpost.notes.vocabulary import prompt_from_terms

    # 200 long, accented, uncommon names: the worst case for tokens per character.
    terms = [f"Žółćęśńąx Þórðarsonxyz{i:03d}" for i in range(200)]
    prompt = prompt_from_terms(terms)
    assert prompt.startswith(terms[0])
    assert len(prompt) <= PROMPT_MAX_CHARS
    tokenizer = Tokenizer(local._model().hf_tokenizer, multilingual=True, task="transcribe", language="en")
    assert len(tokenizer.encode(" " + prompt)) <= 223  # faster-whisper keeps max_length // 2 - 1


def test_openai_backend_sends_the_prompt_field(openai_backends: FakeOpenAI, jfk: Path) -> None:
    transcriber = get_transcriber()
    assert isinstance(transcriber, OpenAITranscriber)
    transcriber.transcribe(audio=jfk, prompt="Stavros, Nafplio.")
    transcriber.transcribe(audio=jfk)
    with_words, without = openai_backends.calls("/v1/audio/transcriptions")
    assert with_words.field("prompt") == "Stavros, Nafplio."
    assert without.field("prompt") is None
