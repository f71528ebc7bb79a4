"""To-dos API: GET /api/action-items/ (filtered, paginated) and PATCH /api/action-items/{id}/.
Thin: parse, call mindpost.notes.action_items, render."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.core.errors import Invalid
from mindpost.core.pagination import PageNumberPagination
from mindpost.notes import action_items
from mindpost.notes.models import ActionItem


class ActionItemNoteOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    title = serializers.CharField()


class TodoItemOutput(serializers.ModelSerializer[ActionItem]):
    note = serializers.SerializerMethodField()
    moment_url = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = ("id", "text", "due_date", "done", "done_at", "edited", "note", "start_seconds", "moment_url")
        read_only_fields = fields

    @extend_schema_field(ActionItemNoteOutput)
    def get_note(self, item: ActionItem) -> dict[str, Any]:
        return {"id": item.note_id, "title": item.note.title}

    @extend_schema_field(
        serializers.URLField(
            allow_null=True,
            help_text="The note's web page at this moment of its recording (`?t=` seconds); null without a time.",
        )
    )
    def get_moment_url(self, item: ActionItem) -> str | None:
        path = action_items.moment_path(note_id=item.note_id, start_seconds=item.start_seconds)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if path and request is not None else path


class ActionItemUpdateInput(serializers.Serializer[Any]):
    done = serializers.BooleanField(required=False)
    text = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    due_date = serializers.DateField(required=False, allow_null=True, help_text="ISO date, or null for no date.")


class ActionItemCollectionView(APIView):
    """Your to-dos, found in your notes."""

    pagination_class = PageNumberPagination  # documents the envelope

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(action_items.STATUSES), description="Default `open`."),
            OpenApiParameter(
                "due",
                str,
                enum=list(action_items.DUE_WINDOWS),
                description="Due window in your time zone (`week`: today and the next 6 days). Default `any`.",
            ),
            OpenApiParameter("due_before", str, description="ISO date: due before this day (exclusive)."),
            OpenApiParameter("due_after", str, description="ISO date: due on or after this day."),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses={200: TodoItemOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        user = current_user(request)
        filters = action_items.parse_filters(request.query_params)
        items = action_items.action_item_list(
            user=user,
            status=filters.status,
            due=filters.due,
            due_before=filters.due_before,
            due_after=filters.due_after,
        )
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(items, request, view=self)
        assert page is not None
        return paginator.get_paginated_response(TodoItemOutput(page, many=True, context={"request": request}).data)


class ActionItemDetailView(APIView):
    @extend_schema(responses={200: TodoItemOutput})
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        item = action_items.action_item_get(user=current_user(request), item_id=pk)
        return Response(TodoItemOutput(item, context={"request": request}).data)

    @extend_schema(request=ActionItemUpdateInput, responses={200: TodoItemOutput})
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        user = current_user(request)
        action_items.action_item_get(user=user, item_id=pk)  # 404 before 400 for another user's id
        data = ActionItemUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if not values:
            raise Invalid(
                'Send at least one of "done", "text" or "due_date".',
                code="required",
                fields={"done": ["This field is required."]},
            )
        item = action_items.action_item_update(
            user=user,
            item_id=pk,
            done=values.get("done"),
            text=values.get("text"),
            due_date=values.get("due_date", action_items.UNSET),
        )
        return Response(TodoItemOutput(item, context={"request": request}).data)
