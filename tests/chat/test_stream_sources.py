"""Evidence first: the chat stream sends `sources` (the passages that ground the answer) right after
`start`, before the model's first token, over real HTTP (uvicorn in a thread) read by an SSE client
that parses the `event:` / `data:` lines itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mindpost.accounts.models import User
from mindpost.chat.models import Message
from mindpost.notes.models import Note
from tests.chat.helpers import GREECE, GYM, OSAKA, grounded_reply, make_note
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SSE = {"Accept": "text/event-stream"}


@pytest.fixture
def notes(client: httpx.Client) -> dict[str, Note]:
    user = User.objects.get(email="ada@example.com")
    return {key: make_note(user, text) for key, text in {"greece": GREECE, "osaka": OSAKA, "gym": GYM}.items()}


@pytest.fixture
def url(client: httpx.Client) -> str:
    conversation = client.post("/api/chat/conversations/", json={}).json()
    return f"/api/chat/conversations/{conversation['id']}/messages/"


def iter_events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """A minimal SSE parser: blocks of `event:` / `data:` lines separated by a blank line."""
    name, data = "message", ""
    for line in response.iter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data += line[5:].strip()
        elif line == "" and data:
            yield name, json.loads(data)
            name, data = "message", ""


def events(client: httpx.Client, url: str, message: str) -> list[tuple[str, dict[str, Any]]]:
    with client.stream("POST", url, json={"message": message}, headers=SSE) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(iter_events(response))


def test_sources_come_first_with_the_passages_given_to_the_model(
    client: httpx.Client, url: str, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = grounded_reply
    chat_fake.fail("/v1/chat/completions", first_chunk_delay=1.0)  # a model still evaluating its prompt

    received = events(client, url, "Who did I meet in Greece?")
    names = [name for name, _ in received]
    assert names[:3] == ["start", "sources", "queue"]  # queue: the place in line (tests/chat/test_stream_queue.py)
    assert names[-1] == "done"
    assert set(names[3:-1]) == {"token"}
    assert names.count("sources") == 1

    sources = received[1][1]["sources"]
    assert sources, "the passages that ground the answer"
    for source in sources:
        assert set(source) == {"passage_id", "note_id", "note_title", "note_created_at", "excerpt", "start", "end"}
    greece = notes["greece"]
    first = sources[0]
    assert first["note_id"] == str(greece.pk)
    assert first["note_title"] == greece.title
    assert first["note_created_at"] == greece.created_at.isoformat()
    assert "Stavros" in first["excerpt"]
    # In the order given to the model: passage [n] in the prompt is sources[n-1].
    prompt = chat_fake.calls("/v1/chat/completions")[-1].json()["messages"][-1]["content"]
    assert "Stavros" in prompt.split("[1]", 1)[1].split("[2]", 1)[0]
    done = received[-1][1]
    assert done["citations"][0]["passage_id"] == first["passage_id"]


def test_sources_do_not_wait_for_the_first_token(
    client: httpx.Client, url: str, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    # The model sends its headers at once and its first token only after a minute; the client
    # gives up reading after 15 s. Waiting for the first token (as before) would time out here.
    chat_fake.fail("/v1/chat/completions", first_chunk_delay=60)
    client.timeout = httpx.Timeout(15.0)
    seen: list[str] = []
    with client.stream("POST", url, json={"message": "Who did I meet in Greece?"}, headers=SSE) as response:
        assert response.status_code == 200
        for name, data in iter_events(response):
            seen.append(name)
            if name == "sources":
                assert data["sources"][0]["note_id"] == str(notes["greece"].pk)
                break
    assert seen == ["start", "sources"]


def test_nothing_found_sends_empty_sources(
    client: httpx.Client, url: str, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    received = events(client, url, "Who won the 1998 world cup?")
    assert [name for name, _ in received] == ["start", "sources", "token", "done"]
    assert received[1][1] == {"sources": []}
    assert chat_fake.calls("/v1/chat/completions") == []


def test_model_down_is_a_503_and_no_first_token_is_an_error_event(
    client: httpx.Client, url: str, notes: dict[str, Note], chat_fake: FakeOpenAI, settings: Any
) -> None:
    # Down (the server answers an error status when the stream is opened): a JSON 503 with the passages.
    chat_fake.fail("/v1/chat/completions", status=503)
    response = client.post(url, json={"message": "Who did I meet in Greece?"}, headers=SSE)
    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"
    assert response.json()["passages"][0]["note_id"] == str(notes["greece"].pk)

    # Up but no first token in time: the sources are out already, so the stream ends with `error`.
    settings.AI_TIMEOUT_SECONDS = 1.0
    chat_fake.fail("/v1/chat/completions", first_chunk_delay=4)
    received = events(client, url, "Who did I meet in Greece?")
    assert [name for name, _ in received] == ["start", "sources", "queue", "error"]
    assert received[-1][1]["code"] == "model_unavailable"
    assert not Message.objects.exists()
