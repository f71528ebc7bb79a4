"""Similar notes API: GET /api/brain-dumps/{id}/similar/?limit=5. Thin: parse, call similar.py, render."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.core.errors import Invalid
from mindpost.core.filters import FILTER_ERROR
from mindpost.notes import similar
from mindpost.notes.action_items import moment_path

DEFAULT_LIMIT = 5


class SimilarNoteOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    title = serializers.CharField()
    created_at = serializers.DateTimeField()
    kind = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    score = serializers.FloatField(help_text="Cosine similarity (multilingual-e5; compare within one answer).")
    excerpt = serializers.CharField(help_text="The passage of that note closest to this one.")
    start = serializers.FloatField(allow_null=True, help_text="Where that passage starts in its recording (s).")
    moment_url = serializers.CharField(allow_null=True, help_text="That note's web page at that moment.")


class SimilarNotesOutput(serializers.Serializer[Any]):
    note_id = serializers.UUIDField()
    count = serializers.IntegerField()
    results = SimilarNoteOutput(many=True)


def _limit(raw: str | None) -> int:
    try:
        limit = int(raw) if raw not in (None, "") else DEFAULT_LIMIT
    except ValueError:
        limit = 0
    if not 1 <= limit <= similar.MAX_LIMIT:
        message = f"An integer from 1 to {similar.MAX_LIMIT}."
        raise Invalid(
            f"limit must be between 1 and {similar.MAX_LIMIT}.", code=FILTER_ERROR, fields={"limit": [message]}
        )
    return limit


class SimilarNotesView(APIView):
    """Your notes nearest in meaning to this one (itself left out); empty until it is ready."""

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description=f"1 to {similar.MAX_LIMIT}, default {DEFAULT_LIMIT}.")],
        responses={200: SimilarNotesOutput},
    )
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        limit = _limit(request.query_params.get("limit"))
        found = similar.similar_notes(user=current_user(request), note_id=pk, limit=limit)
        results = []
        for hit in found:
            path = moment_path(note_id=hit.note.pk, start_seconds=hit.start_seconds)
            results.append(
                {
                    "id": hit.note.pk,
                    "title": hit.note.title,
                    "created_at": hit.note.created_at,
                    "kind": hit.note.kind,
                    "tags": hit.note.tags,
                    "score": round(hit.score, 4),
                    "excerpt": hit.excerpt,
                    "start": hit.start_seconds,
                    "moment_url": request.build_absolute_uri(path) if path else None,
                }
            )
        return Response(SimilarNotesOutput({"note_id": pk, "count": len(results), "results": results}).data)
