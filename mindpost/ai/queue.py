"""The admission queue in front of the local model, shared by every web and worker process.

One llama.cpp server decodes LLM_PARALLEL requests at once for every process on every machine;
what arrives beyond that would wait inside llama.cpp, invisibly and first come first served.
So each model call first takes a *ticket* (a row of core_llmticket) and waits for a slot:

- at most LLM_QUEUE_SLOTS tickets hold a slot (0 = no gate: a cloud backend scales itself);
- waiting tickets go in (lane, arrival) order: CHAT before DRAFT before BACKGROUND;
- DRAFT and BACKGROUND together hold at most slots - 1 (at least 1), so a chat that arrives
  finds a free slot instead of waiting behind a long background generation;
- a waiter learns how many requests are ahead of it (`on_position`, the chat stream's `queue`
  event); 0 means it holds a slot;
- crashed processes don't block anyone: waiters refresh their ticket on every poll and a
  process-wide thread refreshes held ones, and any poll deletes tickets whose heartbeat is older
  than STALE_SECONDS. Released tickets are deleted, so the table holds only live requests.

Waiters poll (POLL_SECONDS). LISTEN/NOTIFY would wake them sooner, but needs a dedicated
connection per waiting process outside any pool, and a missed notification still needs the
poll; at ~4 polls a second of one short transaction each, polling costs less than the model's
own time by orders of magnitude. Every poll takes a transaction-level advisory lock, so two
processes never grant the same last slot.

    with llm_slot(lane=Lane.DRAFT, on_position=report):
        model.complete(...)

    async with allm_slot(lane=Lane.CHAT) as slot:
        async for ahead in slot.positions():  # ends holding the slot (last value 0)
            ...
        ...  # model call; the slot is released on leaving the block
"""

from __future__ import annotations

import contextlib
import enum
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from types import TracebackType
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from mindpost.core import metrics
from mindpost.core.errors import Unavailable

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # a waiter notices a free slot within this
HEARTBEAT_SECONDS = 5.0  # held tickets are refreshed this often
STALE_SECONDS = 30.0  # a ticket not refreshed for this long belongs to a dead process
_LOCK_KEY = 0x4D505F4C4C4D  # "MP_LLM": the advisory lock that serialises grants


class Lane(enum.IntEnum):
    """Priority of a model call: lower goes first."""

    CHAT = 0  # someone is watching the answer stream
    DRAFT = 1  # someone asked and waits, but less interactively
    BACKGROUND = 2  # nobody is waiting (titles, summaries, ...)


def slots() -> int:
    return max(0, int(settings.LLM_QUEUE_SLOTS))


def background_cap(total: int) -> int:
    """How many slots DRAFT and BACKGROUND may hold together: one is kept for chat."""
    return max(1, total - 1)


def busy_error(*, ahead: int) -> Unavailable:
    return Unavailable(
        "The language model is busy with other requests. Please try again in a moment.",
        code="model_busy",
        extra={"retry_after": max(5, min(60, 10 * ahead)), "ahead": ahead},
    )


# --- One ticket ------------------------------------------------------------------------------


class _Ticket:
    """A row of core_llmticket and the connection it is polled on (blocking calls)."""

    def __init__(self, *, lane: Lane, total: int) -> None:
        self.lane = Lane(lane)
        self.total = total
        self.id: int | None = None
        self.holding = False
        self._own_conn: Any = None

    def _connection(self) -> Any:
        """This thread's connection, looked up on every call (Django's are per thread and may have
        been closed in between), unless the caller is inside a transaction: then the ticket would be
        invisible to every other process until it commits, so it gets a connection of its own."""
        conn = self._own_conn
        if conn is None:
            conn = connections[DEFAULT_DB_ALIAS]
            if conn.in_atomic_block:
                conn = self._own_conn = connections.create_connection(DEFAULT_DB_ALIAS)
        conn.ensure_connection()
        return conn

    def open(self) -> None:
        conn = self._connection()
        with conn.cursor() as cursor:
            cursor.execute(
                "INSERT INTO core_llmticket (lane, holding, created_at, heartbeat_at) "
                "VALUES (%s, false, clock_timestamp(), clock_timestamp()) RETURNING id",
                [int(self.lane)],
            )
            self.id = int(cursor.fetchone()[0])

    def poll(self) -> int:
        """Refresh the ticket and take a slot if it is our turn: the requests ahead (0 = holding)."""
        assert self.id is not None
        conn = self._connection()
        with conn.connection.transaction(), conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            cursor.execute(
                "DELETE FROM core_llmticket WHERE heartbeat_at < clock_timestamp() - make_interval(secs => %s)",
                [STALE_SECONDS],
            )
            cursor.execute(
                "UPDATE core_llmticket SET heartbeat_at = clock_timestamp() WHERE id = %s RETURNING holding",
                [self.id],
            )
            row = cursor.fetchone()
            if row is None:
                # Reclaimed as stale (this process was stalled): back in line at the same place.
                cursor.execute(
                    "INSERT INTO core_llmticket (id, lane, holding, created_at, heartbeat_at) "
                    "VALUES (%s, %s, false, clock_timestamp(), clock_timestamp())",
                    [self.id, int(self.lane)],
                )
            elif row[0]:
                self.holding = True
                return 0
            cursor.execute(
                "SELECT count(*) FILTER (WHERE holding), "
                "count(*) FILTER (WHERE holding AND lane > 0), "
                "count(*) FILTER (WHERE NOT holding AND (lane, id) < (%s, %s)), "
                "count(*) FILTER (WHERE NOT holding AND lane > 0 AND (lane, id) < (%s, %s)) "
                "FROM core_llmticket",
                [int(self.lane), self.id, int(self.lane), self.id],
            )
            holders, bg_holders, before, bg_before = (int(n) for n in cursor.fetchone())
            ahead = _ahead(
                lane=self.lane,
                total=self.total,
                holders=holders,
                bg_holders=bg_holders,
                before=before,
                bg_before=bg_before,
            )
            if ahead == 0:
                cursor.execute("UPDATE core_llmticket SET holding = true WHERE id = %s", [self.id])
                self.holding = True
        if self.holding:
            _heartbeat.add(self.id)
        return ahead

    def __del__(self) -> None:
        # Dropped without close() (a response never iterated): stop refreshing it, so that it goes
        # stale and the next poll anywhere reclaims the slot.
        if self.id is not None:
            _heartbeat.discard(self.id)

    def close(self) -> None:
        """Give the slot (or the place in line) back. Never raises: staleness is the fallback."""
        ticket_id, self.id = self.id, None
        try:
            if ticket_id is not None:
                _heartbeat.discard(ticket_id)
                with self._connection().cursor() as cursor:
                    cursor.execute("DELETE FROM core_llmticket WHERE id = %s", [ticket_id])
        except Exception:
            logger.exception("could not release an LLM queue ticket; it expires in %s s", STALE_SECONDS)
        finally:
            if self._own_conn is not None:
                self._own_conn.close()
                self._own_conn = None
            self.holding = False


def _ahead(*, lane: Lane, total: int, holders: int, bg_holders: int, before: int, bg_before: int) -> int:
    """0 when a waiting ticket may take a slot now, else how many requests are ahead of it.

    `before` counts the waiting tickets ahead in (lane, arrival) order (for DRAFT/BACKGROUND,
    every waiting chat is among them); a waiter goes when they all fit in the free slots too.
    Otherwise the number is the waiters ahead plus the holders that must finish first, at least 1.
    """
    ahead = before + holders - total + 1
    if lane != Lane.CHAT:
        ahead = max(ahead, bg_before + bg_holders - background_cap(total) + 1)
    return max(0, ahead)


class _Heartbeat:
    """One thread per process refreshes every ticket this process holds (it runs the model call
    meanwhile). It opens a connection per beat and closes it: nothing lingers between requests."""

    def __init__(self) -> None:
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    def add(self, ticket_id: int) -> None:
        with self._lock:
            self._ids.add(ticket_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="llm-queue-heartbeat", daemon=True)
                self._thread.start()

    def discard(self, ticket_id: int) -> None:
        with self._lock:
            self._ids.discard(ticket_id)

    def _run(self) -> None:
        while True:
            with self._lock:
                self._wake.wait(HEARTBEAT_SECONDS)
                ids = sorted(self._ids)
                if not ids:
                    self._thread = None
                    return
            try:
                with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
                    cursor.execute(
                        "UPDATE core_llmticket SET heartbeat_at = clock_timestamp() WHERE id = ANY(%s)", [ids]
                    )
            except Exception:
                logger.exception("LLM queue heartbeat failed")
            finally:
                connections[DEFAULT_DB_ALIAS].close()


_heartbeat = _Heartbeat()


# --- Public API ------------------------------------------------------------------------------


def _deadline(timeout: float | None) -> float:
    return time.monotonic() + (settings.LLM_QUEUE_TIMEOUT_SECONDS if timeout is None else timeout)


@contextlib.contextmanager
def llm_slot(
    *, lane: Lane, on_position: Callable[[int], None] | None = None, timeout: float | None = None
) -> Iterator[None]:
    """Wait for a model slot, hold it while the body runs, always give it back.

    `on_position(n)` is called with the number of requests ahead whenever it changes, and with 0
    once the slot is held (at least once). Waiting longer than `timeout` seconds (default
    LLM_QUEUE_TIMEOUT_SECONDS) raises Unavailable(code="model_busy", extra={"retry_after": ...})."""
    total = slots()
    if total == 0:
        if on_position is not None:
            on_position(0)
        yield
        return
    ticket = _Ticket(lane=lane, total=total)
    deadline = _deadline(timeout)
    started = time.monotonic()
    try:
        ticket.open()
        last = -1
        while True:
            ahead = ticket.poll()
            if ahead != last:
                last = ahead
                if on_position is not None:
                    on_position(ahead)
            if ahead == 0:
                break
            if time.monotonic() >= deadline:
                metrics.observe_queue_wait(lane=lane, outcome="timeout", seconds=time.monotonic() - started)
                raise busy_error(ahead=ahead)
            time.sleep(POLL_SECONDS)
        metrics.observe_queue_wait(lane=lane, outcome="granted", seconds=time.monotonic() - started)
        yield
    finally:
        ticket.close()


class AsyncSlot:
    """The async form of llm_slot, for the streaming views.

    `positions()` yields the number of requests ahead whenever it changes and ends right after
    yielding 0, holding the slot (it raises Unavailable `model_busy` on timeout, the ticket given
    back). `release()` gives the slot back and may be called any number of times; leaving
    `async with` calls it. The database work runs in the caller's thread-sensitive executor."""

    def __init__(self, *, lane: Lane, timeout: float | None = None) -> None:
        self.lane = Lane(lane)
        self.timeout = timeout
        self._total = slots()
        self._ticket: _Ticket | None = None

    @property
    def holding(self) -> bool:
        return self._total == 0 or (self._ticket is not None and self._ticket.holding)

    async def positions(self) -> AsyncGenerator[int]:
        import asyncio

        from asgiref.sync import sync_to_async

        if self._total == 0:
            yield 0
            return
        ticket = self._ticket = _Ticket(lane=self.lane, total=self._total)
        deadline = _deadline(self.timeout)
        started = time.monotonic()
        await sync_to_async(ticket.open)()
        last = -1
        while True:
            ahead = await sync_to_async(ticket.poll)()
            if ahead == 0:
                metrics.observe_queue_wait(lane=self.lane, outcome="granted", seconds=time.monotonic() - started)
            if ahead != last:
                last = ahead
                yield ahead
            if ahead == 0:
                return
            if time.monotonic() >= deadline:
                metrics.observe_queue_wait(lane=self.lane, outcome="timeout", seconds=time.monotonic() - started)
                await self.release()
                raise busy_error(ahead=ahead)
            await asyncio.sleep(POLL_SECONDS)

    async def release(self) -> None:
        from asgiref.sync import sync_to_async

        ticket, self._ticket = self._ticket, None
        if ticket is not None:
            await sync_to_async(ticket.close)()

    async def __aenter__(self) -> AsyncSlot:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.release()


def allm_slot(*, lane: Lane, timeout: float | None = None) -> AsyncSlot:
    """`async with allm_slot(lane=...) as slot: async for ahead in slot.positions(): ...`"""
    return AsyncSlot(lane=lane, timeout=timeout)
