"""Input and output shapes of the notes API (reference field names kept)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from mindpost.notes import storage
from mindpost.notes.models import Note, NoteSettings


class SegmentOutput(serializers.Serializer[Any]):
    start = serializers.FloatField()
    end = serializers.FloatField()
    text = serializers.CharField()


class NoteOutput(serializers.ModelSerializer[Note]):
    """A note. `recording` is a short-lived URL to the audio (null once the audio is discarded)."""

    recording = serializers.SerializerMethodField()
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    segments = SegmentOutput(many=True, read_only=True)
    failure_code = serializers.SerializerMethodField()
    failure_reason = serializers.SerializerMethodField()
    language = serializers.SerializerMethodField()

    class Meta:
        model = Note
        fields = (
            "id",
            "created_at",
            "updated_at",
            "kind",
            "status",
            "failure_code",
            "failure_reason",
            "title",
            "transcription",
            "edited",
            "recording",
            "language",
            "duration_seconds",
            "tags",
            "segments",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_recording(self, note: Note) -> str | None:
        if not note.audio:
            return None
        path = storage.recording_path(note_id=note.pk, user_id=note.user_id)
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_failure_code(self, note: Note) -> str | None:
        return note.failure_code or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_failure_reason(self, note: Note) -> str | None:
        return note.failure_reason or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_language(self, note: Note) -> str | None:
        return note.language or None


class NoteUploadInput(serializers.Serializer[Any]):
    """multipart/form-data: a recording (webm, ogg, m4a, mp4, mp3, wav or flac; sniffed from content)."""

    audio_file = serializers.FileField()


class NoteTextInput(serializers.Serializer[Any]):
    """application/json: a typed note (skips transcription)."""

    text = serializers.CharField()


class NoteUpdateInput(serializers.Serializer[Any]):
    """Only `transcription` is writable; other fields are ignored as in the reference API."""

    transcription = serializers.CharField(allow_blank=True, trim_whitespace=False)


LANGUAGE_CODE_PATTERN = r"^([a-zA-Z]{2,3}([-_][a-zA-Z]{2,4})?)?$"


class LanguageCodeField(serializers.RegexField):
    """A language code, or "" to detect the language.

    The pattern itself accepts "", so the field takes "" without `allow_blank`: with it,
    drf-spectacular documents the field as an ambiguous `oneOf` (pattern | empty string).
    """

    def run_validation(self, data: Any = empty) -> Any:
        if data == "":
            return ""
        return super().run_validation(data)


class NoteSettingsSerializer(serializers.ModelSerializer[NoteSettings]):
    transcription_language = LanguageCodeField(
        LANGUAGE_CODE_PATTERN,
        max_length=16,
        required=False,
        help_text='ISO language code for transcription, or "" to detect it.',
    )

    class Meta:
        model = NoteSettings
        fields = ("keep_audio", "transcription_language", "updated_at")
        read_only_fields = ("updated_at",)
        extra_kwargs = {"keep_audio": {"required": False}}


class SearchHitOutput(serializers.Serializer[Any]):
    note_id = serializers.UUIDField()
    passage_id = serializers.IntegerField()
    note_created_at = serializers.DateTimeField()
    note_title = serializers.CharField()
    excerpt = serializers.CharField()
    start = serializers.FloatField(allow_null=True)
    end = serializers.FloatField(allow_null=True)
    score = serializers.FloatField(help_text="Fused rank score (higher is better; compare within one result).")
    similarity = serializers.FloatField(allow_null=True, help_text="Cosine similarity of passage and query.")
    keyword_match = serializers.BooleanField(help_text="A rare word of the query occurs in the passage.")


class SearchOutput(serializers.Serializer[Any]):
    query = serializers.CharField()
    count = serializers.IntegerField()
    results = SearchHitOutput(many=True)
