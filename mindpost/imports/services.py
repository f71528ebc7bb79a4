"""Import writes: make a batch from a request (checked and stored), and process it (the job).

Notes are created through the notes services, so an imported note is like any other: a
recording goes through the upload checks, the pipeline and the RECORDINGS quota (one unit per
recording, so a batch over the quota imports what fits and reports the rest `limit_reached`);
a text file becomes a typed note, then gets its own date, title and tags.

Duplicates are found by content hash per user: the fingerprint every note keeps of what it was
made from (Note.request_fingerprint: sha256 of "text\\0" + text, or "voice\\0" + the audio), and
for MindPost's own export the `id` of the note it came from. So importing an export twice, or
into the account it came from, creates nothing new.

Every step the job may repeat is safe to repeat: an item is recorded as handled in the same
transaction that creates its text note, and a recording is created with the idempotency key
`import:<item id>`, so a retried job finds the note it made before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.core import userdata
from mindpost.core.errors import AppError
from mindpost.imports import intake, markdown, tasks
from mindpost.imports.models import BatchStatus, ImportBatch, ImportItem, ItemKind, ItemStatus
from mindpost.notes import edits, idempotency, tagging
from mindpost.notes import services as note_services
from mindpost.notes.models import Note

logger = logging.getLogger(__name__)

ERROR_DETAILS = {
    "file_missing": "The uploaded file is gone, so it cannot be imported.",
    "invalid_text": "This file is not UTF-8 text.",
    "empty_text": "This file has no text.",
    "processing_error": "Something went wrong while importing this file. It has been logged.",
}


def _zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _stored_name(*, user_id: Any, batch_id: Any, item_id: Any) -> str:
    return userdata.user_file_path(user_id, "imports", str(batch_id), f"{item_id}.bin")


def _delete(name: str) -> None:
    if name:
        with contextlib.suppress(FileNotFoundError):
            default_storage.delete(name)


# --- the request -------------------------------------------------------------------------------


def batch_create(*, user: User, files: list[UploadedFile]) -> ImportBatch:
    """Check every file, store each note-to-be (encrypted, as uploads are) and queue the job."""
    planned = intake.plan(files=files, zone=_zone(user))
    batch = ImportBatch(user=user, total=len(planned.items), skipped=planned.skipped)
    stored: list[str] = []
    try:
        with transaction.atomic():
            batch.save(force_insert=True)
            items: list[ImportItem] = []
            for position, pending in enumerate(planned.items):
                item = ImportItem(
                    batch=batch,
                    position=position,
                    filename=pending.filename,
                    kind=pending.kind,
                    size=pending.size,
                    modified_at=pending.modified_at,
                )
                if pending.error_code:
                    item.status, item.error_code, item.error_detail = (
                        ItemStatus.FAILED,
                        pending.error_code,
                        pending.error_detail,
                    )
                    item.processed_at = timezone.now()
                    batch.failed += 1
                else:
                    content: File[Any] = (
                        ContentFile(b"".join(intake.read_entry(pending)))
                        if pending.entry is not None
                        else File(pending.open())
                    )
                    name = _stored_name(user_id=user.pk, batch_id=batch.pk, item_id=item.pk)
                    item.stored = default_storage.save(name, content)
                    stored.append(item.stored)
                items.append(item)
            ImportItem.objects.bulk_create(items)
            if batch.failed == batch.total:
                batch.status, batch.finished_at = BatchStatus.DONE, timezone.now()
            batch.save(update_fields=["failed", "status", "finished_at", "updated_at"])
            if batch.status != BatchStatus.DONE:
                tasks.defer_process_batch(batch_id=batch.pk)
    except BaseException:
        for name in stored:
            _delete(name)
        raise
    logger.info("import queued", extra={"batch_id": str(batch.pk), "user_id": str(user.pk), "items": batch.total})
    return batch


# --- the job -------------------------------------------------------------------------------------


def batch_process(*, batch_id: str | uuid.UUID) -> None:
    """Import every pending item of the batch in order, then mark it done."""
    batch = ImportBatch.objects.select_related("user").filter(pk=batch_id).first()
    if batch is None or batch.status == BatchStatus.DONE:
        return
    ImportBatch.objects.filter(pk=batch.pk).update(status=BatchStatus.RUNNING, updated_at=timezone.now())
    for item in ImportItem.objects.filter(batch=batch, status=ItemStatus.PENDING).order_by("position"):
        item_process(item=item, user=batch.user)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.DONE, finished_at=timezone.now(), updated_at=timezone.now()
    )
    logger.info("import finished", extra={"batch_id": str(batch.pk)})


def item_process(*, item: ImportItem, user: User) -> None:
    try:
        if item.kind == ItemKind.TEXT:
            _import_text(item=item, user=user)
        else:
            _import_audio(item=item, user=user)
    except AppError as exc:
        _record(item, status=ItemStatus.FAILED, code=exc.code, detail=exc.detail)
    except (OperationalError, InterfaceError):
        raise  # the database is away: the job is retried and picks up from this item
    except Exception:
        logger.exception("import item crashed", extra={"item_id": str(item.pk)})
        _record(item, status=ItemStatus.FAILED, code="processing_error", detail=ERROR_DETAILS["processing_error"])


_COUNTER = {ItemStatus.DONE: "done", ItemStatus.DUPLICATE: "duplicate", ItemStatus.FAILED: "failed"}


def _record(
    item: ImportItem,
    *,
    status: ItemStatus,
    note: Note | None = None,
    sha256: str = "",
    code: str = "",
    detail: str = "",
) -> None:
    """Mark the item handled (once) and count it; its stored file goes once that is committed."""
    with transaction.atomic():
        changed = ImportItem.objects.filter(pk=item.pk, status=ItemStatus.PENDING).update(
            status=status,
            note=note,
            sha256=sha256 or item.sha256,
            error_code=code,
            error_detail=detail[:500],
            stored="",
            processed_at=timezone.now(),
        )
        if changed:
            counter = _COUNTER[status]
            ImportBatch.objects.filter(pk=item.batch_id).update(**{counter: F(counter) + 1}, updated_at=timezone.now())
            stored = item.stored
            transaction.on_commit(lambda: _delete(stored), robust=True)
    item.status = status


def _lock_user(user: User) -> None:
    """Serialise imports of one user to the end of the transaction: two batches with the same file
    running at once must not both see "not there yet"."""
    digest = hashlib.blake2b(f"mindpost-import:{user.pk}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


def _read(item: ImportItem) -> bytes:
    try:
        with default_storage.open(item.stored, "rb") as handle:
            data = handle.read()
    except FileNotFoundError as exc:
        raise AppError(ERROR_DETAILS["file_missing"], code="file_missing") from exc
    return data if isinstance(data, bytes) else data.encode()


def _existing(*, user: User, fingerprint: str, note_id: str = "") -> Note | None:
    notes = Note.objects.filter(user=user)
    found = notes.filter(request_fingerprint=fingerprint).order_by("created_at").first()
    if found is None and note_id:
        with contextlib.suppress(ValueError):
            found = notes.filter(pk=uuid.UUID(note_id)).first()
    return found


def _key(item: ImportItem) -> str:
    return f"import:{item.pk}"


def _import_text(*, item: ImportItem, user: User) -> None:
    raw = markdown.decode(_read(item))
    if raw is None:
        raise AppError(ERROR_DETAILS["invalid_text"], code="invalid_text")
    filename = item.filename.rsplit("/", 1)[-1]
    parsed = markdown.parse(raw, filename=filename, zone=_zone(user))
    if not parsed.text:
        raise AppError(ERROR_DETAILS["empty_text"], code="empty_text")
    # The fingerprint note_create_from_text gives the note (of the text as it will be stored).
    fingerprint = idempotency.fingerprint(kind="text", chunks=[parsed.text.encode()])
    created = parsed.created or item.modified_at
    with transaction.atomic():
        tagging.lock_vocabulary(user_id=user.pk)  # before any note row lock, as every tag writer
        _lock_user(user)
        existing = _existing(user=user, fingerprint=fingerprint, note_id=parsed.note_id)
        if existing is not None:
            _record(item, status=ItemStatus.DUPLICATE, note=existing, sha256=fingerprint)
            return
        note = note_services.note_create_from_text(user=user, text=parsed.text, idempotency_key=_key(item)).note
        if created is not None:
            # The note's own date, not the day of the import (same transaction: the pipeline's job
            # starts after the commit and never sees the import date).
            Note.objects.filter(pk=note.pk).update(created_at=created)
        if parsed.title:
            edits.note_update_title(note=note, title=parsed.title)
        if parsed.tags:
            # The person's own tags: kept as given, and enrichment leaves them alone. The automatic
            # tags go first, or their spelling (kite) would win over the person's own (kites).
            tagging.note_apply_tags(note=note, candidates=[], source="user")
            tagging.note_apply_tags(note=note, candidates=parsed.tags, source="user")
        _record(item, status=ItemStatus.DONE, note=note, sha256=fingerprint)


def _import_audio(*, item: ImportItem, user: User) -> None:
    key = _key(item)
    made = Note.objects.filter(user=user, idempotency_key=key).first()
    if made is not None:  # a retried job: this item's note exists already
        _record(item, status=ItemStatus.DONE, note=made, sha256=made.request_fingerprint)
        return
    if not item.stored or not default_storage.exists(item.stored):
        raise AppError(ERROR_DETAILS["file_missing"], code="file_missing")
    with default_storage.open(item.stored, "rb") as handle:
        fingerprint = idempotency.fingerprint(kind="voice", chunks=iter(lambda: handle.read(1024 * 1024), b""))
    existing = _existing(user=user, fingerprint=fingerprint)
    if existing is not None:
        _record(item, status=ItemStatus.DUPLICATE, note=existing, sha256=fingerprint)
        return
    with default_storage.open(item.stored, "rb") as handle:
        upload = UploadedFile(file=handle, name=item.filename.rsplit("/", 1)[-1], size=item.size)
        # The upload's own checks (format, length, silence), quota (one unit) and pipeline.
        result = note_services.note_create_from_audio(user=user, upload=upload, idempotency_key=key)
    _record(item, status=ItemStatus.DONE, note=result.note, sha256=fingerprint)


def batch_requeue_orphans(*, older_than_seconds: int) -> int:
    """Queue the job again for unfinished batches with no job waiting or running and no progress
    for a while (the enqueue after commit failed): the job goes on from the first pending item."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    candidates = list(
        ImportBatch.objects.filter(
            status__in=(BatchStatus.PENDING, BatchStatus.RUNNING), updated_at__lt=cutoff
        ).values_list("pk", flat=True)[:100]
    )
    if not candidates:
        return 0
    active = set(
        ProcrastinateJob.objects.filter(
            status__in=("todo", "doing"), lock__in=[tasks.lock_of(batch_id) for batch_id in candidates]
        ).values_list("lock", flat=True)
    )
    orphans = [batch_id for batch_id in candidates if tasks.lock_of(batch_id) not in active]
    for batch_id in orphans:
        ImportBatch.objects.filter(pk=batch_id).update(updated_at=timezone.now())  # once per sweep interval
        tasks.defer_process_batch(batch_id=batch_id)
    return len(orphans)
