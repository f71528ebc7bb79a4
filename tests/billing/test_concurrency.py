"""50 parallel reservations at a limit of 10, each on its own database connection."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from mindpost.billing import metering
from mindpost.billing.metering import Metric
from mindpost.billing.models import UsageCounter
from mindpost.core.errors import AppError
from tests.billing.conftest import make_subscription


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("metric", [Metric.CHAT, Metric.RECORDINGS])
def test_fifty_parallel_requests_at_a_limit_of_ten(make_user, billing_on, plans, metric: Metric) -> None:
    plan = plans["basic"]
    plan.chat_messages_per_period = 10
    plan.recordings_per_period = 10
    plan.save()
    user = make_user()
    make_subscription(user, plan)
    # No counter row exists yet: the racers also race to create it.
    assert not UsageCounter.objects.exists()

    start = threading.Barrier(50)

    def attempt(_: int) -> str:
        try:
            start.wait(timeout=30)
            metering.reserve(user=user, metric=metric)
            return "ok"
        except AppError as exc:
            return exc.code
        finally:
            connection.close()  # each thread had its own connection

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(attempt, range(50)))

    assert outcomes.count("ok") == 10
    assert outcomes.count("limit_reached") == 40
    assert UsageCounter.objects.get(user=user, metric=metric.value).used == 10


@pytest.mark.django_db(transaction=True)
def test_parallel_failures_give_every_unit_back(make_user, billing_on, plans) -> None:
    plan = plans["basic"]
    plan.generations_per_period = 10
    plan.save()
    user = make_user()
    make_subscription(user, plan)
    start = threading.Barrier(20)

    def attempt(index: int) -> str:
        try:
            start.wait(timeout=30)
            with metering.metered(user=user, metric=Metric.GENERATIONS):
                if index % 2:
                    raise RuntimeError("generation failed")
            return "ok"
        except RuntimeError:
            return "failed"
        except AppError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(attempt, range(20)))

    kept = UsageCounter.objects.get(user=user, metric=Metric.GENERATIONS.value).used
    assert kept == outcomes.count("ok")
    assert kept <= 10
