"""Fixtures for the billing tests: a loopback fake Stripe and signed webhook posts (`plans` is in tests/conftest.py)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import stripe
from django.utils import timezone
from rest_framework.test import APIClient

from mindpost.billing.models import Plan, Subscription
from tests.fakes.stripe_server import FakeStripe

SECRET_KEY = "sk_test_mindpost_fake_key"
WEBHOOK_SECRET = "whsec_test_mindpost"


@pytest.fixture
def fake_stripe(settings: Any, plans: dict[str, Plan]) -> Iterator[FakeStripe]:
    fake = FakeStripe(secret_key=SECRET_KEY, prices={"price_basic", "price_pro"}).start()
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 5
    settings.STRIPE_PRICES = {"basic": "price_basic", "pro": "price_pro"}
    yield fake
    fake.stop()


@pytest.fixture
def billing_on(fake_stripe: FakeStripe) -> FakeStripe:
    return fake_stripe


def make_subscription(
    user: Any,
    plan: Plan | None,
    *,
    status: str = "active",
    start: datetime | None = None,
    days: int = 30,
    stripe_id: str | None = None,
) -> Subscription:
    start = start or timezone.now() - timedelta(days=3)
    return Subscription.objects.create(
        user=user,
        stripe_subscription_id=stripe_id or f"sub_local_{uuid.uuid4().hex[:10]}",
        stripe_customer_id="cus_local",
        plan=plan,
        stripe_price_id=plan.price_id if plan else "price_unknown",
        status=status,
        current_period_start=start,
        current_period_end=start + timedelta(days=days),
    )


def event(event_type: str, obj: dict[str, Any], *, created: int | None = None, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "type": event_type,
        "data": {"object": obj},
    }


def post_event(
    client: APIClient,
    payload: dict[str, Any] | str,
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
    path: str = "/api/billing/webhook/",
    signature: str | None = None,
) -> Any:
    body = payload if isinstance(payload, str) else json.dumps(payload)
    if signature is None:
        signature = stripe.WebhookSignature.generate_signature_header(payload=body, secret=secret, timestamp=timestamp)
    return client.generic("POST", path, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


@pytest.fixture
def send_event(api: APIClient, django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[..., Any]:
    """Post a signed event and run its on-commit side effects (emails, jobs)."""

    def send(payload: dict[str, Any], **kwargs: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return post_event(api, payload, **kwargs)

    return send
