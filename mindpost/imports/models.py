"""Bulk imports: a batch of files (recordings, text/Markdown, zips of them) turned into notes by a job.

A batch is made in the request (every file checked and stored, encrypted, one ImportItem per
note-to-be); the job `imports.process_batch` then works through the items in order, creating
notes through the notes services, and keeps the batch's counters up to date for the progress
the web page and the API show. File names can say a lot about a person, so they are encrypted.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from mindpost.core.fields import EncryptedTextField


class BatchStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class ItemKind(models.TextChoices):
    AUDIO = "audio", "Audio"
    TEXT = "text", "Text"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"  # a note was created (an audio note may still be transcribing)
    DUPLICATE = "duplicate", "Duplicate"  # the same content is already one of the user's notes
    FAILED = "failed", "Failed"


class ImportBatch(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_batches")
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    duplicate = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Files in a zip that are not notes (images, Obsidian's settings): left out, but counted.
    skipped = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=("user", "-created_at"), name="importbatch_user_created"),)

    def __str__(self) -> str:
        return f"Import {self.id} ({self.status})"

    @property
    def handled(self) -> int:
        return self.done + self.duplicate + self.failed

    @property
    def notes_processing(self) -> bool:
        """Some imported note is still in the pipeline (a recording transcribing): its panel keeps
        polling after the import itself is done. Reads the prefetched items (selectors)."""
        return any(item.note is not None and item.note.status == "processing" for item in self.items.all())

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * self.handled / self.total)


class ImportItem(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveIntegerField()
    # The uploaded file's name, or the path inside its zip ("vault.zip/Daily/2026-03-01.md").
    filename = EncryptedTextField()
    kind = models.CharField(max_length=8, choices=ItemKind.choices)
    status = models.CharField(max_length=16, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    error_code = models.CharField(max_length=64, blank=True, default="")
    error_detail = models.CharField(max_length=500, blank=True, default="")
    note = models.ForeignKey("notes.Note", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The content hash duplicates are found by: the same fingerprint a note keeps of what it was
    # made from (Note.request_fingerprint), set when the item is processed.
    sha256 = models.CharField(max_length=64, blank=True, default="")
    # The stored file (encrypted by the default storage) until the item is processed.
    stored = models.CharField(max_length=500, blank=True, default="")
    size = models.PositiveBigIntegerField(default=0)
    # The entry's timestamp inside its zip (local time of whoever zipped it): the note's date when
    # the file itself names none.
    modified_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("batch", "position")
        constraints = (models.UniqueConstraint(fields=("batch", "position"), name="importitem_unique_position"),)

    def __str__(self) -> str:
        return f"Import item {self.position} of {self.batch_id} ({self.status})"
