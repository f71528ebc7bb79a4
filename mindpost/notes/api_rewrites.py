"""Rewrites of a note (/api/brain-dumps/{id}/rewrite/ and .../versions/). Thin: parse, call, render."""

from __future__ import annotations

import time
import uuid
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.core.errors import Invalid
from mindpost.notes import prefer, rewrites, selectors
from mindpost.notes.models import NoteVersion, RewriteStatus

_POLL_SECONDS = 0.2

PREFER = OpenApiParameter(
    "Prefer",
    str,
    OpenApiParameter.HEADER,
    description="`wait=N` (N ≤ 60): wait up to N seconds for the rewrite to finish (RFC 7240).",
)


class RewriteInput(serializers.Serializer[Any]):
    style = serializers.CharField(  # type: ignore[assignment]  # a field named "style" (DRF pops it)
        max_length=80,
        help_text="clean_up, summary, email, journal, meeting_notes, linkedin_post, or custom:<name> "
        "(one of your own styles, see /api/brain-dumps/settings/).",
    )


class VersionOutput(serializers.Serializer[Any]):
    """One rewrite of a note. `body` is filled once `status` is done; the transcript never changes."""

    id = serializers.UUIDField()
    note_id = serializers.UUIDField()
    style = serializers.CharField()  # type: ignore[assignment]
    style_label = serializers.CharField()
    status = serializers.ChoiceField(choices=RewriteStatus.choices)
    body = serializers.CharField()
    failure_code = serializers.CharField(allow_null=True)
    failure_reason = serializers.CharField(allow_null=True)
    model = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def _body(version: NoteVersion) -> dict[str, Any]:
    failed = version.status == RewriteStatus.FAILED
    return {
        "id": version.pk,
        "note_id": version.note_id,
        "style": version.style,
        "style_label": rewrites.style_label(version.style),
        "status": version.status,
        "body": version.body,
        "failure_code": (version.failure_code or "generation_failed") if failed else None,
        "failure_reason": rewrites.failure_message(version) if failed else None,
        "model": version.model,
        "created_at": version.created_at,
        "updated_at": version.updated_at,
    }


def _render(version: NoteVersion, *, status_code: int = 200) -> Response:
    return Response(VersionOutput(_body(version)).data, status=status_code)


def _wait_if_asked(request: Request, version: NoteVersion) -> tuple[NoteVersion, dict[str, str]]:
    """Honour `Prefer: wait=N`: poll until the version leaves `pending` or N seconds pass."""
    seconds = prefer.wait_seconds(request.headers.get("Prefer"), maximum=settings.NOTE_MAX_WAIT_SECONDS)
    if seconds is None:
        return version, {}
    deadline = time.monotonic() + seconds
    while rewrites.version_status(version_id=version.pk) == RewriteStatus.PENDING and time.monotonic() < deadline:
        time.sleep(_POLL_SECONDS)
    fresh = NoteVersion.objects.filter(pk=version.pk).first() or version
    return fresh, {"Preference-Applied": f"wait={seconds}"}


_ERRORS = {
    403: OpenApiResponse(description="`limit_reached` / `subscription_required`: the plan's generations are used up."),
    409: OpenApiResponse(description="`note_not_ready`: the note is still processing or failed."),
    422: OpenApiResponse(description="`note_empty`: the note has no text."),
}


class NoteRewriteView(APIView):
    @extend_schema(
        request=RewriteInput,
        parameters=[PREFER],
        responses={202: VersionOutput, **_ERRORS},
        description="Rewrite the note in a style. Answers 202 with a pending version at once (or, with "
        "`Prefer: wait=N`, once it is done, failed or N seconds passed; the status says which). "
        "Counts one generation of the plan, given back if the rewrite fails. "
        "Unknown style: 400 `unknown_style`.",
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        user = current_user(request)
        note = selectors.note_get(user=user, note_id=pk)
        data = RewriteInput(data=request.data)
        if not data.is_valid():
            raise Invalid("Choose a style.", code="unknown_style", fields={"style": ["Required."]})
        version = rewrites.rewrite_request(user=user, note=note, style=data.validated_data["style"])
        version, headers = _wait_if_asked(request, version)
        response = _render(version, status_code=status.HTTP_202_ACCEPTED)
        for name, value in headers.items():
            response[name] = value
        return response


class NoteVersionCollectionView(APIView):
    @extend_schema(responses={200: VersionOutput(many=True)})
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        note = selectors.note_get(user=current_user(request), note_id=pk)
        return Response(VersionOutput([_body(v) for v in rewrites.version_list(note=note)], many=True).data)


class NoteVersionDetailView(APIView):
    @extend_schema(responses={200: VersionOutput})
    def get(self, request: Request, pk: uuid.UUID, vid: uuid.UUID) -> Response:
        note = selectors.note_get(user=current_user(request), note_id=pk)
        return _render(rewrites.version_get(note=note, version_id=vid))

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: uuid.UUID, vid: uuid.UUID) -> Response:
        note = selectors.note_get(user=current_user(request), note_id=pk)
        rewrites.version_delete(version=rewrites.version_get(note=note, version_id=vid))
        return Response(status=status.HTTP_204_NO_CONTENT)
