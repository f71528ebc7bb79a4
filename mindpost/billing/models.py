"""Billing data: plans and their limits, Stripe customers and subscriptions, usage counters, events."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Plan(models.Model):
    """A purchasable plan. Limits are per billing period; an empty limit means no limit."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    price_cents = models.PositiveIntegerField(default=0, help_text="Shown to users; Stripe's price is what is billed.")
    currency = models.CharField(max_length=3, default="usd")
    stripe_price_id = models.CharField(
        max_length=255,
        blank=True,
        help_text="Stripe Price id (price_...). Empty: taken from STRIPE_PRICE_<CODE> in the environment.",
    )
    is_active = models.BooleanField(default=True, help_text="Offered for checkout.")
    sort_order = models.PositiveSmallIntegerField(default=0)

    recordings_per_period = models.PositiveIntegerField(null=True, blank=True)
    max_recording_minutes = models.PositiveIntegerField(null=True, blank=True)
    generations_per_period = models.PositiveIntegerField(null=True, blank=True)
    chat_messages_per_period = models.PositiveIntegerField(null=True, blank=True)
    publishes_per_period = models.PositiveIntegerField(null=True, blank=True)
    max_post_chars = models.PositiveIntegerField(
        null=True, blank=True, help_text="Maximum post length in weighted (X) characters."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def price_id(self) -> str:
        """The Stripe price: the admin's value wins over the environment's."""
        if self.stripe_price_id:
            return self.stripe_price_id
        return str(settings.STRIPE_PRICES.get(self.code, "") or "")


class BillingCustomer(models.Model):
    """The user's Stripe customer, and what checkout needs to remember between requests."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="billing_customer")
    stripe_customer_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    trial_used = models.BooleanField(default=False)
    # The last Checkout Session we opened; it is expired before another is opened,
    # so two browser tabs cannot both complete and create two subscriptions.
    open_checkout_session_id = models.CharField(max_length=255, blank=True)
    checkout_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.stripe_customer_id or f"customer of {self.user_id}"


class SubscriptionStatus(models.TextChoices):
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    PAUSED = "paused"


# Statuses that let metered actions run.
ACCESS_STATUSES = frozenset({SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING})
# Statuses in which Stripe may still bill: a second subscription next to one of these bills twice.
BILLABLE_STATUSES = frozenset(
    {SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING, SubscriptionStatus.PAST_DUE, SubscriptionStatus.UNPAID}
)


class Subscription(models.Model):
    """A Stripe subscription as last reported by Stripe (webhooks or a fetch)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions")
    stripe_subscription_id = models.CharField(max_length=255, unique=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="subscriptions")
    stripe_price_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=24, choices=SubscriptionStatus.choices)
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    trial_end = models.DateTimeField(null=True, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    canceled_at = models.DateTimeField(null=True, blank=True)
    # `created` of the newest Stripe event applied: older events arriving late are ignored.
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-created_at"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["user", "status"])]

    def __str__(self) -> str:
        return f"{self.stripe_subscription_id} ({self.status})"

    @property
    def grants_access(self) -> bool:
        return self.status in ACCESS_STATUSES


class UsageCounter(models.Model):
    """Units of one metric used by one user in one period. Only ever changed by conditional UPDATEs."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_counters")
    metric = models.CharField(max_length=32)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    used = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-period_start", "metric"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "metric", "period_start"], name="billing_usage_one_per_period"),
            models.CheckConstraint(condition=Q(used__gte=0), name="billing_usage_not_negative"),
            models.CheckConstraint(condition=Q(period_end__gt=F("period_start")), name="billing_usage_period_order"),
        ]

    def __str__(self) -> str:
        return f"{self.metric}: {self.used}"


class StripeEvent(models.Model):
    """A processed webhook event. The primary key makes each event apply once."""

    id = models.CharField(max_length=255, primary_key=True)
    type = models.CharField(max_length=128)
    created = models.DateTimeField(help_text="When Stripe created the event.")
    processed_at = models.DateTimeField(auto_now_add=True)
    outcome = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering: ClassVar[list[str]] = ["-processed_at"]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"
