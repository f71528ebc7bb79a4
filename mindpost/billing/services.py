"""Billing writes: checkout, plan changes, the customer portal, and applying Stripe's subscription state.

Never two subscriptions: every checkout-or-change request of a user runs under a row lock on
their BillingCustomer, a user with a billable subscription gets a prorated
Subscription.modify instead of a new checkout, and the previous open Checkout Session is
expired before a new one is opened (so two tabs cannot both be paid).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.billing import selectors, tasks
from mindpost.billing.models import (
    BILLABLE_STATUSES,
    BillingCustomer,
    Plan,
    Subscription,
    SubscriptionStatus,
)
from mindpost.billing.stripe_client import as_dict, billing_enabled, get_client, stripe_unavailable
from mindpost.core.errors import Conflict, Invalid, NotFound

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckoutResult:
    mode: str  # "checkout": send the user to `url`; "plan_changed": the subscription was modified
    url: str | None
    subscription: Subscription | None


def _require_billing() -> None:
    if not billing_enabled():
        raise NotFound(
            "Billing is not enabled on this server: every account has the unlimited plan.",
            code="billing_disabled",
        )


def _locked_customer(*, user: User) -> BillingCustomer:
    """The user's BillingCustomer, locked until the surrounding transaction ends."""
    BillingCustomer.objects.get_or_create(user=user)
    return BillingCustomer.objects.select_for_update().get(user=user)


def _ensure_stripe_customer(*, client: stripe.StripeClient, user: User) -> str:
    """Create the Stripe customer once. Committed on its own, so a later failure cannot lose it."""
    with transaction.atomic():
        customer = _locked_customer(user=user)
        if customer.stripe_customer_id:
            return customer.stripe_customer_id
        try:
            remote = client.v1.customers.create(
                params={"email": user.email, "metadata": {"django_user_id": str(user.pk)}},
                # The same key for the same user: a retried request cannot make a second customer.
                options={"idempotency_key": f"mindpost-customer-{user.pk}"},
            )
        except stripe.StripeError as exc:
            logger.warning("stripe customer create failed", extra={"user_id": str(user.pk), "error": str(exc)})
            raise stripe_unavailable(exc) from exc
        customer.stripe_customer_id = remote.id
        customer.save(update_fields=["stripe_customer_id", "updated_at"])
        return customer.stripe_customer_id


def _trial_eligible(*, user: User, customer: BillingCustomer) -> bool:
    if customer.trial_used or settings.BILLING_TRIAL_DAYS <= 0:
        return False
    if Subscription.objects.filter(user=user).exists():
        return False
    return user.date_joined >= timezone.now() - timedelta(days=settings.BILLING_TRIAL_MAX_ACCOUNT_AGE_DAYS)


def _purchasable_plan(code: str) -> Plan:
    plan = Plan.objects.filter(code=code, is_active=True).first()
    if plan is None or not plan.price_id:
        raise Invalid("Unknown plan.", code="invalid", fields={"plan": ["Choose one of the offered plans."]})
    return plan


def checkout_start(*, user: User, plan_code: str) -> CheckoutResult:
    """Subscribe to `plan_code`: a Checkout Session for a new subscriber, a prorated change otherwise."""
    _require_billing()
    plan = _purchasable_plan(plan_code)
    client = get_client()
    stripe_customer_id = _ensure_stripe_customer(client=client, user=user)
    with transaction.atomic():
        customer = _locked_customer(user=user)
        _settle_open_session(client=client, customer=customer)
        current = selectors.billable_subscription(user=user)
        if current is not None:
            # Our copy may lag behind Stripe (a cancellation whose webhook is on its way): refresh it.
            remote = _retrieve_subscription(client, current.stripe_subscription_id)
            current, _ = subscription_apply(data=remote, at=None, user=user)
            if current is not None and current.status in BILLABLE_STATUSES:
                changed = _change_plan(client, current, remote, plan)
                return CheckoutResult(mode="plan_changed", url=None, subscription=changed)

        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": stripe_customer_id,
            "client_reference_id": str(user.pk),
            "line_items": [{"price": plan.price_id, "quantity": 1}],
            "success_url": settings.BILLING_SUCCESS_URL,
            "cancel_url": settings.BILLING_CANCEL_URL,
            "metadata": {"django_user_id": str(user.pk), "plan": plan.code},
            "subscription_data": {"metadata": {"django_user_id": str(user.pk), "plan": plan.code}},
        }
        if _trial_eligible(user=user, customer=customer):
            params["subscription_data"]["trial_period_days"] = settings.BILLING_TRIAL_DAYS
        customer.checkout_attempts += 1
        try:
            session = client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"mindpost-checkout-{user.pk}-{customer.checkout_attempts}"},
            )
        except stripe.StripeError as exc:
            logger.warning("stripe checkout failed", extra={"user_id": str(user.pk), "error": str(exc)})
            raise stripe_unavailable(exc) from exc
        customer.open_checkout_session_id = session.id
        customer.save(update_fields=["open_checkout_session_id", "checkout_attempts", "updated_at"])
    logger.info("checkout session opened", extra={"user_id": str(user.pk), "plan": plan.code})
    return CheckoutResult(mode="checkout", url=session.url, subscription=None)


def _settle_open_session(*, client: stripe.StripeClient, customer: BillingCustomer) -> None:
    """Expire the last session we opened; if it was paid meanwhile, record its subscription now."""
    session_id = customer.open_checkout_session_id
    if not session_id:
        return
    try:
        client.v1.checkout.sessions.expire(session_id)
    except stripe.InvalidRequestError:
        # Not open any more: expired, or completed (its webhook may not have arrived yet).
        try:
            session = as_dict(client.v1.checkout.sessions.retrieve(session_id))
        except stripe.StripeError as exc:
            raise stripe_unavailable(exc) from exc
        subscription_id = _id_of(session.get("subscription"))
        if session.get("status") == "complete" and subscription_id:
            subscription_sync_from_stripe(subscription_id=subscription_id, user=customer.user)
    except stripe.StripeError as exc:
        raise stripe_unavailable(exc) from exc
    customer.open_checkout_session_id = ""
    customer.save(update_fields=["open_checkout_session_id", "updated_at"])


def _retrieve_subscription(client: stripe.StripeClient, subscription_id: str) -> dict[str, Any]:
    try:
        return as_dict(client.v1.subscriptions.retrieve(subscription_id))
    except stripe.StripeError as exc:
        raise stripe_unavailable(exc) from exc


def _change_plan(
    client: stripe.StripeClient, current: Subscription, remote: dict[str, Any], plan: Plan
) -> Subscription:
    if current.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        raise Conflict(
            "Your last payment failed. Update your payment method in the billing portal first.",
            code="payment_past_due",
        )
    if current.plan_id == plan.pk and current.stripe_price_id == plan.price_id:
        raise Conflict(f"You are already on the {plan.name} plan.", code="already_subscribed")
    items = (remote.get("items") or {}).get("data") or []
    if len(items) != 1:
        raise Conflict("This subscription can only be changed in the billing portal.", code="use_portal")
    try:
        updated = client.v1.subscriptions.update(
            current.stripe_subscription_id,
            params={
                "items": [{"id": items[0]["id"], "price": plan.price_id}],
                # Charge (or credit) the difference now: one subscription, never a second bill.
                "proration_behavior": "always_invoice",
                "metadata": {"plan": plan.code},
            },
            # Keyed to the state this request saw: a network retry of it is applied by Stripe once.
            options={
                "idempotency_key": f"mindpost-plan-{current.stripe_subscription_id}-"
                f"{current.stripe_price_id}-to-{plan.price_id}-{int(current.updated_at.timestamp())}"
            },
        )
    except stripe.StripeError as exc:
        logger.warning("stripe plan change failed", extra={"subscription": current.stripe_subscription_id})
        raise stripe_unavailable(exc) from exc
    logger.info("plan changed", extra={"subscription": current.stripe_subscription_id, "plan": plan.code})
    row, _ = subscription_apply(data=as_dict(updated), at=None, user=current.user)
    assert row is not None
    return row


def portal_start(*, user: User) -> str:
    """A Customer Portal session: plan changes, payment methods, invoices, cancellation."""
    _require_billing()
    customer = BillingCustomer.objects.filter(user=user).exclude(stripe_customer_id=None).first()
    if customer is None or not customer.stripe_customer_id:
        raise Conflict("You have no billing account yet: choose a plan first.", code="no_billing_account")
    try:
        session = get_client().v1.billing_portal.sessions.create(
            params={"customer": customer.stripe_customer_id, "return_url": settings.BILLING_PORTAL_RETURN_URL},
            options={"idempotency_key": f"mindpost-portal-{user.pk}-{uuid.uuid4()}"},
        )
    except stripe.StripeError as exc:
        raise stripe_unavailable(exc) from exc
    return str(session.url)


# --- Applying Stripe's state ------------------------------------------------------------


def _id_of(value: Any) -> str:
    """Stripe fields are an id, or the expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def user_for_stripe_object(data: dict[str, Any]) -> User | None:
    """The user a Stripe object belongs to: our metadata first, then the customer id."""
    candidates = [(data.get("metadata") or {}).get("django_user_id"), data.get("client_reference_id")]
    for candidate in candidates:
        try:
            user_id = uuid.UUID(str(candidate))
        except ValueError:
            continue
        user = User.objects.filter(pk=user_id).first()
        if user is not None:
            return user
    customer_id = _id_of(data.get("customer"))
    if customer_id:
        customer = BillingCustomer.objects.filter(stripe_customer_id=customer_id).select_related("user").first()
        if customer is not None:
            return customer.user
    return None


def subscription_apply(
    *, data: dict[str, Any], at: datetime | None, user: User | None = None
) -> tuple[Subscription | None, str]:
    """Record a Stripe subscription object. `at` is the event time (None: a fresh API answer).

    Older events than the newest applied one are ignored, and `canceled` is final, so events
    arriving out of order end in the right state. Returns (row, outcome).
    """
    subscription_id = str(data["id"])
    row = Subscription.objects.select_for_update().filter(stripe_subscription_id=subscription_id).first()
    if row is None:
        user = user or user_for_stripe_object(data)
        if user is None:
            logger.warning("subscription of an unknown user", extra={"subscription": subscription_id})
            return None, "user_unknown"
        _locked_customer(user=user)  # serialises with checkout and other events of this user
        row = Subscription.objects.select_for_update().filter(stripe_subscription_id=subscription_id).first()
    if row is not None:
        if at is not None and row.last_event_at is not None and at < row.last_event_at:
            return row, "stale"
        if row.status == SubscriptionStatus.CANCELED and data.get("status") != SubscriptionStatus.CANCELED:
            return row, "stale"
    else:
        row = Subscription(user=user, stripe_subscription_id=subscription_id)

    items = (data.get("items") or {}).get("data") or [{}]
    item = items[0]
    price_id = _id_of(item.get("price") or item.get("plan"))
    plan = selectors.plan_for_price(price_id=price_id)
    if plan is None and row.stripe_price_id == price_id:
        plan = row.plan  # a grandfathered price that no plan lists any more
    if plan is None:
        logger.error("subscription price matches no plan", extra={"subscription": subscription_id, "price": price_id})

    row.status = str(data.get("status") or SubscriptionStatus.INCOMPLETE)
    row.stripe_customer_id = _id_of(data.get("customer"))
    row.stripe_price_id = price_id
    row.plan = plan
    # API versions before 2025-03 carry the period on the subscription, later ones on the item.
    row.current_period_start = _timestamp(data.get("current_period_start") or item.get("current_period_start"))
    row.current_period_end = _timestamp(data.get("current_period_end") or item.get("current_period_end"))
    row.trial_end = _timestamp(data.get("trial_end"))
    row.cancel_at_period_end = bool(data.get("cancel_at_period_end"))
    row.canceled_at = _timestamp(data.get("canceled_at"))
    if at is not None and (row.last_event_at is None or at > row.last_event_at):
        row.last_event_at = at
    is_new = row.pk is None
    duplicate = (
        is_new
        and row.status in BILLABLE_STATUSES
        and Subscription.objects.filter(user=row.user, status__in=BILLABLE_STATUSES).exists()
    )
    row.save()
    if duplicate:
        # Should never happen (checkout is guarded), but if Stripe ever holds two live
        # subscriptions for one user, the newer one is cancelled with a prorated credit.
        logger.error("second live subscription; cancelling it", extra={"subscription": subscription_id})
        tasks.defer_cancel_subscriptions(subscription_ids=[subscription_id], customer_id="", prorate=True)
        return row, "duplicate_canceled"
    return row, "applied"


def subscription_sync_from_stripe(
    *, subscription_id: str, user: User | None = None, at: datetime | None = None
) -> Subscription | None:
    """Fetch the subscription from Stripe and record it (the truth, whatever the event order)."""
    try:
        remote = get_client().v1.subscriptions.retrieve(subscription_id)
    except stripe.StripeError as exc:
        raise stripe_unavailable(exc) from exc
    row, _ = subscription_apply(data=as_dict(remote), at=at, user=user)
    return row


def mark_trial_used(*, user: User, stripe_customer_id: str) -> None:
    customer = _locked_customer(user=user)
    customer.trial_used = True
    if stripe_customer_id and not customer.stripe_customer_id:
        customer.stripe_customer_id = stripe_customer_id
    customer.open_checkout_session_id = ""
    customer.save()


# --- Account deletion ------------------------------------------------------------------


def billing_forget_user(*, user: User) -> None:
    """Called before a user is deleted: stop Stripe billing them once the deletion commits.

    Cancelling runs as a retried job, so a Stripe outage cannot leave a deleted account paying.
    """
    if not billing_enabled():
        return
    subscription_ids = list(
        Subscription.objects.filter(user=user, status__in=BILLABLE_STATUSES).values_list(
            "stripe_subscription_id", flat=True
        )
    )
    customer_id = BillingCustomer.objects.filter(user=user).values_list("stripe_customer_id", flat=True).first() or ""
    if not (subscription_ids or customer_id):
        return
    tasks.defer_cancel_subscriptions(subscription_ids=subscription_ids, customer_id=customer_id, prorate=False)
    logger.info(
        "billing cancellation scheduled", extra={"user_id": str(user.pk), "subscriptions": len(subscription_ids)}
    )


def subscriptions_cancel_remote(*, subscription_ids: list[str], customer_id: str, prorate: bool) -> None:
    """Cancel subscriptions at Stripe now; then delete the customer (which ends anything we missed).

    Idempotent: an already cancelled subscription or deleted customer counts as done.
    """
    client = get_client()
    for subscription_id in subscription_ids:
        try:
            client.v1.subscriptions.cancel(subscription_id, params={"prorate": prorate})
        except stripe.InvalidRequestError as exc:
            logger.info("subscription already gone", extra={"subscription": subscription_id, "error": str(exc)})
    if customer_id:
        try:
            client.v1.customers.delete(customer_id)
        except stripe.InvalidRequestError as exc:
            logger.info("customer already gone", extra={"customer": customer_id, "error": str(exc)})
