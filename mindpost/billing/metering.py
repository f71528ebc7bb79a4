"""Usage metering: every metered action reserves one unit before it runs.

Contract (CONTRACTS.md): reserve / release / metered / max_recording_seconds / max_post_chars.
A reservation is one conditional UPDATE (`used = used + 1 WHERE used < limit`): PostgreSQL
re-checks the condition on the newest row version when concurrent updates queue up on the row,
so parallel requests can never take more than the limit. With billing off (no
STRIPE_SECRET_KEY) everyone has the unlimited plan: usage is still counted, never refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import transaction
from django.db.models import F

from mindpost.accounts.models import User
from mindpost.billing import selectors
from mindpost.billing.models import UsageCounter
from mindpost.billing.stripe_client import billing_enabled
from mindpost.core.errors import Forbidden, QuotaExceeded

__all__ = [
    "Metric",
    "arelease",
    "areserve",
    "billing_enabled",
    "max_post_chars",
    "max_recording_seconds",
    "metered",
    "release",
    "reserve",
]

logger = logging.getLogger(__name__)


class Metric(StrEnum):
    RECORDINGS = "recordings"
    GENERATIONS = "generations"
    CHAT = "chat_messages"
    PUBLISHES = "publishes"


_LABELS = {
    Metric.RECORDINGS: "Recording",
    Metric.GENERATIONS: "Post generation",
    Metric.CHAT: "Chat message",
    Metric.PUBLISHES: "Post submission",
}


def _subscription_required() -> Forbidden:
    return Forbidden(
        "An active subscription is required for this action. Choose a plan to continue.",
        code="subscription_required",
        extra={"upgrade_url": settings.BILLING_UPGRADE_URL},
    )


def _take(*, user: User, metric: Metric, period_start: datetime, limit: int | None) -> int:
    """One conditional UPDATE; returns the number of rows it changed (0 or 1)."""
    rows = UsageCounter.objects.filter(user=user, metric=metric.value, period_start=period_start)
    if limit is not None:
        rows = rows.filter(used__lt=limit)
    return rows.update(used=F("used") + 1)


def _reserve(*, user: User, metric: Metric) -> datetime:
    """Take one unit; returns the period it was taken from (so it can be given back there)."""
    metric = Metric(metric)
    entitlement = selectors.entitlement_for(user=user)
    if not entitlement.allowed:
        raise _subscription_required()
    limit = entitlement.limit(metric.value)
    start, end = entitlement.period_start, entitlement.period_end
    if limit is None or limit > 0:
        if _take(user=user, metric=metric, period_start=start, limit=limit):
            return start
        # No row yet for this period: create it (a concurrent creator wins harmlessly), then retry once.
        UsageCounter.objects.bulk_create(
            [UsageCounter(user=user, metric=metric.value, period_start=start, period_end=end, used=0)],
            ignore_conflicts=True,
        )
        if _take(user=user, metric=metric, period_start=start, limit=limit):
            return start
    used = (
        UsageCounter.objects.filter(user=user, metric=metric.value, period_start=start)
        .values_list("used", flat=True)
        .first()
    )
    raise QuotaExceeded(
        f"{_LABELS[metric]} limit reached. Please upgrade your plan.",
        code="limit_reached",
        extra={
            "metric": metric.value,
            "limit": limit,
            "used": used or 0,
            "resets_at": end.isoformat(),
            "upgrade_url": settings.BILLING_UPGRADE_URL,
        },
    )


def reserve(*, user: User, metric: Metric) -> None:
    """Take one unit of `metric` for `user`, or raise QuotaExceeded / Forbidden (subscription_required)."""
    _reserve(user=user, metric=metric)


def _give_back(*, user: User, metric: Metric, period_start: datetime) -> None:
    UsageCounter.objects.filter(user=user, metric=Metric(metric).value, period_start=period_start, used__gt=0).update(
        used=F("used") - 1
    )


def release(*, user: User, metric: Metric) -> None:
    """Give one unit back to the current period (never below zero)."""
    _give_back(user=user, metric=metric, period_start=selectors.entitlement_for(user=user).period_start)


@contextmanager
def metered(*, user: User, metric: Metric) -> Iterator[None]:
    """Reserve one unit, and give it back if the block raises."""
    period_start = _reserve(user=user, metric=metric)
    try:
        yield
    except BaseException:
        # In a transaction that is already broken the rollback undoes the reservation
        # (when it was taken inside it); never let the give-back hide the real error.
        if not transaction.get_connection().needs_rollback:
            try:
                _give_back(user=user, metric=metric, period_start=period_start)
            except Exception:
                logger.exception("could not give a unit back", extra={"metric": str(metric)})
        raise


async def areserve(*, user: User, metric: Metric) -> None:
    """reserve() for async views (streaming chat)."""
    await sync_to_async(reserve)(user=user, metric=metric)


async def arelease(*, user: User, metric: Metric) -> None:
    await sync_to_async(release)(user=user, metric=metric)


def max_recording_seconds(*, user: User) -> int | None:
    """The plan's maximum recording length in seconds; None means no cap."""
    return selectors.max_recording_seconds_of(selectors.entitlement_for(user=user).plan)


def max_post_chars(*, user: User) -> int | None:
    """The plan's maximum post length in weighted characters; None means no plan cap."""
    plan = selectors.entitlement_for(user=user).plan
    return None if plan is None else plan.max_post_chars
