from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.billing import metering, selectors
from mindpost.billing.metering import Metric
from mindpost.billing.models import Plan, UsageCounter
from mindpost.core.errors import AppError, Forbidden, QuotaExceeded, http_status
from tests.billing.conftest import make_subscription

pytestmark = pytest.mark.django_db

LIMIT_FIELD = {
    Metric.RECORDINGS: "recordings_per_period",
    Metric.GENERATIONS: "generations_per_period",
    Metric.CHAT: "chat_messages_per_period",
    Metric.PUBLISHES: "publishes_per_period",
}


def used(user, metric: Metric) -> int:
    return sum(UsageCounter.objects.filter(user=user, metric=metric.value).values_list("used", flat=True))


def test_billing_off_means_unlimited_and_still_counts(user, plans) -> None:
    for _ in range(25):
        metering.reserve(user=user, metric=Metric.CHAT)
    assert used(user, Metric.CHAT) == 25
    assert metering.max_recording_seconds(user=user) is None
    assert metering.max_post_chars(user=user) is None
    plan = selectors.entitlement_for(user=user).plan
    assert plan is not None
    assert plan.code == "unlimited"


def test_billing_on_without_subscription_is_refused(user, billing_on) -> None:
    with pytest.raises(Forbidden) as info:
        metering.reserve(user=user, metric=Metric.RECORDINGS)
    assert http_status(info.value) == 403
    assert info.value.code == "subscription_required"
    assert info.value.extra["upgrade_url"]
    assert used(user, Metric.RECORDINGS) == 0


@pytest.mark.parametrize("status", ["past_due", "canceled", "incomplete", "unpaid"])
def test_subscription_without_access_is_refused(user, billing_on, plans, status) -> None:
    make_subscription(user, plans["basic"], status=status)
    with pytest.raises(AppError) as info:
        metering.reserve(user=user, metric=Metric.CHAT)
    assert info.value.code == "subscription_required"


def test_subscription_whose_price_matches_no_plan_is_refused(user, billing_on) -> None:
    make_subscription(user, None)
    with pytest.raises(AppError) as info:
        metering.reserve(user=user, metric=Metric.CHAT)
    assert info.value.code == "subscription_required"


@pytest.mark.parametrize("metric", list(Metric))
def test_every_metric_stops_at_its_limit(user, billing_on, plans, metric: Metric) -> None:
    plan = plans["basic"]
    setattr(plan, LIMIT_FIELD[metric], 3)
    plan.save()
    subscription = make_subscription(user, plan)
    for _ in range(3):
        metering.reserve(user=user, metric=metric)
    with pytest.raises(QuotaExceeded) as info:
        metering.reserve(user=user, metric=metric)
    error = info.value
    assert http_status(error) == 403
    assert error.code == "limit_reached"
    assert error.extra["limit"] == 3
    assert error.extra["used"] == 3
    assert subscription.current_period_end is not None
    assert error.extra["resets_at"] == subscription.current_period_end.isoformat()
    assert error.extra["upgrade_url"].startswith("http")
    assert used(user, metric) == 3
    # Other metrics are counted separately.
    other = next(m for m in Metric if m != metric)
    metering.reserve(user=user, metric=other)


@pytest.mark.parametrize("metric", list(Metric))
def test_seeded_basic_limits_hold_at_the_exact_number(user, billing_on, plans, metric: Metric) -> None:
    plan = plans["basic"]
    limit = getattr(plan, LIMIT_FIELD[metric])
    subscription = make_subscription(user, plan)
    # Fill up to one below the limit directly, then meter the last unit through the API.
    assert subscription.current_period_start is not None
    assert subscription.current_period_end is not None
    UsageCounter.objects.create(
        user=user,
        metric=metric.value,
        period_start=subscription.current_period_start,
        period_end=subscription.current_period_end,
        used=limit - 1,
    )
    metering.reserve(user=user, metric=metric)
    with pytest.raises(AppError):
        metering.reserve(user=user, metric=metric)
    assert used(user, metric) == limit


def test_limit_of_zero_refuses_the_first_unit(user, billing_on, plans) -> None:
    plan = plans["basic"]
    plan.publishes_per_period = 0
    plan.save()
    make_subscription(user, plan)
    with pytest.raises(AppError) as info:
        metering.reserve(user=user, metric=Metric.PUBLISHES)
    assert info.value.extra["used"] == 0


def test_empty_limit_means_no_limit(user, billing_on, plans) -> None:
    plan = plans["pro"]
    plan.chat_messages_per_period = None
    plan.save()
    make_subscription(user, plan)
    for _ in range(5):
        metering.reserve(user=user, metric=Metric.CHAT)
    assert used(user, Metric.CHAT) == 5


def test_failed_action_gives_its_unit_back(user, billing_on, plans) -> None:
    plan = plans["basic"]
    plan.generations_per_period = 1
    plan.save()
    make_subscription(user, plan)
    seen = []

    def generate() -> None:
        with metering.metered(user=user, metric=Metric.GENERATIONS):
            seen.append(used(user, Metric.GENERATIONS))
            raise RuntimeError("the model fell over")

    with pytest.raises(RuntimeError):
        generate()
    assert seen == [1]
    assert used(user, Metric.GENERATIONS) == 0
    # The unit is usable again, and a successful block keeps it.
    with metering.metered(user=user, metric=Metric.GENERATIONS):
        pass
    assert used(user, Metric.GENERATIONS) == 1
    with pytest.raises(AppError), metering.metered(user=user, metric=Metric.GENERATIONS):
        pytest.fail("must not run past the limit")


def test_release_gives_back_and_never_goes_below_zero(user, billing_on, plans) -> None:
    make_subscription(user, plans["basic"])
    metering.reserve(user=user, metric=Metric.RECORDINGS)
    metering.release(user=user, metric=Metric.RECORDINGS)
    metering.release(user=user, metric=Metric.RECORDINGS)
    assert used(user, Metric.RECORDINGS) == 0


def test_usage_is_per_user(make_user, billing_on, plans) -> None:
    plan = plans["basic"]
    plan.chat_messages_per_period = 2
    plan.save()
    alice, bob = make_user(), make_user()
    make_subscription(alice, plan)
    make_subscription(bob, plan)
    metering.reserve(user=alice, metric=Metric.CHAT)
    metering.reserve(user=alice, metric=Metric.CHAT)
    with pytest.raises(AppError):
        metering.reserve(user=alice, metric=Metric.CHAT)
    metering.reserve(user=bob, metric=Metric.CHAT)
    assert used(bob, Metric.CHAT) == 1


def test_plan_caps(user, billing_on, plans) -> None:
    make_subscription(user, plans["basic"])
    assert metering.max_recording_seconds(user=user) == 300
    assert metering.max_post_chars(user=user) == 280
    user.subscriptions.update(plan=plans["pro"])
    assert metering.max_recording_seconds(user=user) == 600
    assert metering.max_post_chars(user=user) == 25_000


def test_trial_counts_by_calendar_month(user, billing_on, plans) -> None:
    make_subscription(user, plans["basic"], status="trialing", start=timezone.now() - timedelta(days=2), days=14)
    entitlement = selectors.entitlement_for(user=user, now=datetime(2026, 11, 20, 15, tzinfo=UTC))
    assert entitlement.period_start == datetime(2026, 11, 1, tzinfo=UTC)
    assert entitlement.period_end == datetime(2026, 12, 1, tzinfo=UTC)
    december = selectors.entitlement_for(user=user, now=datetime(2026, 12, 31, 23, tzinfo=UTC))
    assert december.period_end == datetime(2027, 1, 1, tzinfo=UTC)


def test_new_billing_period_starts_from_zero(user, billing_on, plans) -> None:
    plan = plans["basic"]
    plan.chat_messages_per_period = 1
    plan.save()
    subscription = make_subscription(user, plan, start=datetime(2026, 1, 31, 10, tzinfo=UTC), days=28)
    subscription.current_period_end = datetime(2026, 2, 28, 10, tzinfo=UTC)
    subscription.save()
    inside = selectors.entitlement_for(user=user, now=datetime(2026, 2, 10, tzinfo=UTC))
    assert inside.period_start == subscription.current_period_start
    assert inside.period_end == subscription.current_period_end
    # Renewal not reported yet: the period rolls forward by whole months, so usage resets on time.
    later = selectors.entitlement_for(user=user, now=datetime(2026, 3, 15, tzinfo=UTC))
    assert later.period_start == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert later.period_end == datetime(2026, 3, 28, 10, tzinfo=UTC)


def test_limit_reached_renders_the_contract_body(user, billing_on, plans) -> None:
    plan = plans["basic"]
    plan.chat_messages_per_period = 0
    plan.save()
    make_subscription(user, plan)

    class ChatView(APIView):
        def post(self, request: Request) -> Response:
            metering.reserve(user=current_user(request), metric=Metric.CHAT)
            return Response({"ok": True})

    request = APIRequestFactory().post("/api/x/", {}, format="json")
    force_authenticate(request, user=user)
    response = ChatView.as_view()(request)
    assert response.status_code == 403
    body = response.data
    assert body["code"] == "limit_reached"
    assert {"detail", "limit", "used", "resets_at", "upgrade_url", "fields"} <= set(body)
    assert body["limit"] == 0


def test_async_helpers_for_async_views(user, plans) -> None:
    async_to_sync(metering.areserve)(user=user, metric=Metric.CHAT)
    assert used(user, Metric.CHAT) == 1
    async_to_sync(metering.arelease)(user=user, metric=Metric.CHAT)
    assert used(user, Metric.CHAT) == 0


def test_plan_price_id_prefers_admin_value(settings, plans) -> None:
    settings.STRIPE_PRICES = {"basic": "price_env"}
    plan: Plan = plans["basic"]
    assert plan.price_id == "price_env"
    plan.stripe_price_id = "price_admin"
    assert plan.price_id == "price_admin"
    plan.save()
    assert selectors.plan_for_price(price_id="price_admin") == plan
    assert selectors.plan_for_price(price_id="price_env") is None
