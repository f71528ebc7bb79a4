"""Input and output shapes of the notes API (reference field names kept)."""

from __future__ import annotations

import json
from typing import Any

from django.db.models import prefetch_related_objects
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from mindpost.notes import storage
from mindpost.notes.models import Note, NoteSettings, NoteStage


class SegmentOutput(serializers.Serializer[Any]):
    start = serializers.FloatField()
    end = serializers.FloatField()
    text = serializers.CharField()


class ActionItemOutput(serializers.Serializer[Any]):
    """A to-do found in the note by enrichment; `start_seconds` is where it was said (voice notes)."""

    id = serializers.UUIDField()
    text = serializers.CharField()
    due_date = serializers.DateField(allow_null=True, help_text="Resolved in the user's time zone.")
    done = serializers.BooleanField()
    start_seconds = serializers.FloatField(allow_null=True)


class _NoteListOutput(serializers.ListSerializer[Any]):
    def to_representation(self, data: Any) -> Any:
        # One query for the action items of a whole page, not one per note.
        notes = list(data.all() if hasattr(data, "all") else data)
        prefetch_related_objects(notes, "action_items")
        return super().to_representation(notes)


class NoteOutput(serializers.ModelSerializer[Note]):
    """A note. `recording` is a short-lived URL to the audio (null once the audio is discarded)."""

    recording = serializers.SerializerMethodField()
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    segments = SegmentOutput(many=True, read_only=True)
    failure_code = serializers.SerializerMethodField()
    failure_reason = serializers.SerializerMethodField()
    language = serializers.SerializerMethodField()
    stage = serializers.ChoiceField(
        choices=NoteStage.choices,
        read_only=True,
        help_text="The last processing step reached: uploaded → transcribing → indexing → ready "
        "(a failed note keeps the step it failed in).",
    )
    progress = serializers.IntegerField(
        read_only=True, min_value=0, max_value=100, help_text="Percent of the audio transcribed (updated every ~5 %)."
    )
    # Enrichment (a background job after the note is ready): "" / [] until it has run.
    summary = serializers.CharField(read_only=True)
    key_points = serializers.ListField(child=serializers.CharField(), read_only=True)
    action_items = ActionItemOutput(many=True, read_only=True)
    enrichment_status = serializers.SerializerMethodField()

    class Meta:
        model = Note
        fields = (
            "id",
            "created_at",
            "updated_at",
            "kind",
            "status",
            "stage",
            "progress",
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
            "summary",
            "key_points",
            "action_items",
            "enrichment_status",
        )
        read_only_fields = fields
        list_serializer_class = _NoteListOutput

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

    # A plain nullable enum: a ChoiceField with allow_null becomes oneOf [enum, NullEnum], which
    # code generators for the mobile client handle badly.
    @extend_schema_field(
        {
            "type": "string",
            "enum": ["pending", "done", "failed"],
            "nullable": True,
            "description": "null: not started yet; pending → done or failed",
        }
    )
    def get_enrichment_status(self, note: Note) -> str | None:
        return note.enrichment_status or None


class NoteUploadInput(serializers.Serializer[Any]):
    """multipart/form-data: a recording (webm, ogg, m4a, mp4, mp3, wav or flac; sniffed from content)."""

    audio_file = serializers.FileField()


class NoteTextInput(serializers.Serializer[Any]):
    """application/json: a typed note (skips transcription)."""

    text = serializers.CharField()


class NoteUpdateInput(serializers.Serializer[Any]):
    """`transcription`, `title` and `tags` are writable (send at least one); other fields are
    ignored as in the reference API. Checked in notes.edits (400 with a `code`)."""

    transcription = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    title = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False, help_text="At most 200 characters; not blank."
    )
    tags = serializers.ListField(
        child=serializers.CharField(allow_blank=True, trim_whitespace=False),
        required=False,
        help_text="At most 5 tags, each a valid hashtag without spaces (letters, digits, _; '#' optional). "
        "A tag that means the same as one you already use takes its spelling.",
    )


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


class RewriteStyleSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(help_text="At most 40 characters; the style's key is `custom:<name>`.")
    instructions = serializers.CharField(help_text="How to rewrite, at most 500 characters.")


class RewriteStylesField(serializers.ListField):
    """The user's own rewrite styles, stored as JSON in `rewrite_styles_data`. Checked by
    rewrites.custom_styles_clean, whose errors (400 with a code such as too_many_styles) pass through."""

    def to_representation(self, data: Any) -> list[dict[str, str]]:
        try:
            value = json.loads(data) if data else []
        except ValueError:
            return []
        return value if isinstance(value, list) else []

    def to_internal_value(self, data: Any) -> list[dict[str, str]]:
        from mindpost.notes import rewrites  # rewrites imports the job stack; only writes need it

        return rewrites.custom_styles_clean(data)


class NoteSettingsSerializer(serializers.ModelSerializer[NoteSettings]):
    transcription_language = LanguageCodeField(
        LANGUAGE_CODE_PATTERN,
        max_length=16,
        required=False,
        help_text='ISO language code for transcription, or "" to detect it.',
    )
    # Checked in the service (vocabulary.validate_vocabulary): at most 200 terms of 60 characters.
    vocabulary = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=20000,
        help_text="Your own words (names, terms), one per line: at most 200 terms of at most 60 characters. "
        "Passed to speech recognition for later recordings; names you correct are added here.",
    )

    rewrite_styles = RewriteStylesField(
        child=RewriteStyleSerializer(),
        source="rewrite_styles_data",
        required=False,
        help_text="Your own rewrite styles (at most 10), used as `custom:<name>` by /rewrite/. Replaces the list.",
    )

    class Meta:
        model = NoteSettings
        fields = ("keep_audio", "transcription_language", "vocabulary", "rewrite_styles", "updated_at")
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
