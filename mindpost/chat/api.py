"""Chat endpoints. Thin: parse, call a service or selector, render.

Streaming: POST /api/chat/conversations/{id}/messages/ with `Accept: text/event-stream`. The
URL's view is async (see `ConversationMessagesView.as_view`): authentication, throttling, input
checks, quota and retrieval run in DRF's usual (sync) dispatch in a worker thread; the model's
tokens are then relayed from the event loop, so a long answer holds no thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.chat import selectors, services, streaming
from mindpost.chat.models import Conversation
from mindpost.core.errors import AppError, Invalid, app_error_json, error_body
from mindpost.core.pagination import PageNumberPagination

logger = logging.getLogger(__name__)

# --- Serializers (explicit fields; also the OpenAPI schema) -----------------------------------


class CitationOutput(serializers.Serializer):
    index = serializers.IntegerField(help_text="The number of the passage in the prompt ([n] markers).")
    marked = serializers.BooleanField(help_text="The model cited it itself with a valid [n] marker.")
    note_id = serializers.UUIDField()
    passage_id = serializers.IntegerField()
    note_created_at = serializers.DateTimeField(allow_null=True)
    excerpt = serializers.CharField()
    start = serializers.FloatField(allow_null=True, help_text="Seconds into the recording.")
    end = serializers.FloatField(allow_null=True)


class PassageOutput(serializers.Serializer):
    note_id = serializers.UUIDField()
    passage_id = serializers.IntegerField()
    note_created_at = serializers.DateTimeField(allow_null=True)
    excerpt = serializers.CharField()
    start = serializers.FloatField(allow_null=True)
    end = serializers.FloatField(allow_null=True)


class ChatInput(serializers.Serializer):
    message = serializers.CharField(help_text="The question (at most CHAT_MAX_MESSAGE_CHARS characters).")
    conversation_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Continue this conversation; omitted: start a new one."
    )


class MessageInput(serializers.Serializer):
    message = serializers.CharField()


class ChatOutput(serializers.Serializer):
    response = serializers.CharField()
    citations = CitationOutput(many=True)
    conversation_id = serializers.UUIDField()
    message_id = serializers.UUIDField(help_text="The stored answer.")
    found = serializers.BooleanField(help_text="False: nothing relevant in the notes (no model was asked).")


class ModelUnavailableOutput(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    passages = PassageOutput(many=True)
    conversation_id = serializers.UUIDField(allow_null=True)


class ConversationInput(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ConversationOutput(serializers.Serializer):
    id = serializers.UUIDField()
    title = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    message_count = serializers.IntegerField(required=False)


class MessageOutput(serializers.Serializer):
    id = serializers.UUIDField()
    role = serializers.CharField()
    kind = serializers.CharField()
    content = serializers.CharField()
    citations = CitationOutput(many=True)
    created_at = serializers.DateTimeField()


class ConversationDetailOutput(ConversationOutput):
    messages = MessageOutput(many=True)


def _reply_body(reply: services.ChatReply) -> dict[str, Any]:
    return {
        "response": reply.response,
        "citations": reply.citations,
        "conversation_id": str(reply.conversation_id),
        "message_id": str(reply.message_id),
        "found": reply.found,
    }


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise Invalid("Send a JSON object.", code="malformed_request")
    return request.data


# --- Chat (reference path) --------------------------------------------------------------------


class BrainDumpChatView(APIView):
    """The reference client's chat: {"message"} -> {"response"}, now with citations and memory."""

    throttle_scope = "chat"

    @extend_schema(
        request=ChatInput,
        responses={
            200: ChatOutput,
            503: OpenApiResponse(ModelUnavailableOutput, description="Model down: the matching passages."),
        },
    )
    def post(self, request: Request) -> Response:
        body = _body(request)
        prepared = services.chat_prepare(
            user=current_user(request), message=body.get("message"), conversation_id=body.get("conversation_id")
        )
        reply = services.chat_complete(prepared=prepared)
        return Response(_reply_body(reply))


# --- Conversations ----------------------------------------------------------------------------


def _conversation_body(conversation: Conversation, *, with_messages: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": conversation.pk,
        "title": conversation.title,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
    }
    if hasattr(conversation, "message_count"):
        body["message_count"] = conversation.message_count
    if with_messages:
        body["messages"] = [
            {
                "id": m.pk,
                "role": m.role,
                "kind": m.kind,
                "content": m.content,
                "citations": m.citations,
                "created_at": m.created_at,
            }
            for m in selectors.conversation_messages(conversation=conversation)
        ]
        body["message_count"] = len(body["messages"])
    return body


class ConversationCollectionView(APIView):
    pagination_class = PageNumberPagination  # documents the GET envelope

    @extend_schema(responses={200: ConversationOutput(many=True)})
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.conversation_list(user=current_user(request)), request, view=self)
        rows = [_conversation_body(c, with_messages=False) for c in page or []]
        return paginator.get_paginated_response(ConversationOutput(rows, many=True).data)

    @extend_schema(request=ConversationInput, responses={201: ConversationDetailOutput})
    def post(self, request: Request) -> Response:
        body = _body(request)
        conversation = services.conversation_create(user=current_user(request), title=body.get("title", ""))
        return Response(
            ConversationDetailOutput(_conversation_body(conversation, with_messages=True)).data,
            status=status.HTTP_201_CREATED,
        )


CONVERSATION_ID = OpenApiParameter("conversation_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class ConversationDetailView(APIView):
    @extend_schema(parameters=[CONVERSATION_ID], responses={200: ConversationDetailOutput})
    def get(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get(user=current_user(request), conversation_id=conversation_id)
        return Response(ConversationDetailOutput(_conversation_body(conversation, with_messages=True)).data)

    @extend_schema(parameters=[CONVERSATION_ID], responses={204: None})
    def delete(self, request: Request, conversation_id: str) -> Response:
        conversation = selectors.conversation_get(user=current_user(request), conversation_id=conversation_id)
        services.conversation_delete(conversation=conversation)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Messages, with streaming -----------------------------------------------------------------


class EventStreamRenderer(BaseRenderer):
    """Lets `Accept: text/event-stream` pass content negotiation; the stream itself is written
    by SseResponse, and errors are still rendered as JSON (see finalize_response)."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        return json.dumps(data, default=str).encode()


class SseResponse(StreamingHttpResponse):
    """Returned by the DRF view for a streaming request; the async wrapper opens the model's
    stream and fills in the event stream (or turns the response into a 503 if the model is down)."""

    def __init__(self, prepared: services.PreparedTurn) -> None:
        super().__init__(streaming_content=iter(()), content_type="text/event-stream; charset=utf-8")
        self.prepared = prepared
        self["Cache-Control"] = "no-cache"
        self["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream

    async def start(self) -> HttpResponseBase:
        try:
            self.streaming_content = await streaming.open_stream(
                self.prepared, done=_reply_body, broken=_model_broke_off
            )
        except AppError as exc:
            return app_error_json(exc)
        return self


def _model_broke_off(prepared: services.PreparedTurn) -> dict[str, Any]:
    error = services.model_unavailable(prepared)
    return error_body(code=error.code, detail=str(error.detail), **error.extra)


def _wants_stream(request: Request) -> bool:
    # Content negotiation chose the event-stream renderer: `Accept: text/event-stream` (or ?format=sse).
    return isinstance(getattr(request, "accepted_renderer", None), EventStreamRenderer)


class ConversationMessagesView(APIView):
    throttle_scope = "chat"
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., Any]:  # type: ignore[override]
        sync_view = super().as_view(**initkwargs)
        run = sync_to_async(sync_view)

        async def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            response = await run(request, *args, **kwargs)
            if isinstance(response, SseResponse):
                return await response.start()
            return response

        # drf-spectacular and Django's CSRF handling look for these on the URL's callback.
        view.cls = cls  # type: ignore[attr-defined]
        view.initkwargs = initkwargs  # type: ignore[attr-defined]
        return csrf_exempt(view)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        # Errors before the stream starts are JSON, whatever the Accept header said.
        if isinstance(response, Response) and isinstance(
            getattr(request, "accepted_renderer", None), EventStreamRenderer
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        parameters=[CONVERSATION_ID],
        request=MessageInput,
        responses={
            201: ChatOutput,
            503: OpenApiResponse(ModelUnavailableOutput, description="Model down: the matching passages."),
        },
        description=(
            "Ask a question in this conversation. With `Accept: text/event-stream` the answer streams as "
            "server-sent events: `start` {conversation_id, found}, `sources` {sources: [{passage_id, note_id, "
            "note_title, note_created_at, excerpt, start, end}]} (the passages given to the model, sent before it "
            "answers; empty when nothing matched), `token` {text} for each piece, then `done` (the same body as "
            "the JSON answer, with citations), or `error` {code, detail, passages}."
        ),
    )
    def post(self, request: Request, conversation_id: str) -> HttpResponseBase:
        user = current_user(request)
        conversation = selectors.conversation_get(user=user, conversation_id=conversation_id)
        prepared = services.chat_prepare(user=user, message=_body(request).get("message"), conversation=conversation)
        if _wants_stream(request):
            return SseResponse(prepared)
        reply = services.chat_complete(prepared=prepared)
        return Response(_reply_body(reply), status=status.HTTP_201_CREATED)
