from __future__ import annotations

from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from mindpost.posts.models import Connection, OAuthState, Post, PostImage, PublishAttempt


def _mask(value: str) -> str:
    return f"•••• ({len(value)} characters)" if value else "—"


class PostImageInline(TabularInline):
    model = PostImage
    extra = 0
    fields = ("image", "content_type", "size", "width", "height", "created_at")
    readonly_fields = fields
    can_delete = True


class PublishAttemptInline(TabularInline):
    model = PublishAttempt
    extra = 0
    fields = ("part_index", "outcome", "external_id", "error_code", "http_status", "started_at", "finished_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Post)
class PostAdmin(ModelAdmin):
    list_display = ("id", "user", "network", "format", "status", "scheduled_at", "published_at", "created_at")
    list_filter = ("status", "network", "format", "created_at")
    search_fields = ("id", "user__email", "post_id")
    raw_id_fields = ("user",)
    readonly_fields = (
        "id",
        "post_id",
        "post_url",
        "external_ids",
        "job_token",
        "lease_until",
        "next_retry_at",
        "retry_count",
        "holds_publish_unit",
        "published_at",
        "created_at",
        "modified_at",
    )
    exclude = ("notes",)
    inlines = (PostImageInline, PublishAttemptInline)


@admin.register(PublishAttempt)
class PublishAttemptAdmin(ModelAdmin):
    list_display = ("post", "network", "part_index", "outcome", "error_code", "http_status", "started_at")
    list_filter = ("outcome", "network")
    search_fields = ("post__id", "external_id")

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Connection)
class ConnectionAdmin(ModelAdmin):
    """Tokens are never shown or editable: only whether they are there."""

    list_display = ("user", "network", "username", "verified", "needs_reauth", "access_expires_at", "connected_at")
    list_filter = ("network", "needs_reauth", "verified")
    search_fields = ("user__email", "username", "external_user_id")
    raw_id_fields = ("user",)
    exclude = ("access_token", "refresh_token")
    readonly_fields = (
        "masked_access_token",
        "masked_refresh_token",
        "access_expires_at",
        "refresh_expires_at",
        "scope",
        "token_type",
        "external_user_id",
        "connected_at",
        "refreshed_at",
        "updated_at",
    )

    @admin.display(description="Access token")
    def masked_access_token(self, obj: Connection) -> str:
        return _mask(obj.access_token)

    @admin.display(description="Refresh token")
    def masked_refresh_token(self, obj: Connection) -> str:
        return _mask(obj.refresh_token)

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(OAuthState)
class OAuthStateAdmin(ModelAdmin):
    list_display = ("user", "network", "client", "created_at", "expires_at", "used_at")
    list_filter = ("network", "client")
    # Secrets, and tokens waiting for a confirmation page: never shown.
    exclude = (
        "code_verifier",
        "state",
        "browser_nonce_hash",
        "pending_tokens",
        "pending_profile",
        "confirm_token_hash",
    )
    readonly_fields = ("user", "network", "client", "created_at", "expires_at", "used_at")

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False
