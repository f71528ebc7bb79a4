"""Channels in the admin: metadata only, read-only. Numbers, chat ids, texts and replies are as
private as the notes (encrypted at rest) and are not shown to staff; `status` and `outcome` say
what happened to a message (e.g. `failed` after every retry of the reply)."""

from django.contrib import admin
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from mindpost.channels.models import ChannelLink, InboundMessage


@admin.register(ChannelLink)
class ChannelLinkAdmin(ModelAdmin):
    list_display = ["id", "user", "channel", "created_at"]
    list_filter = ["channel", "created_at"]
    search_fields = ["id", "user__email"]
    fields = ["id", "user", "channel", "created_at"]
    readonly_fields = fields
    list_select_related = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(InboundMessage)
class InboundMessageAdmin(ModelAdmin):
    list_display = ["id", "channel", "user", "kind", "status", "outcome", "note", "created_at"]
    list_filter = ["channel", "kind", "status", "outcome", "created_at"]
    search_fields = ["id", "user__email", "note__id"]
    fields = ["id", "channel", "user", "kind", "status", "outcome", "note", "created_at", "updated_at"]
    readonly_fields = fields
    list_select_related = ["user", "note"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
