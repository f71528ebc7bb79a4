"""The server-sent event sequence of a streamed answer, shared by the API and the web app.

`start` {conversation_id, found}, `sources` {sources: [passage, ...]} with the passages that
ground the answer (in the order the model sees them; empty when nothing was found), `queue`
{position, ahead} with the number of requests ahead in the model's admission queue (sent at
least once when the model is asked, again whenever it changes; 0 = being answered now), `token`
{text} for each piece, then `done` (the caller's body for the stored reply) or `error`
{code, detail, ...}. The callers differ only in those two bodies.

Evidence first: `start` and `sources` are sent as soon as the passages are retrieved. The model
is shared by every process (mindpost.ai.queue): a turn takes a CHAT ticket before the response
starts. For a cloud backend with a free slot, the model's stream is opened then too (its headers,
not its first token), so a model that is down is a 503 with the passages. For the local server
(which sends a new request's headers only between batches, so opening would hold `sources` back
behind another chat's prompt evaluation) and for a turn that has to wait, a cached health probe
stands in for that check, the stream starts, and the model is opened once the slot is ours.
A failure after that (the model does not answer or answers with an error, the wait times out:
`model_busy`, no first token, a stream that breaks off) is an in-stream `error` event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from mindpost.ai.llmserver import ahealthy
from mindpost.ai.queue import AsyncSlot, Lane, allm_slot
from mindpost.ai.types import AIError
from mindpost.chat import services
from mindpost.core.errors import AppError, NotFound, error_body

logger = logging.getLogger(__name__)

DoneBody = Callable[[services.ChatReply], dict[str, Any]]
BrokenBody = Callable[[services.PreparedTurn], dict[str, Any]]


def sse_event(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


async def not_found_events(prepared: services.PreparedTurn, *, done: DoneBody) -> AsyncIterator[str]:
    """The "nothing in your notes" answer, stored without a model call."""
    reply = await sync_to_async(services.chat_complete)(prepared=prepared)
    yield sse_event("start", {"conversation_id": str(reply.conversation_id), "found": False})
    yield sse_event("sources", {"sources": []})
    yield sse_event("token", {"text": reply.response})
    yield sse_event("done", done(reply))


def _queue_event(ahead: int) -> str:
    # `position` and `ahead` are the same number: 0 = being answered, n = n requests before yours.
    return sse_event("queue", {"position": ahead, "ahead": ahead})


async def answer_events(
    prepared: services.PreparedTurn,
    sources: list[dict[str, Any]],
    *,
    slot: AsyncSlot,
    positions: AsyncGenerator[int],
    ahead: int,
    opened: tuple[AsyncIterator[str], str] | None,
    done: DoneBody,
    broken: BrokenBody,
) -> AsyncIterator[str]:
    """Wait for the model (reporting the place in the queue), relay its tokens, then store the
    answer. `opened` is the model's stream when it was opened before the response started (the
    slot was free at once). `broken` is the error body when the model fails or its stream breaks
    off (the quota unit is given back and nothing is stored). The slot is always given back."""
    conversation_id = str(prepared.conversation.pk) if prepared.conversation else None
    parts: list[str] = []
    try:
        yield sse_event("start", {"conversation_id": conversation_id, "found": True})
        yield sse_event("sources", {"sources": sources})
        yield _queue_event(ahead)
        if opened is None:
            try:
                async for ahead in positions:
                    yield _queue_event(ahead)
            except AppError as exc:  # model_busy: no slot within LLM_QUEUE_TIMEOUT_SECONDS
                await sync_to_async(services.release_unit)(user=prepared.user)
                yield sse_event("error", error_body(code=exc.code, detail=str(exc.detail), **exc.extra))
                return
            try:
                opened = await services.aopen_answer(prepared=prepared)  # gives the unit back if it fails
            except AppError:
                yield sse_event("error", broken(prepared))
                return
        rest, model_name = opened
        try:
            try:
                async for delta in rest:
                    parts.append(delta)
                    yield sse_event("token", {"text": delta})
            except AIError as exc:
                logger.warning("chat stream broke off", extra={"error": str(exc)})
                await sync_to_async(services.release_unit)(user=prepared.user)
                yield sse_event("error", broken(prepared))
                return
        finally:
            # Always release the connection; if the client went away (or the model failed) this is
            # also what stops the model generating. The next request may have the slot at once.
            aclose = getattr(rest, "aclose", None)
            if aclose is not None:
                await aclose()
            await slot.release()
    finally:
        await positions.aclose()
        await slot.release()
    try:
        reply = await sync_to_async(services.chat_finish)(
            prepared=prepared, answer="".join(parts), model_name=model_name
        )
    except NotFound as exc:  # the conversation was deleted meanwhile
        yield sse_event("error", error_body(code=exc.code, detail=str(exc.detail)))
        return
    yield sse_event("done", done(reply))


async def _model_up() -> bool:
    """The cheap check for a turn that must wait: the local server's /health (cached a few seconds).
    A cloud backend is taken to be up; its failures come when the stream is opened."""
    if settings.CHAT_BACKEND != "local":
        return True
    return await ahealthy(settings.LLM_SERVER_URL)


async def open_stream(prepared: services.PreparedTurn, *, done: DoneBody, broken: BrokenBody) -> AsyncIterator[str]:
    """The whole event sequence of a prepared turn, for the API and the web app alike.

    Before any event is sent, the turn joins the model's queue (CHAT lane); with a free slot a
    cloud model's stream is opened here, else (waiting, or the local server) the model is probed.
    Either way a model that is down raises its AppError (503 `model_unavailable`, with the
    passages) while the caller can still answer with a status instead of a stream. Its first
    token is not awaited: `sources` goes out first, then the place in the queue."""
    if not prepared.found:
        return not_found_events(prepared, done=done)
    sources = await sync_to_async(services.sources_payload)(prepared)
    slot = allm_slot(lane=Lane.CHAT)
    positions = slot.positions()
    try:
        ahead = await anext(positions)  # one poll: 0 when a slot was free
        # The local llama.cpp answers a new request's headers only between its batches: opened
        # here while another slot evaluates a prompt, `sources` waited 5.7 s (bench/chat_latency.py).
        # So the local server is probed and opened inside the stream; a cloud one is opened here.
        if ahead == 0 and settings.CHAT_BACKEND != "local":
            opened: tuple[AsyncIterator[str], str] | None = await services.aopen_answer(prepared=prepared)
        else:
            opened = None
            if not await _model_up():
                await sync_to_async(services.release_unit)(user=prepared.user)
                raise services.model_unavailable(prepared)
    except BaseException:
        await positions.aclose()
        await slot.release()
        raise
    return answer_events(
        prepared, sources, slot=slot, positions=positions, ahead=ahead, opened=opened, done=done, broken=broken
    )
