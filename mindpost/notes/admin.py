"""Notes in the admin: metadata and processing state for support; content stays encrypted.

Transcripts are shown read-only (the admin is staff-only, and support needs to see why a
note failed); vectors and keyword hashes are never shown.
"""

from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from mindpost.notes.models import Note, NoteSettings, Passage


class PassageInline(TabularInline):
    model = Passage
    extra = 0
    can_delete = False
    fields = ("position", "start_seconds", "end_seconds", "embedding_model", "created_at")
    readonly_fields = fields
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Note)
class NoteAdmin(ModelAdmin):
    list_display = ("id", "user", "kind", "status", "failure_code", "language", "duration_seconds", "created_at")
    list_filter = ("status", "kind", "language", "edited", "audio_discarded", "created_at")
    search_fields = ("id", "user__email", "failure_code")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    inlines = (PassageInline,)
    readonly_fields = (
        "id",
        "user",
        "kind",
        "status",
        "failure_code",
        "failure_reason",
        "transcription",
        "edited",
        "language",
        "duration_seconds",
        "audio",
        "audio_format",
        "audio_bytes",
        "audio_discarded",
        "transcribe_model",
        "transcribed_at",
        "processed_at",
        "idempotency_key",
        "created_at",
        "updated_at",
    )
    exclude = ("segments_data", "tags_data", "tag_hashes", "title", "request_fingerprint", "holds_recording_unit")

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(NoteSettings)
class NoteSettingsAdmin(ModelAdmin):
    list_display = ("user", "keep_audio", "transcription_language", "updated_at")
    list_filter = ("keep_audio",)
    search_fields = ("user__email",)
    readonly_fields = ("user", "updated_at")
