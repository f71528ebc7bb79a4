"""Notes: a voice or typed note, its passages (with vectors) and the per-user note settings.

Everything derived from what the user said (transcript, segments, title, tags, passage
text) is encrypted at rest. The database can still filter by tag and match keywords
through keyed hashes (see blind_index.py), never through plaintext.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from mindpost.core.fields import EncryptedTextField

EMBEDDING_DIMENSIONS = 384


class NoteKind(models.TextChoices):
    VOICE = "voice", "Voice"
    TEXT = "text", "Text"


class NoteStatus(models.TextChoices):
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class NoteStage(models.TextChoices):
    """Where a processing note is, for the record page: uploaded -> transcribing (n %) -> indexing -> ready."""

    UPLOADED = "uploaded", "Uploaded"
    TRANSCRIBING = "transcribing", "Transcribing"
    INDEXING = "indexing", "Indexing"
    READY = "ready", "Ready"


class EnrichmentStatus(models.TextChoices):
    NONE = "", "Not started"
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Note(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    kind = models.CharField(max_length=8, choices=NoteKind.choices, default=NoteKind.VOICE)
    status = models.CharField(max_length=16, choices=NoteStatus.choices, default=NoteStatus.PROCESSING)
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_reason = models.CharField(max_length=500, blank=True, default="")
    # The last processing step reached (a failed note keeps the step it failed in), and how much of
    # the audio is transcribed in percent: the worker writes it every ~5 %, not on every segment.
    stage = models.CharField(max_length=16, choices=NoteStage.choices, default=NoteStage.UPLOADED)
    progress = models.PositiveSmallIntegerField(default=0)

    transcription = EncryptedTextField(blank=True, default="")
    edited = models.BooleanField(default=False)
    title = EncryptedTextField(blank=True, default="")
    # JSON lists, encrypted: [{"start", "end", "text"}] and ["travel", ...].
    segments_data = EncryptedTextField(blank=True, default="")
    tags_data = EncryptedTextField(blank=True, default="")
    # Keyed hashes of the tags, so ?tag= can filter without plaintext tags in the database.
    tag_hashes = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    # A title or tags the user set by hand; enrichment never overwrites them.
    title_edited = models.BooleanField(default=False)
    tags_edited = models.BooleanField(default=False)
    # Enrichment (enrich.py, a background job after the note is ready): summary and key points.
    summary = EncryptedTextField(blank=True, default="")
    key_points_data = EncryptedTextField(blank=True, default="")  # JSON list of strings
    enrichment_status = models.CharField(
        max_length=16, choices=EnrichmentStatus.choices, blank=True, default=EnrichmentStatus.NONE
    )
    # sha256 of the text last enriched: a rerun on unchanged text is a no-op (idempotent job).
    enriched_digest = models.CharField(max_length=64, blank=True, default="")
    enriched_at = models.DateTimeField(null=True, blank=True)
    enrichment_model = models.CharField(max_length=200, blank=True, default="")
    language = models.CharField(max_length=16, blank=True, default="")
    duration_seconds = models.FloatField(null=True, blank=True)

    # The audio file in default storage (users/<user id>/notes/<note id>.<ext>); "" once discarded.
    audio = models.CharField(max_length=500, blank=True, default="")
    audio_format = models.CharField(max_length=16, blank=True, default="")
    audio_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    audio_discarded = models.BooleanField(default=False)

    # Whether this note still holds one RECORDINGS unit that a final failure must give back.
    holds_recording_unit = models.BooleanField(default=False)
    transcribe_model = models.CharField(max_length=200, blank=True, default="")
    transcribed_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    # NULL (not "") when absent: the unique constraint below only covers notes that have a key.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (
            models.Index(fields=("user", "-created_at"), name="note_user_created"),
            GinIndex(fields=("tag_hashes",), name="note_tag_hashes"),
        )
        constraints = (
            models.UniqueConstraint(
                fields=("user", "idempotency_key"),
                condition=models.Q(idempotency_key__isnull=False),
                name="note_unique_idempotency_key",
            ),
        )

    def __str__(self) -> str:
        return f"Note {self.id} ({self.status})"

    @property
    def segments(self) -> list[dict[str, Any]]:
        return json.loads(self.segments_data) if self.segments_data else []

    @segments.setter
    def segments(self, value: list[dict[str, Any]]) -> None:
        self.segments_data = json.dumps(value, ensure_ascii=False) if value else ""

    @property
    def key_points(self) -> list[str]:
        return json.loads(self.key_points_data) if self.key_points_data else []

    @key_points.setter
    def key_points(self, value: list[str]) -> None:
        self.key_points_data = json.dumps(value, ensure_ascii=False) if value else ""

    @property
    def tags(self) -> list[str]:
        return json.loads(self.tags_data) if self.tags_data else []

    @tags.setter
    def tags(self, value: list[str]) -> None:
        self.tags_data = json.dumps(value, ensure_ascii=False) if value else ""


class Passage(models.Model):
    """An overlapping slice of a note's transcript with its audio time range and vector."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="passages")
    # Denormalised owner: every search filters by user before anything else.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    text = EncryptedTextField()
    start_seconds = models.FloatField(null=True, blank=True)
    end_seconds = models.FloatField(null=True, blank=True)
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS)
    embedding_model = models.CharField(max_length=200)
    # Keyed hashes of the normalised words (blind_index.py): keyword search without plaintext.
    keywords = SearchVectorField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("note", "position")
        indexes = (
            HnswIndex(
                name="passage_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=("keywords",), name="passage_keywords_gin"),
            models.Index(fields=("user", "embedding_model"), name="passage_user_model"),
        )
        constraints = (models.UniqueConstraint(fields=("note", "position"), name="passage_unique_position"),)

    def __str__(self) -> str:
        return f"Passage {self.position} of {self.note_id}"


class ActionItem(models.Model):
    """A to-do found in a note by enrichment. Re-enrichment replaces the items it found before,
    except the ones the user marked done or edited (matched by their text or origin)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="action_items")
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="action_items")
    position = models.PositiveIntegerField(default=0)
    text = EncryptedTextField()
    # The phrase the due date came from ("next Friday"), and the date resolved in the user's zone.
    due_text = EncryptedTextField(blank=True, default="")
    due_date = models.DateField(null=True, blank=True)
    # Where in the recording it was said (seconds), for a link to that moment; None for text notes.
    start_seconds = models.FloatField(null=True, blank=True)
    done = models.BooleanField(default=False)
    done_at = models.DateTimeField(null=True, blank=True)
    # The user changed the text or due date: re-enrichment keeps the item as it is.
    edited = models.BooleanField(default=False)
    # Keyed digest of the text enrichment first gave it, so a re-run that finds the same to-do
    # again recognises an item the user has since reworded ("" on items from before it existed).
    origin = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("done", "due_date", "-created_at", "position")
        indexes = (models.Index(fields=("user", "done", "due_date"), name="actionitem_user_done_due"),)

    def __str__(self) -> str:
        return f"Action item {self.id} of note {self.note_id}"


class UserTag(models.Model):
    """One tag of a user's vocabulary: a new tag that means the same reuses its spelling, and the
    filter bar lists the most used. The name is encrypted; `tag_hash` is the note's blind index."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tag_vocabulary")
    tag_hash = models.CharField(max_length=32)
    name = EncryptedTextField()
    note_count = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-note_count", "tag_hash")
        constraints = (models.UniqueConstraint(fields=("user", "tag_hash"), name="usertag_unique_hash"),)
        indexes = (models.Index(fields=("user", "-note_count"), name="usertag_user_count"),)

    def __str__(self) -> str:
        return f"Tag {self.tag_hash} of {self.user_id}"


class RewriteStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class NoteVersion(models.Model):
    """A rewrite of a note in a style (clean-up, email, ...), kept beside it; the transcript is
    never replaced."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="versions")
    # A built-in style key ("clean_up", "email", ...) or "custom:<name>" for a user's own style.
    style = models.CharField(max_length=80)
    status = models.CharField(max_length=16, choices=RewriteStatus.choices, default=RewriteStatus.PENDING)
    body = EncryptedTextField(blank=True, default="")
    failure_code = models.CharField(max_length=64, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-created_at",)
        indexes = (models.Index(fields=("note", "-created_at"), name="noteversion_note_created"),)

    def __str__(self) -> str:
        return f"Version {self.id} ({self.style}) of note {self.note_id}"


class NoteSettings(models.Model):
    """Per-user choices about notes."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="note_settings"
    )
    # False: the audio file is deleted as soon as the transcript is stored.
    keep_audio = models.BooleanField(default=True)
    # ISO code passed to the transcriber; "" lets it detect the language.
    transcription_language = models.CharField(max_length=16, blank=True, default="")
    # The user's own words (names, terms), one per line, passed to Whisper for later recordings.
    vocabulary = EncryptedTextField(blank=True, default="")
    # The user's own rewrite styles: JSON [{"name": "...", "instructions": "..."}].
    rewrite_styles_data = EncryptedTextField(blank=True, default="")
    # The web recorder uploads as soon as the recording stops, with no separate Save step.
    save_on_stop = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Note settings of {self.user_id}"
