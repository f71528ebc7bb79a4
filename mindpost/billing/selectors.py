"""Billing reads: which plan a user is on, the usage period, and what has been used."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.billing.models import (
    ACCESS_STATUSES,
    BILLABLE_STATUSES,
    BillingCustomer,
    Plan,
    Subscription,
    SubscriptionStatus,
    UsageCounter,
)
from mindpost.billing.stripe_client import billing_enabled

# Metric value -> the Plan field holding its per-period limit. Keys match metering.Metric.
LIMIT_FIELDS: dict[str, str] = {
    "recordings": "recordings_per_period",
    "generations": "generations_per_period",
    "chat_messages": "chat_messages_per_period",
    "publishes": "publishes_per_period",
}

UNLIMITED_CODE = "unlimited"


def unlimited_plan() -> Plan:
    """The plan of everyone when billing is off. Never saved: it needs no row to exist."""
    return Plan(code=UNLIMITED_CODE, name="Unlimited", price_cents=0, is_active=False)


@dataclass(frozen=True)
class Entitlement:
    plan: Plan | None  # None: no plan at all (billing on, never subscribed)
    subscription: Subscription | None
    allowed: bool  # may metered actions run?
    period_start: datetime
    period_end: datetime

    def limit(self, metric: str) -> int | None:
        if self.plan is None:
            return 0
        value: int | None = getattr(self.plan, LIMIT_FIELDS[metric])
        return value


def add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def calendar_month(now: datetime) -> tuple[datetime, datetime]:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start, add_months(start, 1)


def _billing_period(subscription: Subscription, now: datetime) -> tuple[datetime, datetime]:
    start, end = subscription.current_period_start, subscription.current_period_end
    if start is None or end is None or end <= start:
        return calendar_month(now)
    # A renewal whose webhook has not arrived yet: roll forward by whole months, so the
    # counters reset on time instead of staying exhausted until Stripe reports back.
    months = 0
    while add_months(end, months) <= now and months < 1200:
        months += 1
    return add_months(start, months), add_months(end, months)


def subscription_current(*, user: User) -> Subscription | None:
    """The subscription that decides the user's plan: a usable one first, else the newest."""
    rows = list(Subscription.objects.filter(user=user).select_related("plan").order_by("-created_at")[:20])
    for row in rows:
        if row.status in ACCESS_STATUSES:
            return row
    for row in rows:
        if row.status in BILLABLE_STATUSES:
            return row
    return rows[0] if rows else None


def billable_subscription(*, user: User) -> Subscription | None:
    """A subscription Stripe may still bill for (a second one next to it would bill twice)."""
    return (
        Subscription.objects.filter(user=user, status__in=BILLABLE_STATUSES)
        .select_related("plan")
        .order_by("-created_at")
        .first()
    )


def entitlement_for(*, user: User, now: datetime | None = None) -> Entitlement:
    now = now or timezone.now()
    if not billing_enabled():
        start, end = calendar_month(now)
        return Entitlement(plan=unlimited_plan(), subscription=None, allowed=True, period_start=start, period_end=end)
    subscription = subscription_current(user=user)
    plan = subscription.plan if subscription else None
    allowed = subscription is not None and subscription.grants_access and plan is not None
    if subscription is not None and allowed and subscription.status != SubscriptionStatus.TRIALING:
        start, end = _billing_period(subscription, now)
    else:
        # Trials (and users without a usable subscription) count by calendar month.
        start, end = calendar_month(now)
    return Entitlement(plan=plan, subscription=subscription, allowed=allowed, period_start=start, period_end=end)


def plans_purchasable() -> list[Plan]:
    return [plan for plan in Plan.objects.filter(is_active=True).order_by("sort_order", "code") if plan.price_id]


def plan_for_price(*, price_id: str) -> Plan | None:
    if not price_id:
        return None
    plan = Plan.objects.filter(stripe_price_id=price_id).first()
    if plan is not None:
        return plan
    for code, env_price in settings.STRIPE_PRICES.items():
        if env_price and env_price == price_id:
            return Plan.objects.filter(code=code, stripe_price_id="").first()
    return None


def usage_summary(*, user: User) -> dict[str, Any]:
    """Plan, limits, used and reset time: what GET /api/usage/ shows."""
    entitlement = entitlement_for(user=user)
    counters = dict(
        UsageCounter.objects.filter(user=user, period_start=entitlement.period_start).values_list("metric", "used")
    )
    plan = entitlement.plan
    subscription = entitlement.subscription
    return {
        "billing_enabled": billing_enabled(),
        "plan": None if plan is None else {"code": plan.code, "name": plan.name, "price_cents": plan.price_cents},
        "subscription": None
        if subscription is None
        else {
            "status": subscription.status,
            "current_period_end": subscription.current_period_end,
            "trial_end": subscription.trial_end,
            "cancel_at_period_end": subscription.cancel_at_period_end,
        },
        "active": entitlement.allowed,
        "limits": {metric: entitlement.limit(metric) for metric in LIMIT_FIELDS},
        "used": {metric: counters.get(metric, 0) for metric in LIMIT_FIELDS},
        "max_recording_seconds": max_recording_seconds_of(plan),
        "max_post_chars": None if plan is None else plan.max_post_chars,
        "period_start": entitlement.period_start,
        "resets_at": entitlement.period_end,
        "upgrade_url": settings.BILLING_UPGRADE_URL,
    }


def max_recording_seconds_of(plan: Plan | None) -> int | None:
    if plan is None or plan.max_recording_minutes is None:
        return None
    return plan.max_recording_minutes * 60


_METER_LABELS = {
    "recordings": "Recordings",
    "generations": "Post generations",
    "chat_messages": "Chat messages",
    "publishes": "Publishes",
}


def plan_panel_context(*, user: User) -> dict[str, Any]:
    """What the plan panel (web/_plan_panel.html, on settings and /subscriptions/upgrade/) shows."""
    summary = usage_summary(user=user)
    enabled = bool(summary["billing_enabled"])
    return {
        "billing": summary,
        "billing_rows": [
            {"label": label, "used": summary["used"][metric], "limit": summary["limits"][metric]}
            for metric, label in _METER_LABELS.items()
        ],
        "billing_plans": plans_purchasable() if enabled else [],
        # The portal needs a Stripe customer to open for.
        "billing_has_customer": enabled
        and BillingCustomer.objects.filter(user=user).exclude(stripe_customer_id=None).exists(),
    }
