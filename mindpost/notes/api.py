"""Notes endpoints at the reference paths (/api/brain-dumps/...), and passage search (/api/search/).
Thin: parse, call, render."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.accounts.authentication import RevocableJWTAuthentication
from mindpost.ai.types import AIError
from mindpost.core.errors import Forbidden, Invalid, NotFound, Unavailable
from mindpost.core.filters import FILTER_ERROR, DateRangeInput, date_range
from mindpost.core.pagination import PageNumberPagination
from mindpost.notes import edits, idempotency, prefer, rewrites, selectors, services, storage, uploads
from mindpost.notes import serializers as s
from mindpost.notes.models import Note, NoteStatus

# Multipart framing around the file (boundaries, part headers) on top of the audio itself.
_MULTIPART_SLACK = 64 * 1024
_POLL_SECONDS = 0.2

PREFER = OpenApiParameter(
    "Prefer",
    str,
    OpenApiParameter.HEADER,
    description="`wait=N` (N ≤ 60): wait up to N seconds for processing to finish (RFC 7240).",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Any unique string per note: a retried upload with the same key returns the same note.",
)


def _render(request: Request, note: Note, *, status_code: int = 200) -> Response:
    return Response(s.NoteOutput(note, context={"request": request}).data, status=status_code)


def _wait_if_asked(request: Request, note: Note) -> tuple[Note, dict[str, str]]:
    """Honour `Prefer: wait=N`: poll until the note leaves `processing` or N seconds pass."""
    seconds = prefer.wait_seconds(request.headers.get("Prefer"), maximum=settings.NOTE_MAX_WAIT_SECONDS)
    if seconds is None:
        return note, {}
    deadline = time.monotonic() + seconds
    while selectors.note_status(note_id=note.pk) == NoteStatus.PROCESSING and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
    fresh = Note.objects.filter(pk=note.pk).first() or note
    return fresh, {"Preference-Applied": f"wait={seconds}"}


class NoteCollectionView(APIView):
    """GET: your notes, newest first. POST: upload a recording (or a typed note)."""

    pagination_class = PageNumberPagination  # documents the GET envelope

    @property
    def throttle_scope(self) -> str | None:  # only uploads count against the `upload` rate
        return "upload" if self.request.method == "POST" else None

    @extend_schema(
        parameters=[
            OpenApiParameter("tag", str, description="Only notes with this tag (without '#')."),
            OpenApiParameter("status", str, enum=NoteStatus.values),
            DateRangeInput,
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: s.NoteOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        filters = selectors.parse_filters(request.query_params, user=user)
        notes = selectors.note_list(user=user, filters=filters)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(notes, request, view=self)
        assert page is not None
        return paginator.get_paginated_response(s.NoteOutput(page, many=True, context={"request": request}).data)

    @extend_schema(
        request={"multipart/form-data": s.NoteUploadInput, "application/json": s.NoteTextInput},
        parameters=[IDEMPOTENCY_KEY, PREFER],
        responses={201: s.NoteOutput},
    )
    def post(self, request: Request) -> Response:
        user = current_user(request)
        key = idempotency.clean_key(request.headers.get(idempotency.HEADER))
        limit = settings.NOTE_MAX_UPLOAD_BYTES
        handler: uploads.SizeLimitUploadHandler | None = None
        if (request.content_type or "").startswith("multipart/"):
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit + _MULTIPART_SLACK:
                raise uploads.file_too_large(limit)  # refused before reading the body
            handler = uploads.SizeLimitUploadHandler(request._request, limit=limit)
            request._request.upload_handlers.insert(0, handler)
        data = request.data
        if handler is not None and handler.exceeded:
            raise uploads.file_too_large(limit)

        audio = request.FILES.get("audio_file") if hasattr(request, "FILES") else None
        text = data.get("text") if hasattr(data, "get") else None
        if audio is not None and text is not None:
            raise Invalid("Send either a recording or text, not both.", code="conflicting_input")
        if audio is not None:
            result = services.note_create_from_audio(user=user, upload=audio, idempotency_key=key)
        elif text is not None:
            result = services.note_create_from_text(user=user, text=text, idempotency_key=key)
        else:
            raise Invalid(
                'Send a recording as multipart `audio_file`, or a typed note as JSON {"text": ...}.',
                code="required",
                fields={"audio_file": ["Audio file is required."]},
            )
        note, headers = _wait_if_asked(request, result.note)
        response = _render(request, note, status_code=status.HTTP_201_CREATED)
        if not result.created:
            headers["Idempotent-Replayed"] = "true"
        for name, value in headers.items():
            response[name] = value
        return response


class NoteDetailView(APIView):
    @extend_schema(responses={200: s.NoteOutput})
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return _render(request, selectors.note_get(user=current_user(request), note_id=pk))

    @extend_schema(request=s.NoteUpdateInput, responses={200: s.NoteOutput})
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        note = selectors.note_get(user=current_user(request), note_id=pk)
        data = s.NoteUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        note = edits.note_edit(note=note, **data.validated_data)
        return _render(request, note)

    @extend_schema(request=s.NoteUpdateInput, responses={200: s.NoteOutput})
    def put(self, request: Request, pk: uuid.UUID) -> Response:
        return self.patch(request, pk)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        services.note_delete(note=selectors.note_get(user=current_user(request), note_id=pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class NoteRetryView(APIView):
    @extend_schema(request=None, parameters=[PREFER], responses={202: s.NoteOutput})
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        note = services.note_retry(note=selectors.note_get(user=current_user(request), note_id=pk))
        note, headers = _wait_if_asked(request, note)
        response = _render(request, note, status_code=status.HTTP_202_ACCEPTED)
        for name, value in headers.items():
            response[name] = value
        return response


class NoteSettingsView(APIView):
    @extend_schema(responses={200: s.NoteSettingsSerializer})
    def get(self, request: Request) -> Response:
        return Response(s.NoteSettingsSerializer(selectors.note_settings_get(user=current_user(request))).data)

    @extend_schema(request=s.NoteSettingsSerializer, responses={200: s.NoteSettingsSerializer})
    def patch(self, request: Request) -> Response:
        data = s.NoteSettingsSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "rewrite_styles_data" in data.validated_data:  # `rewrite_styles`, checked by rewrites.py
            rewrites.custom_styles_set(user=current_user(request), styles=data.validated_data["rewrite_styles_data"])
        note_settings = services.note_settings_update(
            user=current_user(request),
            keep_audio=data.validated_data.get("keep_audio"),
            transcription_language=data.validated_data.get("transcription_language"),
            vocabulary=data.validated_data.get("vocabulary"),
        )
        return Response(s.NoteSettingsSerializer(note_settings).data)


class NoteRecordingView(APIView):
    """The audio of one note, for its owner only: a signed `token` (from `recording`) or a signed-in owner."""

    permission_classes = [AllowAny]
    authentication_classes = [RevocableJWTAuthentication, SessionAuthentication]

    @extend_schema(
        parameters=[OpenApiParameter("token", str), OpenApiParameter("Range", str, OpenApiParameter.HEADER)],
        responses={
            (200, "audio/*"): OpenApiResponse(description="The recording."),
            (206, "audio/*"): OpenApiResponse(description="Part of the recording (Range)."),
            302: OpenApiResponse(
                description="Redirect to a short-lived signed storage URL (only with FILE_ENCRYPTION=false on gcs/s3)."
            ),
        },
    )
    def get(self, request: Request, pk: uuid.UUID) -> HttpResponseBase:
        note = Note.objects.filter(pk=pk).only("id", "user_id", "audio", "audio_format").first()
        token = request.query_params.get("token")
        allowed = bool(note and request.user.is_authenticated and note.user_id == request.user.pk)
        if token and not allowed:
            try:
                claims = storage.read_recording_token(token)
            except storage.TokenExpired as exc:
                raise Forbidden(
                    "This recording link has expired. Fetch the note again for a fresh one.",
                    code="recording_link_expired",
                ) from exc
            allowed = bool(note and claims == (str(note.pk), str(note.user_id)))
        elif not token and not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not allowed or note is None or not note.audio:
            raise NotFound("Recording not found.")
        if storage.delivery_mode() == "redirect":
            return HttpResponseRedirect(storage.signed_storage_url(note.audio))
        return _stream(request, note)


def _stream(request: Request, note: Note) -> HttpResponseBase:
    try:
        handle = storage.open_audio(note.audio)
    except FileNotFoundError as exc:
        raise NotFound("Recording not found.") from exc
    size = int(handle.size)  # type: ignore[attr-defined]
    try:
        byte_range = storage.parse_range(request.headers.get("Range"), size)
    except storage.RangeNotSatisfiable:
        handle.close()
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    start, length = (byte_range.start, byte_range.length) if byte_range else (0, size)
    chunks = storage.iter_file(handle, start=start, length=length)
    content: Iterator[bytes] | AsyncIterator[bytes] = (
        _async_chunks(chunks) if isinstance(request._request, ASGIRequest) else chunks
    )
    response = StreamingHttpResponse(
        content,
        status=206 if byte_range else 200,
        content_type=storage.content_type(note.audio_format),
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = "inline"
    if byte_range:
        response["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    return response


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    # Under ASGI a sync iterator would be read whole into memory first; pull chunk by chunk.
    def pull() -> bytes:
        return next(chunks, b"")

    while chunk := await sync_to_async(pull, thread_sensitive=False)():
        yield chunk


class SearchView(APIView):
    """Passage search over the caller's notes (the path stays /api/search/)."""

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="What to look for (words or a question)."),
            OpenApiParameter("tag", str, description="Only notes with this tag."),
            DateRangeInput,
            OpenApiParameter("limit", int, description="How many passages (default 10, at most SEARCH_MAX_LIMIT)."),
        ],
        responses={200: s.SearchOutput},
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        params = request.query_params
        query = (params.get("q") or "").strip()
        if not query:
            raise Invalid("Say what to search for.", code="empty_query", fields={"q": ["This field is required."]})
        if len(query) > settings.CHAT_MAX_MESSAGE_CHARS:
            raise Invalid("The query is too long.", code="query_too_long", fields={"q": ["Too long."]})
        try:
            limit = int(params.get("limit") or 10)
        except ValueError:
            limit = 0
        if not 1 <= limit <= settings.SEARCH_MAX_LIMIT:
            raise Invalid(
                f"limit must be between 1 and {settings.SEARCH_MAX_LIMIT}.",
                code=FILTER_ERROR,
                fields={"limit": [f"An integer from 1 to {settings.SEARCH_MAX_LIMIT}."]},
            )
        window = date_range(params, time_zone=user.timezone)
        tag = (params.get("tag") or "").strip() or None
        filters = selectors.SearchFilters(tag=tag, since=window.since, until=window.until)
        try:
            result = selectors.passage_search(user=user, query=query, filters=filters, limit=limit)
        except AIError as exc:
            raise Unavailable("The search model is unavailable right now.", code="model_unavailable") from exc
        results = [
            {
                "note_id": hit.note_id,
                "passage_id": hit.passage_id,
                "note_created_at": hit.note_created_at,
                "note_title": hit.extra.get("note_title", ""),
                "excerpt": selectors.excerpt(hit.text, answer=query),
                "start": hit.start,
                "end": hit.end,
                "score": round(hit.score, 6),
                "similarity": round(hit.similarity, 4) if hit.similarity is not None else None,
                "keyword_match": hit.keyword_rank is not None,
            }
            for hit in result.hits
        ]
        return Response(s.SearchOutput({"query": query, "count": len(results), "results": results}).data)
