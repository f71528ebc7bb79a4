"""Fix a name everywhere: POST /api/vocabulary/replace/. Thin: parse, call vocabulary.py, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.notes import vocabulary


class VocabularyReplaceInput(serializers.Serializer[Any]):
    # Blank and over-long values are refused by the service with their own codes (empty_term, term_too_long).
    find = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text="The misheard name, e.g. 'Tavroza' (any case, any accents)."
    )
    replace = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text="How it should be spelled, e.g. 'Stavros'."
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Only count the notes that would change; write nothing."
    )


class VocabularyReplaceOutput(serializers.Serializer[Any]):
    notes_changed = serializers.IntegerField(help_text="Notes changed (with dry_run: notes that would change).")
    applied = serializers.BooleanField(help_text="False for a dry run.")


class VocabularyReplaceView(APIView):
    """Replace a misheard name across all your notes (transcripts, segments, titles, summaries, key
    points, to-dos), on whole words, ignoring case and accents. Changed notes are marked edited
    and re-indexed for search; the replacement joins your vocabulary for later recordings."""

    @extend_schema(
        request=VocabularyReplaceInput,
        responses={200: VocabularyReplaceOutput},
        examples=[OpenApiExample("Fix a name", value={"find": "Tavroza", "replace": "Stavros"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        data = VocabularyReplaceInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = current_user(request)
        find, replace = data.validated_data["find"], data.validated_data["replace"]
        if data.validated_data["dry_run"]:
            count = vocabulary.vocabulary_replace_preview(user=user, find=find, replace=replace)
            return Response({"notes_changed": count, "applied": False})
        count = vocabulary.vocabulary_replace(user=user, find=find, replace=replace)
        return Response({"notes_changed": count, "applied": True})
