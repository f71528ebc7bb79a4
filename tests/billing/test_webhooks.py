from __future__ import annotations

import json
import time

import pytest
import stripe
from django.core import mail

from mindpost.billing.models import BillingCustomer, StripeEvent, Subscription
from tests.billing.conftest import WEBHOOK_SECRET, event, make_subscription, post_event

pytestmark = pytest.mark.django_db


def stripe_subscription(fake, user, *, price="price_basic", status="active", customer=None) -> dict:
    customer = customer or fake.add_customer(email=user.email)["id"]
    BillingCustomer.objects.update_or_create(user=user, defaults={"stripe_customer_id": customer})
    return fake.add_subscription(
        customer=customer, price=price, status=status, metadata={"django_user_id": str(user.pk)}
    )


# --- signature ------------------------------------------------------------------------


def test_signed_event_verifies_with_the_sdk() -> None:
    payload = json.dumps(event("customer.subscription.updated", {"id": "sub_1"}))
    header = stripe.WebhookSignature.generate_signature_header(payload=payload, secret=WEBHOOK_SECRET)
    assert stripe.Webhook.construct_event(payload, header, WEBHOOK_SECRET).type == "customer.subscription.updated"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"secret": "whsec_forged"},
        {"timestamp": int(time.time()) - 3600},  # stale: older than the 5-minute tolerance
        {"signature": "t=1,v1=deadbeef"},
        {"signature": ""},
    ],
    ids=["forged", "stale", "garbage", "missing"],
)
def test_bad_signature_is_400_and_changes_nothing(api, user, billing_on, plans, kwargs) -> None:
    data = stripe_subscription(billing_on, user)
    response = post_event(api, event("customer.subscription.created", data), **kwargs)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_signature"
    assert not Subscription.objects.exists()
    assert not StripeEvent.objects.exists()


def test_tampered_body_is_400(api, user, billing_on) -> None:
    data = stripe_subscription(billing_on, user)
    body = json.dumps(event("customer.subscription.created", data))
    header = stripe.WebhookSignature.generate_signature_header(payload=body, secret=WEBHOOK_SECRET)
    tampered = body.replace('"active"', '"trialing"')
    response = post_event(api, tampered, signature=header)
    assert response.status_code == 400
    assert not Subscription.objects.exists()


def test_signed_garbage_is_400_invalid_payload(api, billing_on) -> None:
    response = post_event(api, "not json at all")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payload"
    response = post_event(api, json.dumps({"id": "evt_1", "object": "event"}))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payload"


def test_webhook_without_a_configured_secret_is_refused(api, settings) -> None:
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = post_event(api, event("invoice.paid", {"id": "in_1"}))
    assert response.status_code == 404
    assert response.json()["code"] == "webhook_not_configured"


def test_get_is_not_allowed(api, billing_on) -> None:
    assert api.get("/api/billing/webhook/").status_code == 405


# --- applying events ------------------------------------------------------------------


def test_subscription_created_then_replayed_is_applied_once(api, user, billing_on, plans, send_event) -> None:
    data = stripe_subscription(billing_on, user)
    payload = event("customer.subscription.created", data)
    first = send_event(payload)
    assert first.status_code == 200
    assert first.json() == {"status": "applied"}
    row = Subscription.objects.get()
    assert (row.user, row.plan, row.status) == (user, plans["basic"], "active")
    assert row.current_period_end is not None

    # Someone changes the row after the event; a replay of the same event must not reapply it.
    Subscription.objects.update(status="canceled")
    again = send_event(payload)
    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert Subscription.objects.get().status == "canceled"
    assert StripeEvent.objects.count() == 1


def test_replayed_payment_failure_sends_one_email(api, user, billing_on, plans, send_event) -> None:
    data = stripe_subscription(billing_on, user)
    send_event(event("customer.subscription.created", data, created=int(time.time()) - 10))
    invoice = {
        "id": "in_1",
        "object": "invoice",
        "amount_due": 1500,
        "currency": "usd",
        "hosted_invoice_url": "https://invoice.stripe.test/i/1",
        "parent": {"subscription_details": {"subscription": data["id"]}},
    }
    payload = event("invoice.payment_failed", invoice)
    assert send_event(payload).json() == {"status": "applied"}
    assert send_event(payload).json() == {"status": "duplicate"}
    assert Subscription.objects.get().status == "past_due"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "15.00 USD" in mail.outbox[0].body
    assert "https://invoice.stripe.test/i/1" in mail.outbox[0].body


def test_invoice_paid_refetches_and_clears_past_due(api, user, billing_on, plans, send_event) -> None:
    data = stripe_subscription(billing_on, user)
    send_event(event("customer.subscription.created", data, created=int(time.time()) - 10))
    Subscription.objects.update(status="past_due")
    billing_on.subscriptions[data["id"]]["status"] = "active"
    response = send_event(event("invoice.paid", {"id": "in_2", "object": "invoice", "subscription": data["id"]}))
    assert response.json() == {"status": "applied"}
    assert Subscription.objects.get().status == "active"
    assert billing_on.calls("GET", f"/v1/subscriptions/{data['id']}")


def test_invoice_paid_while_stripe_is_down_is_retried_later(api, user, billing_on, plans, send_event) -> None:
    data = stripe_subscription(billing_on, user)
    send_event(event("customer.subscription.created", data, created=int(time.time()) - 10))
    Subscription.objects.update(status="past_due")
    billing_on.failures["/v1/subscriptions/"] = 500
    payload = event("invoice.paid", {"id": "in_3", "object": "invoice", "subscription": data["id"]})
    response = send_event(payload)
    assert response.status_code == 503
    assert not StripeEvent.objects.filter(id=payload["id"]).exists()  # rolled back: Stripe's retry applies it
    assert send_event(payload).json() == {"status": "applied"}
    assert Subscription.objects.get().status == "active"


def test_out_of_order_deleted_then_updated_stays_canceled(api, user, billing_on, plans, send_event) -> None:
    data = stripe_subscription(billing_on, user)
    now = int(time.time())
    send_event(event("customer.subscription.created", data, created=now - 100))
    updated = {**data, "status": "active", "cancel_at_period_end": True}
    deleted = {**data, "status": "canceled", "canceled_at": now}
    assert send_event(event("customer.subscription.deleted", deleted, created=now)).json()["status"] == "applied"
    # The older update arrives last: ignored.
    assert send_event(event("customer.subscription.updated", updated, created=now - 50)).json()["status"] == "stale"
    row = Subscription.objects.get()
    assert row.status == "canceled"
    assert row.canceled_at is not None
    # Even one stamped in the same second cannot bring a canceled subscription back.
    assert send_event(event("customer.subscription.updated", updated, created=now)).json()["status"] == "stale"
    assert Subscription.objects.get().status == "canceled"


def test_out_of_order_updates_keep_the_newest(api, user, billing_on, plans, send_event) -> None:
    data = stripe_subscription(billing_on, user)
    now = int(time.time())
    to_pro = {**data, "items": {"object": "list", "data": [{**data["items"]["data"][0], "price": {"id": "price_pro"}}]}}
    send_event(event("customer.subscription.updated", to_pro, created=now))
    send_event(event("customer.subscription.updated", data, created=now - 30))  # older: still basic
    assert Subscription.objects.get().plan == plans["pro"]


def test_created_after_updated_does_not_roll_back(api, user, billing_on, plans, send_event) -> None:
    data = stripe_subscription(billing_on, user, status="trialing")
    now = int(time.time())
    send_event(event("customer.subscription.updated", {**data, "status": "active"}, created=now))
    send_event(event("customer.subscription.created", data, created=now - 5))
    assert Subscription.objects.get().status == "active"


def test_checkout_completed_links_the_customer_and_fetches_the_subscription(
    api, user, billing_on, plans, send_event
) -> None:
    customer = billing_on.add_customer(email=user.email)
    subscription = billing_on.add_subscription(customer=customer["id"], price="price_pro", status="trialing")
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "mode": "subscription",
        "client_reference_id": str(user.pk),
        "metadata": {"django_user_id": str(user.pk)},
        "customer": customer["id"],
        "subscription": subscription["id"],
    }
    assert send_event(event("checkout.session.completed", session)).json() == {"status": "applied"}
    row = Subscription.objects.get()
    assert (row.user, row.plan, row.status) == (user, plans["pro"], "trialing")
    billing = BillingCustomer.objects.get(user=user)
    assert billing.stripe_customer_id == customer["id"]
    assert billing.trial_used


def test_event_for_unknown_user_is_acknowledged(api, billing_on, plans, send_event) -> None:
    data = billing_on.add_subscription(customer="cus_nobody", price="price_basic")
    response = send_event(event("customer.subscription.updated", data))
    assert response.status_code == 200
    assert response.json() == {"status": "user_unknown"}
    assert not Subscription.objects.exists()


def test_unhandled_event_type_is_acknowledged(api, billing_on, send_event) -> None:
    response = send_event(event("charge.refunded", {"id": "ch_1"}))
    assert response.json() == {"status": "ignored"}
    assert StripeEvent.objects.get().outcome == "ignored"


def test_trial_will_end_sends_an_email(api, user, billing_on, plans, send_event) -> None:
    data = stripe_subscription(billing_on, user, status="trialing")
    data["trial_end"] = int(time.time()) + 3 * 86400
    send_event(event("customer.subscription.trial_will_end", data))
    assert len(mail.outbox) == 1
    assert "trial ends" in mail.outbox[0].subject
    assert Subscription.objects.get().trial_end is not None


def test_reference_webhook_path(api, user, billing_on, plans, send_event) -> None:
    data = stripe_subscription(billing_on, user)
    response = send_event(event("customer.subscription.created", data), path="/subscriptions/webhook/")
    assert response.status_code == 200
    assert Subscription.objects.filter(user=user).count() == 1
    forged = post_event(api, event("customer.subscription.created", data), path="/subscriptions/webhook/", secret="x")
    assert forged.status_code == 400


def test_second_live_subscription_is_cancelled(api, user, billing_on, plans, send_event, monkeypatch) -> None:
    first = stripe_subscription(billing_on, user)
    send_event(event("customer.subscription.created", first))
    second = billing_on.add_subscription(
        customer=first["customer"], price="price_pro", metadata={"django_user_id": str(user.pk)}
    )
    from mindpost.billing import tasks

    deferred: list[dict] = []
    monkeypatch.setattr(tasks.cancel_subscriptions, "defer", lambda **kw: deferred.append(kw))
    response = send_event(event("customer.subscription.created", second))
    assert response.json() == {"status": "duplicate_canceled"}
    assert deferred == [{"subscription_ids": [second["id"]], "customer_id": "", "prorate": True}]
    tasks.cancel_subscriptions(**deferred[0])
    assert billing_on.subscriptions[second["id"]]["status"] == "canceled"
    assert billing_on.subscriptions[first["id"]]["status"] == "active"
    # The first subscription still decides the plan once Stripe reports the cancellation.
    send_event(event("customer.subscription.deleted", billing_on.subscriptions[second["id"]]))
    live = Subscription.objects.filter(user=user, status="active")
    assert [row.stripe_subscription_id for row in live] == [first["id"]]


def test_existing_local_subscription_of_other_user_is_not_touched(
    api, make_user, billing_on, plans, send_event
) -> None:
    alice, bob = make_user(), make_user()
    bobs = make_subscription(bob, plans["basic"])
    data = stripe_subscription(billing_on, alice, price="price_pro")
    send_event(event("customer.subscription.created", data))
    bobs.refresh_from_db()
    assert bobs.plan == plans["basic"]
    assert Subscription.objects.get(user=alice).plan == plans["pro"]
