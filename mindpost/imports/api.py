"""Bulk import endpoints: POST /api/imports/ (many files, 202 with the batch), GET /api/imports/
(your imports) and GET /api/imports/{id}/ (one, with per-file progress). Thin: parse, call, render."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.core.pagination import PageNumberPagination
from mindpost.imports import intake, selectors, services
from mindpost.imports.models import BatchStatus, ImportBatch, ItemKind, ItemStatus


class ImportItemOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    position = serializers.IntegerField()
    filename = serializers.CharField(help_text="The file's name, or `archive.zip/path/in/zip.md`.")
    kind = serializers.ChoiceField(choices=ItemKind.choices)
    status = serializers.ChoiceField(
        choices=ItemStatus.choices,
        help_text="pending → done (a note was made) | duplicate (already one of your notes) | failed.",
    )
    error_code = serializers.CharField(help_text="Why it failed (limit_reached, silent_audio, empty_text…).")
    error_detail = serializers.CharField()
    note = serializers.UUIDField(source="note_id", allow_null=True, help_text="The note made (or already there).")
    note_status = serializers.SerializerMethodField(help_text="The note's own status: processing, ready, failed.")
    sha256 = serializers.CharField(help_text="The content hash duplicates are found by.")

    def get_note_status(self, item: Any) -> str | None:
        return item.note.status if item.note_id and item.note is not None else None


class ImportBatchOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=BatchStatus.choices)
    total = serializers.IntegerField(help_text="Notes to import: files, and the notes inside zips.")
    done = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Files in zips that are not notes (images, settings).")
    percent = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ImportBatchDetailOutput(ImportBatchOutput):
    items = ImportItemOutput(many=True)


class ImportInput(serializers.Serializer[Any]):
    files = serializers.ListField(
        child=serializers.FileField(),
        help_text="Recordings, .txt/.md files, or .zip archives (an Obsidian vault, a MindPost Markdown export).",
    )


def _files(request: Request) -> list[Any]:
    """Every file part of the multipart body (any field name: `files` is the documented one)."""
    handler = intake.limit_body(request._request)
    return intake.request_files(
        read=lambda: [upload for _, parts in request.FILES.lists() for upload in parts], handler=handler
    )


class ImportCollectionView(APIView):
    """GET: your imports, newest first. POST: import many files at once (202; a job does the work)."""

    pagination_class = PageNumberPagination

    @property
    def throttle_scope(self) -> str | None:  # an import counts as one upload against the `upload` rate
        return "upload" if self.request.method == "POST" else None

    @extend_schema(
        operation_id="imports_list",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
        responses={200: ImportBatchOutput(many=True)},
    )
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.batch_list(user=current_user(request)), request, view=self)
        assert page is not None
        return paginator.get_paginated_response(ImportBatchOutput(page, many=True).data)

    @extend_schema(
        operation_id="imports_create",
        request={"multipart/form-data": ImportInput},
        responses={202: ImportBatchDetailOutput},
    )
    def post(self, request: Request) -> Response:
        user = current_user(request)
        batch = services.batch_create(user=user, files=_files(request))
        return Response(_detail(user=user, batch=batch), status=status.HTTP_202_ACCEPTED)


def _detail(*, user: Any, batch: ImportBatch) -> dict[str, Any]:
    fresh = selectors.batch_get(user=user, batch_id=batch.pk)
    return dict(ImportBatchDetailOutput(fresh).data)


class ImportDetailView(APIView):
    @extend_schema(operation_id="imports_retrieve", responses={200: ImportBatchDetailOutput})
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        batch = selectors.batch_get(user=current_user(request), batch_id=pk)
        return Response(ImportBatchDetailOutput(batch).data)
