"""Billing in the admin: plans are edited here; Stripe-owned state is shown read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from unfold.admin import ModelAdmin

from mindpost.billing.models import BillingCustomer, Plan, StripeEvent, Subscription, UsageCounter


@admin.register(Plan)
class PlanAdmin(ModelAdmin):
    list_display = [
        "code",
        "name",
        "price_cents",
        "effective_price_id",
        "is_active",
        "recordings_per_period",
        "max_recording_minutes",
        "generations_per_period",
        "chat_messages_per_period",
        "publishes_per_period",
        "max_post_chars",
    ]
    list_filter = ["is_active", "currency"]
    search_fields = ["code", "name", "stripe_price_id"]
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = (
        (None, {"fields": ("code", "name", "is_active", "sort_order")}),
        ("Price", {"fields": ("price_cents", "currency", "stripe_price_id")}),
        (
            "Limits per billing period (empty = no limit)",
            {
                "fields": (
                    "recordings_per_period",
                    "max_recording_minutes",
                    "generations_per_period",
                    "chat_messages_per_period",
                    "publishes_per_period",
                    "max_post_chars",
                )
            },
        ),
        ("Dates", {"fields": ("created_at", "updated_at")}),
    )

    @admin.display(description="Stripe price (effective)")
    def effective_price_id(self, obj: Plan) -> str:
        return obj.price_id or "—"


class ReadOnlyAdmin(ModelAdmin):
    """Rows written by Stripe webhooks: changing them here would disagree with Stripe."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["stripe_subscription_id", "user", "plan", "status", "current_period_end", "cancel_at_period_end"]
    list_filter = ["status", "plan", "cancel_at_period_end", "created_at"]
    search_fields = ["user__email", "stripe_subscription_id", "stripe_customer_id"]
    list_select_related = ["user", "plan"]
    readonly_fields = [
        "user",
        "stripe_subscription_id",
        "stripe_customer_id",
        "plan",
        "stripe_price_id",
        "status",
        "current_period_start",
        "current_period_end",
        "trial_end",
        "cancel_at_period_end",
        "canceled_at",
        "last_event_at",
        "created_at",
        "updated_at",
    ]


@admin.register(BillingCustomer)
class BillingCustomerAdmin(ReadOnlyAdmin):
    list_display = ["user", "stripe_customer_id", "trial_used", "created_at"]
    list_filter = ["trial_used", "created_at"]
    search_fields = ["user__email", "stripe_customer_id"]
    list_select_related = ["user"]
    readonly_fields = [
        "user",
        "stripe_customer_id",
        "trial_used",
        "open_checkout_session_id",
        "checkout_attempts",
        "created_at",
        "updated_at",
    ]


@admin.register(UsageCounter)
class UsageCounterAdmin(ModelAdmin):
    """`used` stays editable so support can give units back."""

    list_display = ["user", "metric", "period_start", "period_end", "used"]
    list_filter = ["metric", "period_start"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "metric", "period_start", "period_end", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "outcome", "created", "processed_at"]
    list_filter = ["type", "outcome", "processed_at"]
    search_fields = ["id", "type"]
    readonly_fields = ["id", "type", "outcome", "created", "processed_at"]
