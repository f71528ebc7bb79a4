"""Billing jobs (thin: they call services), and the functions that queue them after commit."""

from __future__ import annotations

from mindpost.billing import services
from mindpost.core.jobs import job, on_commit


# The "stripe" policy retries for about a day and a half: a deleted account must never stay
# billed because Stripe was down.
@job(name="billing.cancel_subscriptions", retry="stripe")
def cancel_subscriptions(*, subscription_ids: list[str], customer_id: str, prorate: bool) -> None:
    services.subscriptions_cancel_remote(subscription_ids=subscription_ids, customer_id=customer_id, prorate=prorate)


def defer_cancel_subscriptions(*, subscription_ids: list[str], customer_id: str, prorate: bool) -> None:
    on_commit(
        lambda: cancel_subscriptions.defer(subscription_ids=subscription_ids, customer_id=customer_id, prorate=prorate)
    )
