"""Chat in the admin: metadata only. What people ask about their notes is as private as the notes,
so titles, messages and cited excerpts (encrypted at rest) are not shown to staff."""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline

from mindpost.chat.models import Conversation, Message

_MESSAGE_FIELDS = ["position", "role", "kind", "model_name", "created_at"]


class MessageInline(TabularInline):
    model = Message
    extra = 0
    can_delete = False
    fields = _MESSAGE_FIELDS
    readonly_fields = _MESSAGE_FIELDS
    ordering = ["position"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(ModelAdmin):
    list_display = ["id", "user", "messages", "created_at", "updated_at"]
    list_filter = ["created_at"]
    search_fields = ["id", "user__email"]
    fields = ["id", "user", "created_at", "updated_at"]
    readonly_fields = fields
    list_select_related = ["user"]
    inlines = [MessageInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Conversation]:
        return super().get_queryset(request).annotate(message_total=Count("messages"))

    @admin.display(description="messages", ordering="message_total")
    def messages(self, obj: Conversation) -> int:
        return int(getattr(obj, "message_total", 0))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(ModelAdmin):
    list_display = ["id", "conversation", "position", "role", "kind", "model_name", "created_at"]
    list_filter = ["role", "kind", "created_at"]
    search_fields = ["id", "conversation__id", "conversation__user__email"]
    fields = ["id", "conversation", *_MESSAGE_FIELDS]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
