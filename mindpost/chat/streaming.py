"""The server-sent event sequence of a streamed answer, shared by the API and the web app.

`start` {conversation_id, found}, `sources` {sources: [passage, ...]} with the passages that
ground the answer (in the order the model sees them; empty when nothing was found), `token`
{text} for each piece, then `done` (the caller's body for the stored reply) or `error`
{code, detail, ...}. The callers differ only in those two bodies.

Evidence first: `start` and `sources` are sent as soon as the passages are retrieved; the model's
stream is only *opened* before the response starts (its headers, not its first token), so a model
that is down is still a 503 with the passages, and a slow one no longer holds the sources back.
A failure after that (no first token, a stream that breaks off) is an in-stream `error` event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async

from mindpost.ai.types import AIError
from mindpost.chat import services
from mindpost.core.errors import NotFound, error_body

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


async def answer_events(
    prepared: services.PreparedTurn,
    sources: list[dict[str, Any]],
    rest: AsyncIterator[str],
    model_name: str,
    *,
    done: DoneBody,
    broken: BrokenBody,
) -> AsyncIterator[str]:
    """Relay the model's tokens, then store the answer; `broken` is the error body when the model
    stream breaks off (its quota unit is given back and nothing is stored)."""
    conversation_id = str(prepared.conversation.pk) if prepared.conversation else None
    yield sse_event("start", {"conversation_id": conversation_id, "found": True})
    yield sse_event("sources", {"sources": sources})
    parts: list[str] = []
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
        # also what stops the model generating.
        aclose = getattr(rest, "aclose", None)
        if aclose is not None:
            await aclose()
    try:
        reply = await sync_to_async(services.chat_finish)(
            prepared=prepared, answer="".join(parts), model_name=model_name
        )
    except NotFound as exc:  # the conversation was deleted meanwhile
        yield sse_event("error", error_body(code=exc.code, detail=str(exc.detail)))
        return
    yield sse_event("done", done(reply))


async def open_stream(prepared: services.PreparedTurn, *, done: DoneBody, broken: BrokenBody) -> AsyncIterator[str]:
    """The whole event sequence of a prepared turn, for the API and the web app alike.

    The model's stream is opened here, before any event is sent, so a model that is down raises
    its AppError (503 `model_unavailable`, with the passages) while the caller can still answer
    with a status instead of a stream. Its first token is not awaited: `sources` goes out first."""
    if not prepared.found:
        return not_found_events(prepared, done=done)
    sources = await sync_to_async(services.sources_payload)(prepared)
    rest, model_name = await services.aopen_answer(prepared=prepared)
    return answer_events(prepared, sources, rest, model_name, done=done, broken=broken)
