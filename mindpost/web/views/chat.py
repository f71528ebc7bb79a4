"""Chat with your notes: conversations in a sidebar and answers streamed token by token.

The API's chat endpoints take JWTs only; these are the same services behind the browser's
session and CSRF protection. The stream is server-sent events over a POST (read by fetch).
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

from mindpost.ai.types import AIError
from mindpost.chat import selectors as chat_selectors
from mindpost.chat import services as chat_services
from mindpost.chat import streaming
from mindpost.chat.models import Conversation, Message
from mindpost.core.errors import ApiError
from mindpost.web.helpers import GENERIC_FAILURE, error_fragment, htmx_target, is_htmx, web_user

logger = logging.getLogger(__name__)


def _conversation_or_404(request: HttpRequest, pk: uuid.UUID) -> Conversation:
    from django.http import Http404

    try:
        return chat_selectors.conversation_get(user=web_user(request), conversation_id=pk)
    except ApiError as exc:
        raise Http404 from exc


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
    conversation = _conversation_or_404(request, pk) if pk else None
    context = _page_context(request, conversation)
    if htmx_target(request) == "conversation-list":
        return render(request, "web/_conversation_list.html", context)
    return render(request, "web/chat.html", context)


@login_required
@require_GET
def chat_message(request: HttpRequest, pk: uuid.UUID, message_id: uuid.UUID) -> HttpResponse:
    """One stored answer, rendered with its citations (swapped in when a stream ends)."""
    conversation = _conversation_or_404(request, pk)
    message = Message.objects.filter(conversation=conversation, pk=message_id).first()
    if message is None:
        from django.http import Http404

        raise Http404
    return render(request, "web/_chat_message.html", {"message": message, "conversation": conversation})


@login_required
@require_POST
def chat_delete(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    conversation = _conversation_or_404(request, pk)
    chat_services.conversation_delete(conversation=conversation)
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = reverse("web:chat")
        return response
    return redirect("web:chat")


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
    return {"code": "model_unavailable", "detail": "The answer was cut off. Please ask again."}


async def _events(prepared: chat_services.PreparedTurn) -> AsyncIterator[str]:
    try:
        if not prepared.found:
            async for event in streaming.not_found_events(prepared, done=_done):
                yield event
            return
        try:
            first, rest, model_name = await chat_services.astart_answer(prepared=prepared)
        except ApiError as exc:
            yield streaming.sse_event("error", {"code": exc.code, "detail": str(exc.detail)})
            return
        async for event in streaming.answer_events(prepared, first, rest, model_name, done=_done, broken=_broke_off):
            yield event
    except Exception:
        logger.exception("web chat stream failed")
        yield streaming.sse_event("error", {"code": "server_error", "detail": GENERIC_FAILURE})


async def chat_send(request: HttpRequest) -> HttpResponseBase:
    """POST message (+ conversation_id) → text/event-stream: start, token…, done | error."""
    if request.method != "POST":
        return JsonResponse({"code": "method_not_allowed", "detail": "Use POST."}, status=405)
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse({"code": "not_authenticated", "detail": "Sign in again to chat."}, status=401)
    try:
        prepared = await sync_to_async(chat_services.chat_prepare)(
            user=user,
            message=request.POST.get("message", ""),
            conversation_id=request.POST.get("conversation_id") or None,
        )
    except ApiError as exc:
        return JsonResponse({"code": exc.code, "detail": str(exc.detail), **exc.extra}, status=exc.status_code)
    except AIError:
        detail = "Search is unavailable right now because the search model is not reachable."
        return JsonResponse({"code": "model_unavailable", "detail": detail}, status=503)
    response = StreamingHttpResponse(_events(prepared), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


@login_required
@require_POST
def chat_send_plain(request: HttpRequest) -> HttpResponse:
    """Without JavaScript: answer in one go and show the conversation."""
    try:
        prepared = chat_services.chat_prepare(
            user=web_user(request),
            message=request.POST.get("message", ""),
            conversation_id=request.POST.get("conversation_id") or None,
        )
        reply = chat_services.chat_complete(prepared=prepared)
    except ApiError as exc:
        return error_fragment(request, exc)
    return redirect("web:chat_conversation", pk=reply.conversation_id)
