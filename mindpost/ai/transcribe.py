"""Speech to text: local faster-whisper (base, int8, CPU) or an OpenAI-compatible /v1/audio/transcriptions."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def _silent(prepared: _Input) -> Transcript:
    return Transcript(text="", language=None, duration=prepared.duration, segments=[])


# One WhisperModel per model directory per process: loading costs ~1 s and ~300 MB.
_whisper_models: dict[Path, Any] = {}
_whisper_lock = threading.Lock()


class LocalTranscriber:
    """faster-whisper on CPU. Transcriptions in one process run one at a time (2 cores are already busy)."""

    model_name = "whisper-base-int8"

    def __init__(self, *, model_dir: Path, cpu_threads: int | None = None, beam_size: int = 5) -> None:
        self.model_dir = Path(model_dir)
        self.cpu_threads = cpu_threads or min(4, os.cpu_count() or 1)
        self.beam_size = beam_size

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

    def transcribe(self, *, audio: Path | np.ndarray, language: str | None = None) -> Transcript:
        code = _check_language(language)
        prepared = _prepare(audio, need_upload=False)
        if audio_mod.is_silent(prepared.samples):
            return _silent(prepared)
        model = self._model()
        try:
            with _whisper_lock:
                pieces, info = model.transcribe(prepared.samples, language=code, beam_size=self.beam_size)
                segments = [
                    Segment(start=round(float(p.start), 2), end=round(float(p.end), 2), text=p.text.strip())
                    for p in pieces  # a generator: the work happens here, under the lock
                    if p.text.strip()
                ]
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

    def transcribe(self, *, audio: Path | np.ndarray, language: str | None = None) -> Transcript:
        code = _check_language(language)
        prepared = _prepare(audio, need_upload=True)
        if audio_mod.is_silent(prepared.samples):
            return _silent(prepared)
        extra: dict[str, Any] = {"language": code} if code else {}
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
