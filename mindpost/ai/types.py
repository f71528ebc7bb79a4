"""The value types, errors and interfaces shared by every AI backend (see CONTRACTS.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Segment:
    """One timed piece of a transcript."""

    start: float  # seconds
    end: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None  # ISO code, e.g. "en"
    duration: float  # seconds of audio
    segments: list[Segment]


class AIError(Exception):
    """A permanent failure: bad input, a bad response, a 4xx from the provider. Don't retry."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class TransientAIError(AIError):
    """Worth retrying later: timeout, connection refused, 5xx, 429."""


class ModelUnavailable(TransientAIError):
    """The model server is down or not reachable (for example the local LLM server is not running)."""


class ModelNotInstalled(AIError):
    """The weights for a local model are not installed (a `make` target installs them)."""


@runtime_checkable
class Transcriber(Protocol):
    model_name: str

    # `prompt`: the user's own words (names, terms) to bias spelling towards; None for no bias.
    # `on_progress`: called with the fraction of the audio done (0..1) as segments come out;
    # a backend that cannot tell (one HTTP request) calls it never.
    def transcribe(
        self,
        *,
        audio: Path | np.ndarray,
        language: str | None = None,
        prompt: str | None = None,
        on_progress: Callable[[float], None] | None = None,
    ) -> Transcript: ...


@runtime_checkable
class Embedder(Protocol):
    model_name: str
    dimensions: int

    def embed_passages(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


@runtime_checkable
class ChatModel(Protocol):
    model_name: str

    def complete(
        self,
        *,
        messages: list[dict[str, str]],
        max_tokens: int = 512,
        temperature: float = 0.2,
        json: bool = False,
    ) -> str: ...

    def stream(
        self, *, messages: list[dict[str, str]], max_tokens: int = 512, temperature: float = 0.2
    ) -> Iterator[str]: ...

    def astream(
        self, *, messages: list[dict[str, str]], max_tokens: int = 512, temperature: float = 0.2
    ) -> AsyncIterator[str]: ...
