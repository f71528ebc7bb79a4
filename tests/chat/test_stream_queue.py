"""The place in the model's queue (mindpost.ai.queue) in the chat stream, over real HTTP (uvicorn in
a thread) read by an SSE client: `queue` {position, ahead} after `sources`, counting down while the
turn waits for the model, 0 when it is being answered; `model_busy` when the wait times out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.db import connections

from mindpost.accounts.models import User
from mindpost.ai import queue
from mindpost.ai.queue import Lane
from mindpost.billing.metering import Metric
from mindpost.billing.models import UsageCounter
from mindpost.chat.models import Message
from mindpost.core.models import LLMTicket
from tests.chat.helpers import GREECE, OSAKA, grounded_reply, make_note
from tests.chat.test_stream_sources import SSE, iter_events
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

QUESTION = "Who did I meet in Greece?"


@pytest.fixture
def notes(client: httpx.Client) -> None:
    user = User.objects.get(email="ada@example.com")
    make_note(user, GREECE)
    make_note(user, OSAKA)


@pytest.fixture
def held(settings: Any) -> Iterator[queue._Ticket]:
    """Another process's request holding the only slot."""
    settings.LLM_QUEUE_SLOTS = 1
    ticket = queue._Ticket(lane=Lane.CHAT, total=1)
    ticket.open()
    assert ticket.poll() == 0
    yield ticket
    ticket.close()


def chats_used() -> int:
    return sum(UsageCounter.objects.filter(metric=Metric.CHAT.value).values_list("used", flat=True))


def conversation_url(client: httpx.Client) -> str:
    conversation = client.post("/api/chat/conversations/", json={}).json()
    return f"/api/chat/conversations/{conversation['id']}/messages/"


def positions(received: list[tuple[str, dict[str, Any]]]) -> list[int]:
    return [data["position"] for name, data in received if name == "queue"]


def test_waiting_streams_are_told_their_place_in_line(
    client: httpx.Client, notes: None, chat_fake: FakeOpenAI, settings: Any
) -> None:
    settings.LLM_QUEUE_SLOTS = 1
    chat_fake.chat_reply = grounded_reply
    chat_fake.fail("/v1/chat/completions", first_chunk_delay=1.5, times=3)  # each answer holds the slot a while
    urls = [conversation_url(client) for _ in range(3)]
    received: list[list[tuple[str, dict[str, Any]]]] = [[] for _ in urls]
    errors: list[BaseException] = []

    def ask(n: int) -> None:
        try:
            with (
                httpx.Client(base_url=str(client.base_url), headers=client.headers, timeout=60) as http,
                http.stream("POST", urls[n], json={"message": QUESTION}, headers=SSE) as response,
            ):
                assert response.status_code == 200, response.read()
                for event in iter_events(response):
                    received[n].append(event)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def wait_for_queue_event(n: int) -> None:
        deadline = time.monotonic() + 30
        while not positions(received[n]):
            assert not errors, errors
            assert time.monotonic() < deadline, f"stream {n} got no queue event: {received[n]}"
            time.sleep(0.02)

    # One after the other, so that their places are known: each starts once the one before is in line.
    threads = []
    for n in range(3):
        threads.append(threading.Thread(target=ask, args=(n,), daemon=True))
        threads[-1].start()
        wait_for_queue_event(n)
    for thread in threads:
        thread.join(timeout=90)
    assert not errors, errors

    for events in received:
        names = [name for name, _ in events]
        assert names[:3] == ["start", "sources", "queue"]
        assert names[-1] == "done"
        # The tokens come once the turn holds a slot: after its last `queue` event, which says 0.
        last_queue = max(i for i, name in enumerate(names) if name == "queue")
        assert set(names[last_queue + 1 : -1]) == {"token"}
        assert all(data["ahead"] == data["position"] for name, data in events if name == "queue")
    assert positions(received[0]) == [0]
    assert positions(received[1]) == [1, 0]
    assert positions(received[2]) == [2, 1, 0]
    assert Message.objects.filter(role="assistant").count() == 3
    assert not LLMTicket.objects.exists()


def test_gate_off_says_position_zero_at_once(
    client: httpx.Client, notes: None, chat_fake: FakeOpenAI, settings: Any
) -> None:
    settings.LLM_QUEUE_SLOTS = 0
    chat_fake.chat_reply = grounded_reply
    with client.stream("POST", conversation_url(client), json={"message": QUESTION}, headers=SSE) as response:
        received = list(iter_events(response))
    names = [name for name, _ in received]
    assert names[:3] == ["start", "sources", "queue"]
    assert received[2][1] == {"position": 0, "ahead": 0}
    assert names.count("queue") == 1
    assert names[-1] == "done"
    assert not LLMTicket.objects.exists()


def test_a_wait_that_times_out_is_a_model_busy_event(
    client: httpx.Client, notes: None, chat_fake: FakeOpenAI, settings: Any, held: queue._Ticket
) -> None:
    settings.LLM_QUEUE_TIMEOUT_SECONDS = 0.5
    with client.stream("POST", conversation_url(client), json={"message": QUESTION}, headers=SSE) as response:
        assert response.status_code == 200
        received = list(iter_events(response))
    assert [name for name, _ in received] == ["start", "sources", "queue", "error"]
    assert received[2][1]["position"] == 1
    assert received[3][1]["code"] == "model_busy"
    assert received[3][1]["retry_after"] > 0
    assert chat_fake.calls("/v1/chat/completions") == []
    assert not Message.objects.exists()
    assert list(LLMTicket.objects.values_list("pk", flat=True)) == [held.id]  # ours was given back
    assert chats_used() == 0  # the chat unit was given back too


def test_a_local_model_that_is_down_is_a_503_even_when_waiting(
    client: httpx.Client, notes: None, chat_fake: FakeOpenAI, settings: Any, held: queue._Ticket
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CHAT_BACKEND = "local"
    settings.LLM_SERVER_URL = f"http://127.0.0.1:{port}/v1"
    response = client.post(conversation_url(client), json={"message": QUESTION}, headers=SSE)
    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"
    assert response.json()["passages"]
    assert list(LLMTicket.objects.values_list("pk", flat=True)) == [held.id]


def test_the_json_answer_takes_a_chat_slot_and_can_be_busy(
    client: httpx.Client, notes: None, chat_fake: FakeOpenAI, settings: Any, held: queue._Ticket
) -> None:
    settings.LLM_QUEUE_TIMEOUT_SECONDS = 0.5
    url = conversation_url(client)
    busy = client.post(url, json={"message": QUESTION})
    assert busy.status_code == 503
    assert busy.json()["code"] == "model_busy"
    assert chats_used() == 0
    assert int(busy.headers["Retry-After"]) > 0
    assert chat_fake.calls("/v1/chat/completions") == []

    held.close()
    chat_fake.chat_reply = grounded_reply
    answered = client.post(url, json={"message": QUESTION})
    assert answered.status_code == 201, answered.text
    assert not LLMTicket.objects.exists()
