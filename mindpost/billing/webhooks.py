"""Stripe webhook processing: verify, de-duplicate, apply, all in one transaction.

The signature is checked over the raw body. The event id is inserted into StripeEvent (primary
key) in the same transaction as the change it causes: a replay hits the key and changes
nothing, and a failed handler rolls the id back so Stripe's retry is applied.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from mindpost.billing import emails, services
from mindpost.billing.models import StripeEvent, Subscription, SubscriptionStatus
from mindpost.core.errors import AppError, Invalid, NotFound
from mindpost.core.parsers import loads_request_json

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], datetime], str]


def webhook_receive(*, payload: bytes, signature: str | None) -> str:
    """Verify and apply one webhook delivery; returns the outcome (for logs and the response)."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise NotFound("Stripe webhooks are not configured here.", code="webhook_not_configured")
    try:
        # Only the signature here: construct_event would also json.loads the body without limits.
        stripe.WebhookSignature.verify_header(payload, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        raise Invalid("The Stripe signature is missing, wrong or too old.", code="invalid_signature") from exc
    except ValueError as exc:
        raise Invalid("The webhook body is not a Stripe event.", code="invalid_payload") from exc
    try:
        event = loads_request_json(payload)
    except AppError as exc:  # too deep, or not text: keep this endpoint's documented code
        raise Invalid(f"The webhook body is not a Stripe event. {exc.detail}", code="invalid_payload") from exc
    try:
        event_id, event_type = str(event["id"]), str(event["type"])
        created = datetime.fromtimestamp(int(event["created"]), tz=UTC)
        obj = event["data"]["object"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid("The webhook body is not a Stripe event.", code="invalid_payload") from exc

    with transaction.atomic():
        try:
            with transaction.atomic():
                record = StripeEvent.objects.create(id=event_id, type=event_type, created=created)
        except IntegrityError:
            logger.info("stripe event replayed", extra={"event_id": event_id, "type": event_type})
            return "duplicate"
        handler = HANDLERS.get(event_type)
        outcome = handler(obj, created) if handler else "ignored"
        record.outcome = outcome
        record.save(update_fields=["outcome"])
    logger.info("stripe event", extra={"event_id": event_id, "type": event_type, "outcome": outcome})
    return outcome


def _on_checkout_completed(session: dict[str, Any], at: datetime) -> str:
    if session.get("mode") != "subscription":
        return "ignored"
    user = services.user_for_stripe_object(session)
    if user is None:
        return "user_unknown"
    services.mark_trial_used(user=user, stripe_customer_id=services._id_of(session.get("customer")))
    subscription = session.get("subscription")
    if isinstance(subscription, dict):
        services.subscription_apply(data=subscription, at=at, user=user)
    elif subscription:
        # The session names the subscription only by id: fetch its current state.
        services.subscription_sync_from_stripe(subscription_id=str(subscription), user=user, at=at)
    return "applied"


def _on_subscription(subscription: dict[str, Any], at: datetime) -> str:
    _, outcome = services.subscription_apply(data=subscription, at=at)
    return outcome


def _invoice_subscription_id(invoice: dict[str, Any]) -> str:
    # Newer API versions moved the subscription under parent.subscription_details.
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return services._id_of(invoice.get("subscription") or details.get("subscription"))


def _on_invoice_paid(invoice: dict[str, Any], at: datetime) -> str:
    subscription_id = _invoice_subscription_id(invoice)
    if not subscription_id:
        return "ignored"
    # A paid invoice renews the period or clears past_due: take the subscription as Stripe has it now.
    row = services.subscription_sync_from_stripe(subscription_id=subscription_id, at=at)
    return "applied" if row is not None else "user_unknown"


def _on_payment_failed(invoice: dict[str, Any], at: datetime) -> str:
    subscription_id = _invoice_subscription_id(invoice)
    row = (
        Subscription.objects.select_for_update()
        .filter(stripe_subscription_id=subscription_id)
        .select_related("user")
        .first()
        if subscription_id
        else None
    )
    if row is None:
        return "ignored"
    user = row.user
    transaction.on_commit(lambda: emails.send_payment_failed(user=user, invoice=invoice))
    if row.last_event_at is not None and at < row.last_event_at:
        return "stale"
    if row.status in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        row.status = SubscriptionStatus.PAST_DUE
        row.last_event_at = at
        row.save(update_fields=["status", "last_event_at", "updated_at"])
    return "applied"


def _on_trial_will_end(subscription: dict[str, Any], at: datetime) -> str:
    row, outcome = services.subscription_apply(data=subscription, at=at)
    if row is not None:
        user = row.user
        trial_end = row.trial_end
        transaction.on_commit(lambda: emails.send_trial_ending(user=user, trial_end=trial_end))
    return outcome


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _on_checkout_completed,
    "customer.subscription.created": _on_subscription,
    "customer.subscription.updated": _on_subscription,
    "customer.subscription.deleted": _on_subscription,
    "customer.subscription.trial_will_end": _on_trial_will_end,
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_failed": _on_payment_failed,
}
