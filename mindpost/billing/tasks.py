"""Billing jobs (thin: they call services)."""

from __future__ import annotations

from procrastinate import RetryStrategy

from mindpost.billing import services
from mindpost.core.jobs import app


# Retried with backoff for about a day and a half: a deleted account must never stay billed because Stripe was down.
@app.task(name="billing.cancel_subscriptions", retry=RetryStrategy(max_attempts=16, exponential_wait=2))
def cancel_subscriptions(*, subscription_ids: list[str], customer_id: str, prorate: bool) -> None:
    services.subscriptions_cancel_remote(subscription_ids=subscription_ids, customer_id=customer_id, prorate=prorate)
