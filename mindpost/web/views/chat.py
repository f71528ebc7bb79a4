"""Chat with your notes: conversations in a sidebar and answers streamed token by token.

The API's chat endpoints take JWTs only; these are the same services behind the browser's
session and CSRF protection. The stream is server-sent events over a POST (read by fetch), the
same event sequence as the API's (mindpost.chat.streaming); only the `done` body differs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mindpost.chat import selectors as chat_selectors
from mindpost.chat import services as chat_services
from mindpost.chat import streaming
from mindpost.chat.models import Conversation
from mindpost.core.errors import AppError, NotFound, app_error_json, error_body
from mindpost.web.helpers import GENERIC_FAILURE, htmx_target, navigate, web_user

logger = logging.getLogger(__name__)


def _page_context(request: HttpRequest, conversation: Conversation | None) -> dict[str, Any]:
    user = web_user(request)
    messages = list(chat_selectors.conversation_messages(conversation=conversation)) if conversation else []
    return {
        "conversations": list(chat_selectors.conversation_list(user=user)[:50]),
        "conversation": conversation,
        "chat_messages": messages,
    }


@login_required
@require_GET
def chat_page(request: HttpRequest, pk: uuid.UUID | None = None) -> HttpResponse:
    conversation = chat_selectors.conversation_get(user=web_user(request), conversation_id=pk) if pk else None
    context = _page_context(request, conversation)
    if htmx_target(request) == "conversation-list":
        return render(request, "web/_conversation_list.html", context)
    return render(request, "web/chat.html", context)


@login_required
@require_GET
def chat_message(request: HttpRequest, pk: uuid.UUID, message_id: uuid.UUID) -> HttpResponse:
    """One stored answer, rendered with its citations (swapped in when a stream ends)."""
    conversation = chat_selectors.conversation_get(user=web_user(request), conversation_id=pk)
    message = chat_selectors.conversation_messages(conversation=conversation).filter(pk=message_id).first()
    if message is None:
        raise NotFound("Message not found.")
    return render(request, "web/_chat_message.html", {"message": message, "conversation": conversation})


@login_required
@require_POST
def chat_delete(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    conversation = chat_selectors.conversation_get(user=web_user(request), conversation_id=pk)
    chat_services.conversation_delete(conversation=conversation)
    return navigate(request, reverse("web:chat"))


def _done(reply: chat_services.ChatReply) -> dict[str, Any]:
    return {
        "conversation_id": str(reply.conversation_id),
        "message_id": str(reply.message_id),
        "found": reply.found,
        "message_url": reverse(
            "web:chat_message", kwargs={"pk": reply.conversation_id, "message_id": reply.message_id}
        ),
        "conversation_url": reverse("web:chat_conversation", kwargs={"pk": reply.conversation_id}),
    }


def _broke_off(prepared: chat_services.PreparedTurn) -> dict[str, Any]:
    # The page cannot show the API's passages in place of an answer: ask again instead.
    return error_body(code="model_unavailable", detail="The answer was cut off. Please ask again.")


async def _guarded(events: AsyncIterator[str]) -> AsyncIterator[str]:
    """A failure mid-stream ends it with an `error` event the page can show, not a dropped connection."""
    try:
        async for event in events:
            yield event
    except Exception:
        logger.exception("web chat stream failed")
        yield streaming.sse_event("error", error_body(code="server_error", detail=GENERIC_FAILURE))
    finally:
        # The page went away: close the inner stream now, which stops the model generating.
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def chat_send(request: HttpRequest) -> HttpResponseBase:
    """POST message (+ conversation_id) → text/event-stream: start, sources, token…, done | error.

    Errors before the first event (bad question, limit reached, model down) are JSON with their
    status, as from the API; the page's script shows their `detail`."""
    if request.method != "POST":
        return JsonResponse(error_body(code="method_not_allowed", detail="Use POST."), status=405)
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse(error_body(code="not_authenticated", detail="Sign in again to chat."), status=401)
    try:
        prepared = await sync_to_async(chat_services.chat_prepare)(
            user=user,
            message=request.POST.get("message", ""),
            conversation_id=request.POST.get("conversation_id") or None,
        )
        events = await streaming.open_stream(prepared, done=_done, broken=_broke_off)
    except AppError as exc:
        return app_error_json(exc)
    response = StreamingHttpResponse(_guarded(events), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


@login_required
@require_POST
def chat_send_plain(request: HttpRequest) -> HttpResponse:
    """Without JavaScript: answer in one go and show the conversation (errors: AppErrorMiddleware)."""
    prepared = chat_services.chat_prepare(
        user=web_user(request),
        message=request.POST.get("message", ""),
        conversation_id=request.POST.get("conversation_id") or None,
    )
    reply = chat_services.chat_complete(prepared=prepared)
    return redirect("web:chat_conversation", pk=reply.conversation_id)
