"""End to end over real HTTP: notes in, questions through the API, answers with citations out.

The app runs under uvicorn (ASGI) on a random loopback port against the test database; notes
are created with the notes services and embedded with the real local multilingual-e5; the chat
model is the OpenAI-compatible fake on 127.0.0.1, which answers only from the notes it is given
and records every prompt. The streamed answer is read with a real SSE client (httpx-sse).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from mindpost.accounts.models import User
from mindpost.chat.models import Conversation, Message
from mindpost.chat.prompts import NOT_FOUND_ANSWER
from mindpost.notes.models import Note
from tests.chat.helpers import GREECE, GYM, OSAKA, RUN, grounded_reply, make_note, prompts
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def notes(client: httpx.Client) -> dict[str, Note]:
    user = User.objects.get(email="ada@example.com")
    return {
        key: make_note(user, text) for key, text in {"greece": GREECE, "osaka": OSAKA, "gym": GYM, "run": RUN}.items()
    }


def test_ask_follow_up_and_not_found_over_http(
    client: httpx.Client, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = grounded_reply

    first = client.post("/api/brain-dumps/chat/", json={"message": "Remind me about the person I met in Greece"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert "Stavros" in body["response"]
    assert [c["note_id"] for c in body["citations"]] == [str(notes["greece"].pk)]
    prompt = prompts(chat_fake)[-1]
    assert "Use only the numbered notes" in prompt[0]["content"]
    assert "Stavros" in prompt[-1]["content"]
    assert prompt[-1]["content"].endswith("Question: Remind me about the person I met in Greece")

    follow = client.post(
        "/api/brain-dumps/chat/", json={"message": "What else did he say?", "conversation_id": body["conversation_id"]}
    )
    assert follow.status_code == 200, follow.text
    assert "workshop" in follow.json()["response"]
    assert [c["note_id"] for c in follow.json()["citations"]] == [str(notes["greece"].pk)]
    assert [m["role"] for m in prompts(chat_fake)[-1]] == ["system", "user", "assistant", "user"]

    # The notes are near enough for the model to be asked, and it says it does not know.
    unknown = client.post("/api/brain-dumps/chat/", json={"message": "What's my passport number?"}).json()
    assert unknown["response"] == NOT_FOUND_ANSWER
    assert unknown["citations"] == []
    # Nothing close at all: answered without a model call.
    calls = len(chat_fake.calls("/v1/chat/completions"))
    far = client.post("/api/brain-dumps/chat/", json={"message": "Who won the 1998 world cup?"}).json()
    assert far == {**far, "response": NOT_FOUND_ANSWER, "found": False, "citations": []}
    assert len(chat_fake.calls("/v1/chat/completions")) == calls

    search = client.get("/api/search/", params={"q": "7319"}).json()
    assert search["results"][0]["note_id"] == str(notes["gym"].pk)


def _events(client: httpx.Client, url: str, message: str) -> list[tuple[str, dict[str, Any]]]:
    with connect_sse(client, "POST", url, json={"message": message}) as source:
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [(event.event, event.json()) for event in source.iter_sse()]


def test_streamed_answer_read_with_an_sse_client(
    client: httpx.Client, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = grounded_reply
    conversation = client.post("/api/chat/conversations/", json={}).json()
    url = f"/api/chat/conversations/{conversation['id']}/messages/"

    events = _events(client, url, "Who did I meet in Greece?")
    names = [name for name, _ in events]
    assert names[:2] == ["start", "sources"]
    assert names[-1] == "done"
    assert names.count("token") > 3  # the fake streams word by word, and so do we
    streamed = "".join(data["text"] for name, data in events if name == "token")
    done = events[-1][1]
    assert streamed.strip() == done["response"]
    assert "Stavros" in done["response"]
    assert [c["note_id"] for c in done["citations"]] == [str(notes["greece"].pk)]
    assert done["conversation_id"] == conversation["id"]
    assert chat_fake.calls("/v1/chat/completions")[-1].json()["stream"] is True

    # The streamed turn is stored like any other, and a follow-up streams with memory.
    events = _events(client, url, "what else did he say?")
    assert "workshop" in events[-1][1]["response"]
    detail = client.get(f"/api/chat/conversations/{conversation['id']}/").json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "user", "assistant"]

    # Nothing relevant: one token with the fixed answer, no model call.
    calls = len(chat_fake.calls("/v1/chat/completions"))
    events = _events(client, url, "Who won the 1998 world cup?")
    assert [name for name, _ in events] == ["start", "sources", "token", "done"]
    assert events[-1][1]["response"] == NOT_FOUND_ANSWER
    assert len(chat_fake.calls("/v1/chat/completions")) == calls

    # Without the Accept header the same endpoint answers in JSON; ?format=sse also streams.
    plain = client.post(url, json={"message": "Who did I meet in Greece?"})
    assert plain.status_code == 201
    assert plain.headers["content-type"] == "application/json"
    streamed_by_format = client.post(f"{url}?format=sse", json={"message": "Who did I meet in Greece?"})
    assert streamed_by_format.headers["content-type"].startswith("text/event-stream")
    assert streamed_by_format.text.rstrip().splitlines()[-2] == "event: done"


def test_stream_errors(client: httpx.Client, notes: dict[str, Note], chat_fake: FakeOpenAI, settings: Any) -> None:
    conversation = client.post("/api/chat/conversations/", json={}).json()
    url = f"/api/chat/conversations/{conversation['id']}/messages/"
    headers = {"Accept": "text/event-stream"}

    # Bad input is a JSON 4xx even when a stream was asked for.
    response = client.post(url, json={"message": ""}, headers=headers)
    assert response.status_code == 400
    assert response.json()["code"] == "empty_message"
    response = client.post(
        "/api/chat/conversations/7a1f3c52-8a55-4c0e-9a55-000000000000/messages/",
        json={"message": "hi"},
        headers=headers,
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"

    # The model is down: a 503 with the passages before any event is sent (its stream could not be opened).
    chat_fake.fail("/v1/chat/completions", status=503)
    response = client.post(url, json={"message": "Who did I meet in Greece?"}, headers=headers)
    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"
    assert response.json()["passages"][0]["note_id"] == str(notes["greece"].pk)

    # The stream breaks off half-way: an error event, and nothing is stored.
    chat_fake.chat_reply = grounded_reply
    chat_fake.fail("/v1/chat/completions", drop_after_chunks=3)
    events = _events(client, url, "Who did I meet in Greece?")
    assert [name for name, _ in events[:2]] == ["start", "sources"]
    assert events[-1][0] == "error"
    assert events[-1][1]["code"] == "model_unavailable"
    assert not Message.objects.filter(conversation__pk=conversation["id"]).exists()
    assert Conversation.objects.filter(pk=conversation["id"]).exists()


def test_the_real_local_model_answers_in_the_expected_shape(
    client: httpx.Client, notes: dict[str, Note], smollm2_server: str, settings: Any
) -> None:
    # SmolLM2-135M makes facts up: only the shape of the answers is checked. The server is the
    # session's shared one (tests/conftest.py); greedy decoding, and a generous timeout because
    # the suite may keep both cores busy.
    settings.CHAT_BACKEND = "local"
    settings.LLM_PRESET = "smollm2"
    settings.LLM_SERVER_URL = smollm2_server
    settings.AI_TIMEOUT_SECONDS = 180.0
    settings.AI_MAX_RETRIES = 0
    settings.CHAT_TEMPERATURE = 0.0
    settings.CHAT_MAX_TOKENS = 40
    client.timeout = httpx.Timeout(240.0)
    body = client.post("/api/brain-dumps/chat/", json={"message": "Remind me about the person I met in Greece"}).json()
    assert isinstance(body["response"], str)
    assert body["response"].strip()
    assert body["found"] is True
    known = {str(note.pk) for note in notes.values()}
    assert all(c["note_id"] in known for c in body["citations"])

    events = _events(client, f"/api/chat/conversations/{body['conversation_id']}/messages/", "What else did he say?")
    assert events[0][0] == "start"
    assert events[-1][0] == "done"
    assert events[-1][1]["response"].strip()
    assert Message.objects.filter(conversation__pk=body["conversation_id"]).count() == 4
