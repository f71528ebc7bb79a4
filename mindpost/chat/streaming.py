"""The server-sent event sequence of a streamed answer, shared by the API and the web app.

`start` {conversation_id, found}, `token` {text} for each piece, then `done` (the caller's body
for the stored reply) or `error` {code, detail, ...}. The callers differ only in those two bodies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async

from mindpost.ai.types import AIError
from mindpost.chat import services
from mindpost.core.errors import ApiError, error_body

logger = logging.getLogger(__name__)

DoneBody = Callable[[services.ChatReply], dict[str, Any]]
BrokenBody = Callable[[services.PreparedTurn], dict[str, Any]]


def sse_event(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


async def not_found_events(prepared: services.PreparedTurn, *, done: DoneBody) -> AsyncIterator[str]:
    """The "nothing in your notes" answer, stored without a model call."""
    reply = await sync_to_async(services.chat_complete)(prepared=prepared)
    yield sse_event("start", {"conversation_id": str(reply.conversation_id), "found": False})
    yield sse_event("token", {"text": reply.response})
    yield sse_event("done", done(reply))


async def answer_events(
    prepared: services.PreparedTurn,
    first: str,
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
    parts = [first]
    completed = False
    try:
        if first:
            yield sse_event("token", {"text": first})
        try:
            async for delta in rest:
                parts.append(delta)
                yield sse_event("token", {"text": delta})
        except AIError as exc:
            logger.warning("chat stream broke off", extra={"error": str(exc)})
            await sync_to_async(services.release_unit)(user=prepared.user)
            yield sse_event("error", broken(prepared))
            return
        completed = True
    finally:
        if not completed:
            # The client went away (or the model failed): stop generating.
            aclose = getattr(rest, "aclose", None)
            if aclose is not None:
                await aclose()
    try:
        reply = await sync_to_async(services.chat_finish)(
            prepared=prepared, answer="".join(parts), model_name=model_name
        )
    except ApiError as exc:  # the conversation was deleted meanwhile
        yield sse_event("error", error_body(code=exc.code, detail=str(exc.detail)))
        return
    yield sse_event("done", done(reply))
