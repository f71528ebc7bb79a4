"""Input and output shapes of the posts API. Inputs list their fields explicitly: anything
else in a request (user, post_id, id, ...) is ignored, so nothing can be mass-assigned."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.utils import html

from mindpost.core.errors import AppError
from mindpost.core.parsers import MALFORMED, loads_request_json
from mindpost.posts import length, networks
from mindpost.posts.models import Post, PostFormat, PostImage

# `posted` is the reference's name for published; both mean "publish it now".
PUBLISH_STATUSES = ("posted", "published")
INPUT_STATUSES = ("draft", "scheduled", *PUBLISH_STATUSES)


class AwareDateTimeField(serializers.DateTimeField):
    """A datetime that must say its timezone: a naive time would publish at the wrong hour."""

    default_error_messages = {
        "timezone_required": "Include a timezone offset, for example 2030-01-31T09:00:00+01:00 or ...Z."
    }

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("timezone_required")
        return super().enforce_timezone(value)


class UUIDListField(serializers.ListField):
    """A list of UUIDs from JSON, or from multipart as repeated keys, "a,b" or '["a","b"]'."""

    child = serializers.UUIDField()

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary):
            values = dictionary.getlist(self.field_name) if self.field_name in dictionary else None
            if values is None:
                return empty
            if len(values) == 1 and isinstance(values[0], str):
                return self._split(values[0])
            return values
        return dictionary.get(self.field_name, empty)

    @staticmethod
    def _split(raw: str) -> Any:
        raw = raw.strip()
        if not raw:
            return []
        if raw.startswith("["):
            try:
                return loads_request_json(raw)
            except AppError as exc:
                if exc.code != MALFORMED:
                    raise  # invalid_text: refused, not taken as plain text
                return [raw]
        return [part.strip() for part in raw.split(",") if part.strip()]


class StringListField(serializers.ListField):
    child = serializers.CharField(allow_blank=True, trim_whitespace=True, max_length=30_000)

    def get_value(self, dictionary: Any) -> Any:
        if html.is_html_input(dictionary):
            if self.field_name not in dictionary:
                return empty
            values = dictionary.getlist(self.field_name)
            if len(values) == 1 and values[0].strip().startswith("["):
                try:
                    return loads_request_json(values[0])
                except AppError as exc:
                    if exc.code != MALFORMED:
                        raise
                    return values
            return values
        return dictionary.get(self.field_name, empty)


class PostCreateInput(serializers.Serializer):
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=True, max_length=100_000)
    parts = StringListField(required=False, max_length=25)
    format = serializers.ChoiceField(choices=PostFormat.choices, required=False)
    post_type = serializers.CharField(required=False, default="twitter", max_length=32)
    status = serializers.ChoiceField(choices=INPUT_STATUSES, required=False, default="draft")
    scheduled_at = AwareDateTimeField(required=False, allow_null=True)
    brain_dump_ids = UUIDListField(required=False, max_length=100)
    networks = StringListField(
        required=False,
        max_length=10,
        help_text='Cross-post: network slugs ("x", "linkedin", "bluesky", "mastodon") to publish or schedule to, '
        "each with its own fitted text. Without it, post_type's single network is used.",
    )
    reminder = serializers.BooleanField(
        required=False,
        help_text="Schedule as a reminder: at scheduled_at an email (and a linked chat) brings the text and "
        "open-in links instead of publishing. Scheduling with nothing connected is a reminder anyway.",
    )


class PublishInput(serializers.Serializer):
    networks = StringListField(required=False, max_length=10, help_text="Cross-post to these networks (slugs).")


class PostUpdateInput(PostCreateInput):
    post_type = serializers.CharField(required=False, max_length=32)
    status = serializers.ChoiceField(choices=INPUT_STATUSES, required=False)


class GenerateInput(serializers.Serializer):
    brain_dump_uuids = UUIDListField(required=False, default=list, max_length=100)
    min_chars = serializers.IntegerField(required=False, default=0, min_value=0, max_value=25_000)
    max_chars = serializers.IntegerField(required=False, default=280, min_value=20, max_value=25_000)
    format = serializers.ChoiceField(choices=PostFormat.choices, required=False, default=PostFormat.SINGLE)
    post_type = serializers.CharField(required=False, default="twitter", max_length=32)


class DraftRequestInput(GenerateInput):
    # The network slug ("x", "linkedin"); overrides post_type when given.
    network = serializers.CharField(required=False, max_length=32)


class ConnectInput(serializers.Serializer):
    client = serializers.ChoiceField(choices=("mobile", "web"), required=False, default="mobile")


# --- outputs -------------------------------------------------------------------------------
class ImageOutput(serializers.Serializer):
    id = serializers.UUIDField()
    image = serializers.SerializerMethodField()
    content_type = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    created_at = serializers.DateTimeField()

    def get_image(self, obj: PostImage) -> str:
        path = reverse("posts_image_detail", kwargs={"pk": obj.post_id, "image_id": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else settings.SITE_URL + path


class DeliveryOutput(serializers.Serializer):
    network = serializers.CharField()
    display_name = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=("queued", "publishing", "published", "failed"))
    parts = serializers.ListField(child=serializers.CharField(), help_text="The text as fitted to this network.")
    remote_id = serializers.CharField(allow_null=True)
    remote_url = serializers.CharField()
    error_code = serializers.CharField()
    error_detail = serializers.CharField()
    attempts = serializers.IntegerField()
    next_retry_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)

    def get_display_name(self, obj: Any) -> str:
        return networks.get(obj.network).display_name


class ReminderOutput(serializers.Serializer):
    status = serializers.ChoiceField(choices=("queued", "sending", "sent", "cancelled"))
    remind_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    email_sent = serializers.BooleanField()
    channels_sent = serializers.ListField(child=serializers.CharField())


class PostOutput(serializers.Serializer):
    id = serializers.UUIDField()
    content = serializers.CharField()
    format = serializers.CharField()
    parts = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField()
    post_type = serializers.SerializerMethodField()
    post_id = serializers.CharField(allow_null=True)
    post_url = serializers.CharField()
    character_count = serializers.SerializerMethodField()
    images = ImageOutput(many=True)
    brain_dump_ids = serializers.SerializerMethodField()
    scheduled_at = serializers.DateTimeField(allow_null=True)
    published_at = serializers.DateTimeField(allow_null=True)
    next_retry_at = serializers.DateTimeField(allow_null=True)
    failure_code = serializers.CharField()
    failure_detail = serializers.CharField()
    created_at = serializers.DateTimeField()
    modified_at = serializers.DateTimeField()
    deliveries = DeliveryOutput(many=True, help_text="Per-network status of a cross-post; empty otherwise.")
    reminder = serializers.SerializerMethodField()

    @extend_schema_field(ReminderOutput(allow_null=True))
    def get_reminder(self, obj: Post) -> dict[str, Any] | None:
        reminder = getattr(obj, "reminder", None)
        if reminder is None or reminder.status == "cancelled":
            return None
        return dict(ReminderOutput(reminder).data)

    def get_post_type(self, obj: Post) -> str:
        return networks.get(obj.network).post_types[0]

    def get_character_count(self, obj: Post) -> int:
        """Weighted length as X counts it; for a thread, its longest post."""
        return max((length.weighted_length(text) for text in obj.texts), default=0)

    def get_brain_dump_ids(self, obj: Post) -> list[uuid.UUID]:
        notes = getattr(obj, "note_list", None)
        if notes is None:
            notes = list(obj.notes.all())
        return [note.pk for note in notes]


class VariantOutput(serializers.Serializer):
    post_text = serializers.CharField()
    topics = serializers.ListField(child=serializers.CharField())
    character_count = serializers.IntegerField()
    parts = serializers.ListField(child=serializers.CharField())
    angle = serializers.CharField(required=False, help_text="The angle it was written from: hook, lesson, question.")


class GenerateOutput(serializers.Serializer):
    posts = VariantOutput(many=True)
    char_limit = serializers.IntegerField()
    format = serializers.CharField()
    model = serializers.CharField()


class DraftAcceptedOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()


class DraftErrorOutput(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class DraftRequestOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=("queued", "running", "done", "failed"))
    stage = serializers.CharField(help_text='What is happening now, e.g. "Waiting for the model (2 ahead)".')
    variants = VariantOutput(many=True, help_text="The variants written so far, in order.")
    char_limit = serializers.IntegerField(allow_null=True)
    format = serializers.CharField()
    network = serializers.CharField()
    model = serializers.CharField()
    error = DraftErrorOutput(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class TwitterStatusOutput(serializers.Serializer):
    connected = serializers.BooleanField()
    twitter_username = serializers.CharField(required=False)
    twitter_name = serializers.CharField(required=False)
    connected_at = serializers.DateTimeField(required=False)
    needs_reauth = serializers.BooleanField()
    verified = serializers.BooleanField()
    char_limit = serializers.IntegerField()


class ConnectionOutput(serializers.Serializer):
    network = serializers.CharField()
    display_name = serializers.CharField()
    configured = serializers.BooleanField()
    connected = serializers.BooleanField()
    username = serializers.CharField(allow_null=True)
    name = serializers.CharField(allow_null=True)
    connected_at = serializers.DateTimeField(allow_null=True)
    needs_reauth = serializers.BooleanField()
    verified = serializers.BooleanField()
    char_limit = serializers.IntegerField()
    supports_threads = serializers.BooleanField()
    max_images = serializers.IntegerField()


class AuthorizeUrlOutput(serializers.Serializer):
    authorize_url = serializers.CharField()


class DisconnectOutput(serializers.Serializer):
    status = serializers.CharField()
    code = serializers.CharField()
    message = serializers.CharField()
