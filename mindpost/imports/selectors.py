"""Import reads: a user's batches, one batch with its items (and their notes' status)."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from mindpost.accounts.models import User
from mindpost.core.errors import NotFound
from mindpost.imports.models import ImportBatch, ImportItem


def batch_list(*, user: User, with_items: bool = False) -> QuerySet[ImportBatch]:
    batches = ImportBatch.objects.filter(user=user).order_by("-created_at")
    return _with_items(batches) if with_items else batches


def _with_items(batches: QuerySet[ImportBatch]) -> QuerySet[ImportBatch]:
    # Only the note's id and status: the progress view is polled and never needs the text.
    items = ImportItem.objects.select_related("note").only(
        "id",
        "batch_id",
        "position",
        "filename",
        "kind",
        "status",
        "error_code",
        "error_detail",
        "sha256",
        "processed_at",
        "note__id",
        "note__status",
        "note__stage",
        "note__progress",
    )
    return batches.prefetch_related(Prefetch("items", queryset=items.order_by("position")))


def batch_get(*, user: User, batch_id: uuid.UUID | str, with_items: bool = True) -> ImportBatch:
    """One of the user's batches; NotFound for anyone else's (the same answer as for none)."""
    batches = ImportBatch.objects.filter(user=user)
    if with_items:
        batches = _with_items(batches)
    batch = batches.filter(pk=batch_id).first()
    if batch is None:
        raise NotFound("No such import.", code="not_found")
    return batch
