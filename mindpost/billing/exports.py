"""The billing part of a user's data export."""

from __future__ import annotations

from typing import Any

from mindpost.accounts.models import User
from mindpost.billing.models import BillingCustomer, Subscription, UsageCounter


def export_billing(user: User) -> dict[str, Any]:
    customer = BillingCustomer.objects.filter(user=user).first()
    return {
        "customer": None
        if customer is None
        else {"stripe_customer_id": customer.stripe_customer_id, "trial_used": customer.trial_used},
        "subscriptions": [
            {
                "stripe_subscription_id": row.stripe_subscription_id,
                "plan": row.plan.code if row.plan else None,
                "status": row.status,
                "current_period_start": row.current_period_start,
                "current_period_end": row.current_period_end,
                "trial_end": row.trial_end,
                "cancel_at_period_end": row.cancel_at_period_end,
                "canceled_at": row.canceled_at,
                "created_at": row.created_at,
            }
            for row in Subscription.objects.filter(user=user).select_related("plan").order_by("created_at")
        ],
        "usage": [
            {"metric": row.metric, "period_start": row.period_start, "period_end": row.period_end, "used": row.used}
            for row in UsageCounter.objects.filter(user=user).order_by("period_start", "metric")
        ],
    }
