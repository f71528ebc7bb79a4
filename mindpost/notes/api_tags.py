"""Tag vocabulary API: GET /api/tags/ (your tags by use) and POST /api/tags/rename/ (rename or
merge a tag across all your notes). Thin: parse, call mindpost.notes.tagging, render."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.core.errors import Invalid
from mindpost.notes import tagging

MAX_LIMIT = 2000


class TagOutput(serializers.Serializer[Any]):
    name = serializers.CharField(help_text="The tag as spelled in your notes, without '#'.")
    count = serializers.IntegerField(help_text="How many of your notes have it.")


class TagListOutput(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    results = TagOutput(many=True)


class TagRenameInput(serializers.Serializer[Any]):
    # "from" is a Python keyword: the field is declared below under its wire name.
    to = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text="The new name; an existing tag merges."
    )

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.CharField(
            allow_blank=True, trim_whitespace=False, help_text="The tag to rename ('#' optional)."
        )
        return fields


class TagRenameOutput(serializers.Serializer[Any]):
    name = serializers.CharField(help_text="The tag's name now.")
    count = serializers.IntegerField(help_text="Notes that have it now.")
    changed = serializers.IntegerField(help_text="Notes whose tags were rewritten.")
    merged = serializers.BooleanField(help_text="The new name was already one of your tags.")


class TagCollectionView(APIView):
    """Your tag vocabulary, most used first."""

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description=f"At most this many (default and max {MAX_LIMIT}).")],
        responses={200: TagListOutput},
    )
    def get(self, request: Request) -> Response:
        raw = request.query_params.get("limit", str(MAX_LIMIT))
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise Invalid(
                f"limit must be a whole number from 1 to {MAX_LIMIT}.",
                code="invalid_filter",
                fields={"limit": [f"1..{MAX_LIMIT}"]},
            )
        tags = tagging.tag_list(user_id=current_user(request).pk, limit=int(raw))
        results = [{"name": tag.name, "count": tag.count} for tag in tags]
        return Response({"count": len(results), "results": results})


class TagRenameView(APIView):
    """Rename a tag on all your notes; renaming onto a tag you already use merges the two."""

    @extend_schema(request=TagRenameInput, responses={200: TagRenameOutput})
    def post(self, request: Request) -> Response:
        data = TagRenameInput(data=request.data)
        data.is_valid(raise_exception=True)
        result = tagging.tag_rename(
            user_id=current_user(request).pk, from_tag=data.validated_data["from"], to_tag=data.validated_data["to"]
        )
        return Response(
            {"name": result.name, "count": result.count, "changed": result.changed, "merged": result.merged}
        )
