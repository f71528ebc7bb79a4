"""The model admission queue (mindpost.ai.queue) on the real database: slots, lanes, the
background cap, stale tickets, timeouts, and threads competing through their own connections."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone

from mindpost.ai import queue
from mindpost.ai.queue import Lane, allm_slot, llm_slot
from mindpost.core.errors import Unavailable
from mindpost.core.models import LLMTicket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _quick(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings.LLM_QUEUE_SLOTS = 1
    settings.LLM_QUEUE_TIMEOUT_SECONDS = 30.0
    monkeypatch.setattr(queue, "POLL_SECONDS", 0.02)
    yield
    LLMTicket.objects.all().delete()


def ticket(lane: Lane, *, total: int = 1) -> queue._Ticket:
    made = queue._Ticket(lane=lane, total=total)
    made.open()
    return made


def in_thread(target: Any) -> threading.Thread:
    def run() -> None:
        try:
            target()
        finally:
            connections.close_all()  # this thread's connection: the test database is dropped later

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_for(condition: Any, *, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def test_a_free_slot_is_taken_at_once_and_given_back() -> None:
    seen: list[int] = []
    with llm_slot(lane=Lane.CHAT, on_position=seen.append):
        assert list(LLMTicket.objects.values_list("holding", flat=True)) == [True]
    assert seen == [0]
    assert not LLMTicket.objects.exists()


def test_the_slot_is_given_back_when_the_body_fails() -> None:
    with pytest.raises(RuntimeError), llm_slot(lane=Lane.DRAFT):
        raise RuntimeError("model call failed")
    assert not LLMTicket.objects.exists()


def test_gate_off_touches_nothing(settings: Any) -> None:
    settings.LLM_QUEUE_SLOTS = 0
    holder = ticket(Lane.BACKGROUND)
    holder.poll()
    seen: list[int] = []
    with llm_slot(lane=Lane.BACKGROUND, on_position=seen.append):
        assert LLMTicket.objects.count() == 1  # only the one above: no ticket of its own
    assert seen == [0]
    holder.close()


def test_waiters_go_by_lane_then_arrival() -> None:
    holder = ticket(Lane.CHAT)
    assert holder.poll() == 0
    background, draft, chat, later_chat = (ticket(lane) for lane in (Lane.BACKGROUND, Lane.DRAFT, Lane.CHAT, Lane.CHAT))

    # One request being answered, then the waiters ahead in (lane, arrival) order.
    assert [t.poll() for t in (chat, later_chat, draft, background)] == [1, 2, 3, 4]

    holder.close()
    assert background.poll() > 0  # not their turn
    assert draft.poll() > 0
    assert later_chat.poll() > 0
    assert chat.poll() == 0
    assert [later_chat.poll(), draft.poll(), background.poll()] == [1, 2, 3]
    chat.close()
    assert [draft.poll(), background.poll(), later_chat.poll()] == [1, 2, 0]
    for t in (later_chat, draft, background):
        t.close()


def test_drafts_and_background_leave_one_slot_for_chat(settings: Any) -> None:
    settings.LLM_QUEUE_SLOTS = 3
    first = ticket(Lane.BACKGROUND, total=3)
    second = ticket(Lane.DRAFT, total=3)
    third = ticket(Lane.BACKGROUND, total=3)
    assert first.poll() == 0
    assert second.poll() == 0
    assert third.poll() == 1  # a slot is free, but it is chat's
    chat = ticket(Lane.CHAT, total=3)
    assert chat.poll() == 0
    assert third.poll() == 1
    first.close()
    assert third.poll() == 0
    for t in (second, third, chat):
        t.close()


def test_with_one_slot_background_may_still_use_it() -> None:
    with llm_slot(lane=Lane.BACKGROUND):
        assert LLMTicket.objects.get().holding


def test_stale_tickets_are_reclaimed() -> None:
    old = timezone.now() - timedelta(seconds=queue.STALE_SECONDS + 60)
    LLMTicket.objects.create(lane=Lane.CHAT, holding=True, created_at=old, heartbeat_at=old)  # a crashed holder
    LLMTicket.objects.create(lane=Lane.CHAT, holding=False, created_at=old, heartbeat_at=old)  # a crashed waiter
    seen: list[int] = []
    with llm_slot(lane=Lane.BACKGROUND, on_position=seen.append, timeout=5):
        assert LLMTicket.objects.count() == 1
    assert seen == [0]


def test_a_holder_that_runs_long_keeps_its_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue, "HEARTBEAT_SECONDS", 0.1)
    monkeypatch.setattr(queue, "STALE_SECONDS", 1.0)
    monkeypatch.setattr(queue, "_heartbeat", queue._Heartbeat())  # not one asleep for the usual 5 s
    with llm_slot(lane=Lane.DRAFT):
        time.sleep(2.0)  # twice the staleness: only the heartbeat keeps the ticket fresh
        waiter = ticket(Lane.CHAT)
        assert waiter.poll() == 1
        waiter.close()


def test_a_timeout_is_model_busy_and_leaves_no_ticket() -> None:
    holder = ticket(Lane.CHAT)
    holder.poll()
    seen: list[int] = []
    with pytest.raises(Unavailable) as caught, llm_slot(lane=Lane.CHAT, on_position=seen.append, timeout=0.2):
        pytest.fail("never holds the slot")
    assert caught.value.code == "model_busy"
    assert caught.value.extra["retry_after"] > 0
    assert seen == [1]
    assert list(LLMTicket.objects.values_list("pk", flat=True)) == [holder.id]
    holder.close()


def test_threads_never_hold_more_than_the_slots(settings: Any) -> None:
    settings.LLM_QUEUE_SLOTS = 2
    lock = threading.Lock()
    running = [0]
    most = [0]
    done: list[int] = []

    def work(n: int) -> None:
        with llm_slot(lane=Lane.CHAT if n % 2 else Lane.BACKGROUND):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.15)
            with lock:
                running[0] -= 1
        done.append(n)

    threads = [in_thread(lambda n=n: work(n)) for n in range(6)]
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(done) == list(range(6))
    assert 1 <= most[0] <= 2
    assert not LLMTicket.objects.exists()


def test_a_waiting_chat_goes_before_a_waiting_background_job() -> None:
    order: list[str] = []
    positions: dict[str, list[int]] = {"background": [], "chat": []}

    def wait(name: str, lane: Lane) -> None:
        with llm_slot(lane=lane, on_position=positions[name].append):
            order.append(name)

    with llm_slot(lane=Lane.CHAT):
        background = in_thread(lambda: wait("background", Lane.BACKGROUND))
        wait_for(lambda: positions["background"] == [1])
        chat = in_thread(lambda: wait("chat", Lane.CHAT))
        wait_for(lambda: positions["chat"] == [1] and positions["background"][-1:] == [2])  # chat went first
    chat.join(timeout=30)
    background.join(timeout=30)
    assert order == ["chat", "background"]
    assert positions["chat"] == [1, 0]
    assert positions["background"][:2] == [1, 2]
    assert positions["background"][-1] == 0


def test_the_async_slot_reports_positions_and_releases() -> None:
    holder = ticket(Lane.CHAT)
    holder.poll()

    async def scenario() -> list[int]:
        seen: list[int] = []
        async with allm_slot(lane=Lane.CHAT) as slot:
            async for ahead in slot.positions():
                seen.append(ahead)
                if ahead:
                    await sync_to_async(holder.close)()
            assert slot.holding
            assert await sync_to_async(LLMTicket.objects.filter(holding=True).count)() == 1
        await sync_to_async(connections.close_all)()
        return seen

    assert asyncio.run(scenario()) == [1, 0]
    assert not LLMTicket.objects.exists()


def test_the_async_slot_times_out_as_model_busy() -> None:
    holder = ticket(Lane.CHAT)
    holder.poll()

    async def scenario() -> None:
        try:
            async with allm_slot(lane=Lane.CHAT, timeout=0.1) as slot:
                async for _ahead in slot.positions():
                    pass
        finally:
            await sync_to_async(connections.close_all)()

    with pytest.raises(Unavailable) as caught:
        asyncio.run(scenario())
    assert caught.value.code == "model_busy"
    assert LLMTicket.objects.count() == 1
    holder.close()


def test_a_caller_inside_a_transaction_still_queues_visibly() -> None:
    from django.db import transaction

    seen: list[int] = []
    with transaction.atomic(), llm_slot(lane=Lane.CHAT):
        # Another process (here a thread with its own connection) sees the held slot at once.
        in_thread(lambda: seen.append(LLMTicket.objects.filter(holding=True).count())).join(timeout=30)
    assert seen == [1]
    assert not LLMTicket.objects.exists()
