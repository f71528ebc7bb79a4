"""Speech to text: local faster-whisper (base, int8, CPU) or an OpenAI-compatible /v1/audio/transcriptions."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import openai

from . import audio as audio_mod
from .clients import mapped_errors
from .languages import CODES, to_iso
from .types import AIError, Segment, Transcript

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Input:
    samples: np.ndarray
    duration: float
    upload: tuple[str, bytes, str]  # (file name, bytes, mime) for providers that want a file


def _prepare(audio: Path | str | np.ndarray, *, need_upload: bool) -> _Input:
    if isinstance(audio, (str, Path)):
        decoded = audio_mod.decode(audio)
        fmt = audio_mod.FORMATS[decoded.format]
        upload = (f"audio{fmt.extension}", Path(audio).read_bytes(), fmt.mime) if need_upload else ("", b"", "")
        return _Input(decoded.samples, decoded.duration, upload)
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    upload = ("audio.wav", audio_mod.encode_wav(samples), "audio/wav") if need_upload else ("", b"", "")
    return _Input(samples, samples.shape[0] / audio_mod.SAMPLE_RATE, upload)


def _check_language(language: str | None) -> str | None:
    if language is None:
        return None
    code = to_iso(language)
    if code is None or code not in CODES:
        raise AIError(f"Unsupported transcription language {language!r}.")
    return code


# Whisper's prompt window is 224 tokens; a name is 2-4 tokens, so ~600 characters stays inside it
# even for accented names. The caller orders terms by importance, so cutting keeps the best.
PROMPT_MAX_CHARS = 600


def _clean_prompt(prompt: str | None) -> str | None:
    if not prompt or not prompt.strip():
        return None
    text = " ".join(prompt.split())
    if len(text) > PROMPT_MAX_CHARS:
        text = text[:PROMPT_MAX_CHARS].rsplit(" ", 1)[0]
    return text


def _silent(prepared: _Input) -> Transcript:
    return Transcript(text="", language=None, duration=prepared.duration, segments=[])


# One WhisperModel per model directory per process: loading costs ~1 s and ~300 MB.
_whisper_models: dict[Path, Any] = {}
_whisper_lock = threading.Lock()


class LocalTranscriber:
    """faster-whisper on CPU. Transcriptions in one process run one at a time (2 cores are already busy)."""

    model_name = "whisper-base-int8"

    def __init__(
        self,
        *,
        model_dir: Path,
        cpu_threads: int | None = None,
        beam_size: int = 5,
        prompt_mode: Literal["initial_prompt", "hotwords", "both"] = "hotwords",
    ) -> None:
        self.model_dir = Path(model_dir)
        self.cpu_threads = cpu_threads or min(4, os.cpu_count() or 1)
        self.beam_size = beam_size
        self.prompt_mode = prompt_mode

    def _model(self) -> Any:
        with _whisper_lock:
            model = _whisper_models.get(self.model_dir)
            if model is None:
                from faster_whisper import WhisperModel  # here: ctranslate2 is slow to load, and only local needs it

                logger.info("Loading Whisper from %s", self.model_dir)
                model = WhisperModel(
                    str(self.model_dir), device="cpu", compute_type="int8", cpu_threads=self.cpu_threads
                )
                _whisper_models[self.model_dir] = model
            return model

    def transcribe(
        self,
        *,
        audio: Path | np.ndarray,
        language: str | None = None,
        prompt: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        code = _check_language(language)
        prepared = _prepare(audio, need_upload=False)
        if audio_mod.is_silent(prepared.samples):
            return _silent(prepared)
        model = self._model()
        # The user's words go in as `hotwords` by default: on one 30 s window it is the same prompt
        # as `initial_prompt` (same names fixed in bench/name_accuracy.py), but faster-whisper
        # repeats it before every window of a long recording and, when cutting, keeps its start
        # (our most important terms); `initial_prompt` fades after the first window. "both" fixed
        # a few more names but cost WER and 4x the time (docs/benchmarks.md, "Name accuracy").
        bias = _clean_prompt(prompt)
        options: dict[str, Any] = {}
        if bias and self.prompt_mode in ("initial_prompt", "both"):
            options["initial_prompt"] = bias
        if bias and self.prompt_mode in ("hotwords", "both"):
            options["hotwords"] = bias
        try:
            with _whisper_lock:
                pieces, info = model.transcribe(prepared.samples, language=code, beam_size=self.beam_size, **options)
                segments = []
                for p in pieces:  # a generator: the work happens here, under the lock
                    if p.text.strip():
                        segments.append(
                            Segment(start=round(float(p.start), 2), end=round(float(p.end), 2), text=p.text.strip())
                        )
                    if on_progress is not None and prepared.duration > 0:
                        # Segments come out in order, each ending later: its end over the length is the share done.
                        on_progress(min(1.0, float(p.end) / prepared.duration))
        except (RuntimeError, ValueError) as exc:
            raise AIError(f"Local transcription failed: {exc}") from exc
        return Transcript(
            text=" ".join(segment.text for segment in segments),
            language=info.language,
            duration=prepared.duration,
            segments=segments,
        )


class OpenAITranscriber:
    """POST /v1/audio/transcriptions with response_format=verbose_json (segments + detected language)."""

    def __init__(self, *, client: openai.OpenAI, model: str) -> None:
        self.client = client
        self.model_name = model

    def transcribe(
        self,
        *,
        audio: Path | np.ndarray,
        language: str | None = None,
        prompt: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript:
        code = _check_language(language)
        prepared = _prepare(audio, need_upload=True)
        if audio_mod.is_silent(prepared.samples):
            return _silent(prepared)
        extra: dict[str, Any] = {"language": code} if code else {}
        bias = _clean_prompt(prompt)
        if bias:
            extra["prompt"] = bias
        with mapped_errors("Transcription"):
            result = self.client.audio.transcriptions.create(
                file=prepared.upload,
                model=self.model_name,
                response_format="verbose_json",
                timestamp_granularities=["segment"],
                **extra,
            )
        text = getattr(result, "text", None)
        if not isinstance(text, str):
            raise AIError("Transcription response has no text.")
        segments = [
            Segment(start=round(float(s.start), 2), end=round(float(s.end), 2), text=str(s.text).strip())
            for s in (getattr(result, "segments", None) or [])
            if str(s.text).strip()
        ]
        if not segments and text.strip():
            segments = [Segment(start=0.0, end=round(prepared.duration, 2), text=text.strip())]
        return Transcript(
            text=text.strip(),
            language=to_iso(getattr(result, "language", None)) or code,
            duration=prepared.duration,
            segments=segments,
        )
