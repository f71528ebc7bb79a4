"""The chat model over the openai client (against the loopback fake), error mapping, and the factories."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import httpx2
import openai
import pytest

from mindpost.ai import (
    AIError,
    ModelUnavailable,
    TransientAIError,
    get_chat_model,
    get_embedder,
    get_transcriber,
    reset_backends,
)
from mindpost.ai.chat import OpenAIChatModel
from mindpost.ai.clients import mapped_errors
from tests.fakes.openai_server import FakeOpenAI

MESSAGES = [
    {"role": "system", "content": "You answer from the user's notes."},
    {"role": "user", "content": "Who builds boats?"},
]


def collect(chat: Any, **kwargs: Any) -> list[str]:
    async def run() -> list[str]:
        return [piece async for piece in chat.astream(**kwargs)]

    return asyncio.run(run())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_complete_sends_an_openai_chat_request(openai_backends: FakeOpenAI) -> None:
    chat = get_chat_model()

    answer = chat.complete(messages=MESSAGES, max_tokens=50, temperature=0.0)

    assert answer == "Fake answer to: Who builds boats?"
    assert chat.model_name == "gpt-4o-mini"
    (call,) = openai_backends.calls("/v1/chat/completions")
    assert call.headers["authorization"] == f"Bearer {openai_backends.api_key}"
    assert call.json() == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "temperature": 0.0,
        "max_completion_tokens": 50,
    }


def test_json_mode_asks_for_a_json_object(openai_backends: FakeOpenAI) -> None:
    # No message mentions JSON: the model adds a hint, as OpenAI refuses json_object otherwise.
    answer = get_chat_model().complete(messages=MESSAGES, json=True)

    assert json.loads(answer) == {"answer": "Who builds boats?"}
    body = openai_backends.calls("/v1/chat/completions")[0].json()
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0]["role"] == "system"
    assert "JSON" in body["messages"][0]["content"]
    assert body["messages"][1:] == MESSAGES

    get_chat_model().complete(messages=[{"role": "user", "content": "Answer in json please"}], json=True)
    assert openai_backends.calls("/v1/chat/completions")[1].json()["messages"] == [
        {"role": "user", "content": "Answer in json please"}
    ]


def test_stream_and_astream_yield_the_deltas(openai_backends: FakeOpenAI) -> None:
    openai_backends.chat_reply = "Nikos builds boats in Athens."
    chat = get_chat_model()

    pieces = list(chat.stream(messages=MESSAGES, max_tokens=100))
    async_pieces = collect(chat, messages=MESSAGES, max_tokens=100)

    assert pieces == ["Nikos ", "builds ", "boats ", "in ", "Athens."]
    assert async_pieces == pieces
    for call in openai_backends.calls("/v1/chat/completions"):
        assert call.json()["stream"] is True
        assert call.json()["max_completion_tokens"] == 100


def test_reply_is_cut_at_max_tokens(openai_backends: FakeOpenAI) -> None:
    openai_backends.chat_reply = "one two three four five"

    assert get_chat_model().complete(messages=MESSAGES, max_tokens=2) == "one two "


def test_invalid_messages_never_reach_the_provider(openai_backends: FakeOpenAI) -> None:
    chat = get_chat_model()
    for messages in ([], [{"role": "wizard", "content": "hi"}], [{"role": "user"}], [{"role": "user", "content": 3}]):
        with pytest.raises(AIError):
            chat.complete(messages=messages)  # type: ignore[arg-type]
    with pytest.raises(AIError):
        list(chat.stream(messages=MESSAGES, max_tokens=0))
    assert openai_backends.calls("/v1/chat/completions") == []


@pytest.mark.parametrize(
    ("status", "error", "transient"),
    [
        (500, TransientAIError, True),
        (429, TransientAIError, True),
        (503, ModelUnavailable, True),
        (400, AIError, False),
        (404, AIError, False),
    ],
)
def test_errors_are_mapped_for_every_call_style(
    openai_backends: FakeOpenAI, status: int, error: type[AIError], transient: bool
) -> None:
    chat = get_chat_model()
    openai_backends.fail("/v1/chat/completions", status=status, times=3)

    for call in (
        lambda: chat.complete(messages=MESSAGES),
        lambda: list(chat.stream(messages=MESSAGES)),
        lambda: collect(chat, messages=MESSAGES),
    ):
        with pytest.raises(error) as caught:
            call()
        assert isinstance(caught.value, TransientAIError) is transient
        assert caught.value.status_code == status


def test_timeout_is_transient(openai_backends: FakeOpenAI, settings: Any) -> None:
    settings.AI_TIMEOUT_SECONDS = 0.5
    openai_backends.fail("/v1/chat/completions", delay=2.0, times=2)

    with pytest.raises(TransientAIError, match="timed out"):
        get_chat_model().complete(messages=MESSAGES)
    with pytest.raises(TransientAIError):
        collect(get_chat_model(), messages=MESSAGES)


def test_a_stream_that_breaks_off_is_transient(openai_backends: FakeOpenAI) -> None:
    openai_backends.chat_reply = "one two three four five six"
    openai_backends.fail("/v1/chat/completions", drop_after_chunks=3, times=2)
    stream = get_chat_model().stream(messages=MESSAGES)

    assert [next(stream), next(stream)] == ["one ", "two "]  # what arrived before the break is delivered
    with pytest.raises(TransientAIError, match="connection broke") as caught:
        next(stream)
    assert not isinstance(caught.value, ModelUnavailable)  # the server is there; the stream broke

    with pytest.raises(TransientAIError, match="connection broke"):
        collect(get_chat_model(), messages=MESSAGES)


def test_wrong_api_key_is_permanent(openai_backends: FakeOpenAI, settings: Any) -> None:
    settings.OPENAI_API_KEY = "sk-wrong"

    with pytest.raises(AIError) as caught:
        get_chat_model().complete(messages=MESSAGES)
    assert caught.value.status_code == 401
    assert not isinstance(caught.value, TransientAIError)


def test_local_backend_talks_to_the_llm_server_url(openai_fake: FakeOpenAI, settings: Any) -> None:
    # The local backend is the same client pointed at LLM_SERVER_URL, with the preset's model name.
    openai_fake.models.add("smollm2-135m-instruct")
    openai_fake.api_key = "local"
    settings.CHAT_BACKEND = "local"
    settings.LLM_PRESET = "smollm2"
    settings.LLM_SERVER_URL = openai_fake.url

    chat = get_chat_model()
    assert isinstance(chat, OpenAIChatModel)
    assert chat.model_name == "smollm2-135m-instruct"
    assert chat.complete(messages=MESSAGES, max_tokens=20) == "Fake answer to: Who builds boats?"
    body = openai_fake.calls("/v1/chat/completions")[0].json()
    assert body["max_tokens"] == 20  # llama.cpp's name for it
    assert "max_completion_tokens" not in body


def test_local_backend_without_a_running_server_is_model_unavailable(settings: Any) -> None:
    settings.CHAT_BACKEND = "local"
    settings.LLM_SERVER_URL = f"http://127.0.0.1:{closed_port()}/v1"
    settings.AI_MAX_RETRIES = 0
    chat = get_chat_model()

    with pytest.raises(ModelUnavailable, match="not reachable"):
        chat.complete(messages=MESSAGES)
    with pytest.raises(ModelUnavailable):
        list(chat.stream(messages=MESSAGES))
    with pytest.raises(ModelUnavailable):
        collect(chat, messages=MESSAGES)


# --- factories ------------------------------------------------------------------------------


def test_factories_cache_per_process_and_follow_settings(openai_backends: FakeOpenAI, settings: Any) -> None:
    chat = get_chat_model()
    assert get_chat_model() is chat
    assert get_embedder() is get_embedder()
    assert get_transcriber() is get_transcriber()

    settings.CHAT_MODEL = "gpt-4.1-mini"  # any AI setting change resets the cache by itself
    assert get_chat_model() is not chat
    assert get_chat_model().model_name == "gpt-4.1-mini"

    other = get_chat_model()
    reset_backends()
    assert get_chat_model() is not other


def test_misconfiguration_is_reported(settings: Any) -> None:
    settings.CHAT_BACKEND = "openai"
    settings.OPENAI_API_KEY = ""
    with pytest.raises(AIError, match="OPENAI_API_KEY"):
        get_chat_model()

    settings.EMBED_BACKEND = "cloud"
    with pytest.raises(AIError, match="EMBED_BACKEND"):
        get_embedder()

    settings.CHAT_BACKEND = "local"
    settings.LLM_PRESET = "70b"
    with pytest.raises(AIError, match="LLM_PRESET"):
        get_chat_model()


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpx2.ReadTimeout("slow"), TransientAIError),
        (httpx2.ReadError("reset"), TransientAIError),
        (openai.APIError("bad event", httpx2.Request("POST", "http://127.0.0.1/v1"), body=None), AIError),
        (openai.OpenAIError("odd"), AIError),
        (ModelUnavailable("already mapped"), ModelUnavailable),
    ],
)
def test_error_mapping_of_transport_and_client_errors(raised: Exception, expected: type[AIError]) -> None:
    with pytest.raises(expected) as caught, mapped_errors("Test call"):
        raise raised
    assert type(caught.value) is expected
