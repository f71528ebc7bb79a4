from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob
from rest_framework.test import APIClient

from mindpost.billing import metering, tasks
from mindpost.billing.metering import Metric
from mindpost.billing.models import BillingCustomer, Subscription
from tests.billing.conftest import SECRET_KEY, event, make_subscription
from tests.conftest import PASSWORD, bearer

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    bearer(client, email=user.email)
    return client


def live_remote(fake) -> list[dict]:
    return [s for s in fake.subscriptions.values() if s["status"] != "canceled"]


# --- usage ------------------------------------------------------------------------------


def test_usage_needs_auth(api) -> None:
    assert api.get("/api/usage/").status_code == 401


def test_usage_in_self_hosted_mode(user, plans) -> None:
    client = client_for(user)
    metering.reserve(user=user, metric=Metric.CHAT)
    body = client.get("/api/usage/").json()
    assert body["billing_enabled"] is False
    assert body["active"] is True
    assert body["plan"]["code"] == "unlimited"
    assert body["limits"] == {"recordings": None, "generations": None, "chat_messages": None, "publishes": None}
    assert body["used"]["chat_messages"] == 1
    assert body["max_recording_seconds"] is None
    assert body["resets_at"]


def test_usage_with_a_plan_is_per_user(make_user, billing_on, plans) -> None:
    alice, bob = make_user(), make_user()
    subscription = make_subscription(alice, plans["basic"])
    make_subscription(bob, plans["pro"])
    for _ in range(3):
        metering.reserve(user=alice, metric=Metric.RECORDINGS)
    metering.reserve(user=bob, metric=Metric.RECORDINGS)

    body = client_for(alice).get("/api/usage/").json()
    assert body["plan"] == {"code": "basic", "name": "Basic", "price_cents": 1500}
    assert body["limits"] == {"recordings": 600, "generations": 900, "chat_messages": 1500, "publishes": 300}
    assert body["used"] == {"recordings": 3, "generations": 0, "chat_messages": 0, "publishes": 0}
    assert body["max_recording_seconds"] == 300
    assert body["max_post_chars"] == 280
    assert body["subscription"]["status"] == "active"
    assert subscription.current_period_end is not None
    assert body["resets_at"][:16] == subscription.current_period_end.isoformat()[:16]

    bobs = client_for(bob).get("/api/usage/").json()
    assert bobs["plan"]["code"] == "pro"
    assert bobs["used"]["recordings"] == 1


def test_usage_without_subscription(user, billing_on) -> None:
    body = client_for(user).get("/api/usage/").json()
    assert body["active"] is False
    assert body["plan"] is None
    assert body["subscription"] is None


def test_plans_lists_purchasable_plans(user, billing_on) -> None:
    body = client_for(user).get("/api/billing/plans/").json()
    assert [(p["code"], p["price_cents"], p["recordings_per_period"]) for p in body] == [
        ("basic", 1500, 600),
        ("pro", 3000, 1500),
    ]


# --- checkout ---------------------------------------------------------------------------


def test_checkout_creates_customer_and_session_with_trial(user, billing_on) -> None:
    response = client_for(user).post("/api/billing/checkout/", {"plan": "basic"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["mode"] == "checkout"
    assert body["url"].startswith("https://checkout.stripe.test/")

    (customer_call,) = billing_on.calls("POST", "/v1/customers")
    assert customer_call.headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert customer_call.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert customer_call.headers["idempotency-key"] == f"mindpost-customer-{user.pk}"
    assert customer_call.form == {"email": user.email, "metadata": {"django_user_id": str(user.pk)}}

    (session_call,) = billing_on.calls("POST", "/v1/checkout/sessions")
    form = session_call.form
    assert session_call.headers["idempotency-key"] == f"mindpost-checkout-{user.pk}-1"
    assert form["mode"] == "subscription"
    assert form["line_items"] == [{"price": "price_basic", "quantity": "1"}]
    assert form["client_reference_id"] == str(user.pk)
    assert form["customer"] == BillingCustomer.objects.get(user=user).stripe_customer_id
    assert form["subscription_data"]["trial_period_days"] == "14"
    assert form["subscription_data"]["metadata"] == {"django_user_id": str(user.pk), "plan": "basic"}
    assert "{CHECKOUT_SESSION_ID}" in form["success_url"]
    assert not Subscription.objects.exists()  # nothing until Stripe says it is paid


def test_no_trial_for_old_accounts_or_second_time(make_user, billing_on) -> None:
    old = make_user(date_joined=timezone.now() - timedelta(days=120))
    client_for(old).post("/api/billing/checkout/", {"plan": "basic"}, format="json")
    assert "trial_period_days" not in billing_on.calls("POST", "/v1/checkout/sessions")[-1].form["subscription_data"]

    again = make_user()
    BillingCustomer.objects.create(user=again, trial_used=True)
    client_for(again).post("/api/billing/checkout/", {"plan": "pro"}, format="json")
    assert "trial_period_days" not in billing_on.calls("POST", "/v1/checkout/sessions")[-1].form["subscription_data"]


def test_second_checkout_expires_the_first_session(user, billing_on) -> None:
    client = client_for(user)
    first = client.post("/api/billing/checkout/", {"plan": "basic"}, format="json").json()["url"]
    second = client.post("/api/billing/checkout/", {"plan": "pro"}, format="json").json()["url"]
    assert first != second
    statuses = sorted(s["status"] for s in billing_on.sessions.values())
    assert statuses == ["expired", "open"]
    assert len(billing_on.calls("POST", "/v1/customers")) == 1  # one Stripe customer per user


def test_checkout_after_an_unreported_payment_changes_plan_instead(user, billing_on, plans) -> None:
    client = client_for(user)
    client.post("/api/billing/checkout/", {"plan": "basic"}, format="json")
    (session_id,) = billing_on.sessions
    billing_on.complete_checkout(session_id)  # paid, but the webhook has not arrived yet
    response = client.post("/api/billing/checkout/", {"plan": "pro"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["mode"] == "plan_changed"
    assert len(live_remote(billing_on)) == 1
    assert live_remote(billing_on)[0]["items"]["data"][0]["price"]["id"] == "price_pro"


def test_upgrade_leaves_exactly_one_subscription(user, billing_on, plans, send_event) -> None:
    client = client_for(user)
    client.post("/api/billing/checkout/", {"plan": "basic"}, format="json")
    (session_id,) = billing_on.sessions
    remote = billing_on.complete_checkout(session_id, status="active")
    session = {**billing_on._public(billing_on.sessions[session_id])}
    assert send_event(event("checkout.session.completed", session)).status_code == 200
    assert Subscription.objects.get(user=user).plan == plans["basic"]

    response = client.post("/api/billing/checkout/", {"plan": "pro"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"mode": "plan_changed", "url": None, "plan": "pro", "status": "active"}

    (update,) = billing_on.calls("POST", f"/v1/subscriptions/{remote['id']}")
    assert update.form["proration_behavior"] == "always_invoice"
    assert update.form["items"] == [{"id": remote["items"]["data"][0]["id"], "price": "price_pro"}]
    assert update.headers["idempotency-key"].startswith(f"mindpost-plan-{remote['id']}-price_basic-to-price_pro-")
    assert len(billing_on.calls("POST", "/v1/checkout/sessions")) == 1  # no second checkout
    assert len(live_remote(billing_on)) == 1

    # Stripe then reports the change; still one subscription, on Pro.
    send_event(event("customer.subscription.updated", billing_on._public(billing_on.subscriptions[remote["id"]])))
    rows = Subscription.objects.filter(user=user)
    assert rows.count() == 1
    assert rows.get().plan == plans["pro"]

    # Asking again for the same plan changes nothing.
    again = client.post("/api/billing/checkout/", {"plan": "pro"}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "already_subscribed"
    assert len(billing_on.calls("POST", f"/v1/subscriptions/{remote['id']}")) == 1

    # Downgrade: the same single subscription, prorated.
    down = client.post("/api/billing/checkout/", {"plan": "basic"}, format="json")
    assert down.json()["plan"] == "basic"
    assert len(live_remote(billing_on)) == 1
    assert Subscription.objects.filter(user=user).count() == 1


def test_past_due_user_is_sent_to_the_portal(user, billing_on, plans) -> None:
    customer = billing_on.add_customer(email=user.email)
    remote = billing_on.add_subscription(customer=customer["id"], price="price_basic", status="past_due")
    BillingCustomer.objects.create(user=user, stripe_customer_id=customer["id"])
    make_subscription(user, plans["basic"], status="past_due", stripe_id=remote["id"])
    response = client_for(user).post("/api/billing/checkout/", {"plan": "pro"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "payment_past_due"
    assert not billing_on.calls("POST", "/v1/checkout/sessions")
    assert not billing_on.calls("POST", "/v1/subscriptions/")


def test_checkout_after_a_cancellation_not_yet_reported_opens_checkout(user, billing_on, plans) -> None:
    customer = billing_on.add_customer(email=user.email)
    remote = billing_on.add_subscription(customer=customer["id"], price="price_basic", status="canceled")
    BillingCustomer.objects.create(user=user, stripe_customer_id=customer["id"])
    make_subscription(user, plans["basic"], stripe_id=remote["id"])  # we still think it is active
    response = client_for(user).post("/api/billing/checkout/", {"plan": "pro"}, format="json")
    assert response.json()["mode"] == "checkout"
    assert Subscription.objects.get(user=user).status == "canceled"
    assert "trial_period_days" not in billing_on.calls("POST", "/v1/checkout/sessions")[-1].form["subscription_data"]


@pytest.mark.parametrize("plan", ["gold", "unlimited", "", "not a slug!"])
def test_checkout_rejects_unknown_plans(user, billing_on, plan) -> None:
    response = client_for(user).post("/api/billing/checkout/", {"plan": plan}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "plan" in response.json()["fields"]
    assert not billing_on.requests


def test_checkout_when_plan_has_no_price(user, billing_on, settings) -> None:
    settings.STRIPE_PRICES = {"basic": "", "pro": "price_pro"}
    response = client_for(user).post("/api/billing/checkout/", {"plan": "basic"}, format="json")
    assert response.status_code == 400
    # A plan without a Stripe price is not offered: answered like an unknown plan, before any Stripe call.
    assert response.json()["code"] == "invalid"
    assert "plan" in response.json()["fields"]
    assert not billing_on.requests


def test_billing_endpoints_when_billing_is_off(user, plans) -> None:
    client = client_for(user)
    for path in ("/api/billing/checkout/", "/api/billing/portal/"):
        response = client.post(path, {"plan": "basic"}, format="json")
        assert response.status_code == 404
        assert response.json()["code"] == "billing_disabled"


def test_stripe_outage_is_503_and_leaves_nothing_half_written(user, billing_on) -> None:
    billing_on.failures["/v1/checkout/sessions"] = 500
    client = client_for(user)
    response = client.post("/api/billing/checkout/", {"plan": "basic"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "stripe_unavailable"
    customer = BillingCustomer.objects.get(user=user)
    assert customer.open_checkout_session_id == ""
    assert customer.checkout_attempts == 0
    # The retry works, reuses the customer, and uses a fresh idempotency key.
    assert client.post("/api/billing/checkout/", {"plan": "basic"}, format="json").status_code == 200
    assert len(billing_on.calls("POST", "/v1/customers")) == 1


def test_wrong_stripe_key_is_a_clean_error(user, billing_on, settings) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_wrong"
    response = client_for(user).post("/api/billing/checkout/", {"plan": "basic"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "stripe_unavailable"
    assert "sk_test" not in response.content.decode()


def test_checkout_requires_auth(api, billing_on) -> None:
    assert api.post("/api/billing/checkout/", {"plan": "basic"}, format="json").status_code == 401
    assert api.post("/api/billing/portal/").status_code == 401


# --- portal -----------------------------------------------------------------------------


def test_portal_uses_the_callers_own_customer(make_user, billing_on) -> None:
    alice, bob = make_user(), make_user()
    client_for(alice).post("/api/billing/checkout/", {"plan": "basic"}, format="json")
    response = client_for(alice).post("/api/billing/portal/")
    assert response.status_code == 200
    assert response.json()["url"].startswith("https://billing.stripe.test/")
    (call,) = billing_on.calls("POST", "/v1/billing_portal/sessions")
    assert call.form["customer"] == BillingCustomer.objects.get(user=alice).stripe_customer_id
    assert call.form["return_url"].startswith("http")

    # Bob has no Stripe customer: he is not handed Alice's portal.
    response = client_for(bob).post("/api/billing/portal/")
    assert response.status_code == 409
    assert response.json()["code"] == "no_billing_account"
    assert len(billing_on.calls("POST", "/v1/billing_portal/sessions")) == 1


def test_checkout_of_one_user_never_touches_another(make_user, billing_on, plans) -> None:
    alice, bob = make_user(), make_user()
    make_subscription(bob, plans["basic"], stripe_id="sub_bob")
    BillingCustomer.objects.create(user=bob, stripe_customer_id="cus_bob")
    response = client_for(alice).post("/api/billing/checkout/", {"plan": "pro"}, format="json")
    assert response.json()["mode"] == "checkout"  # Bob's subscription is not Alice's
    assert not billing_on.calls("POST", "/v1/subscriptions/")
    assert not billing_on.calls("GET", "/v1/subscriptions/sub_bob")
    session_form = billing_on.calls("POST", "/v1/checkout/sessions")[0].form
    assert session_form["customer"] == BillingCustomer.objects.get(user=alice).stripe_customer_id
    assert session_form["client_reference_id"] == str(alice.pk)


def test_billing_endpoints_are_throttled(user, billing_on, monkeypatch) -> None:
    from rest_framework.throttling import ScopedRateThrottle

    rates = {**ScopedRateThrottle.THROTTLE_RATES, "billing": "2/hour"}
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", rates)
    client = client_for(user)
    codes = [client.post("/api/billing/portal/").status_code for _ in range(3)]
    assert codes == [409, 409, 429]


def test_throttle_scopes_are_configured(settings) -> None:
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    assert {"upload", "chat", "generate", "publish", "billing"} <= set(rates)
    assert "mindpost.core.throttling.ScopedRateThrottle" in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]


# --- export and deletion ----------------------------------------------------------------


def test_export_includes_subscription_and_usage(make_user, billing_on, plans) -> None:
    alice, bob = make_user(), make_user()
    make_subscription(alice, plans["pro"], stripe_id="sub_alice")
    make_subscription(bob, plans["basic"], stripe_id="sub_bob")
    metering.reserve(user=alice, metric=Metric.CHAT)
    response = client_for(alice).get("/api/me/export/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))  # type: ignore[attr-defined]
    billing = json.loads(archive.read("billing.json"))
    assert [s["stripe_subscription_id"] for s in billing["subscriptions"]] == ["sub_alice"]
    assert billing["subscriptions"][0]["plan"] == "pro"
    assert [(u["metric"], u["used"]) for u in billing["usage"]] == [("chat_messages", 1)]


def test_account_deletion_cancels_stripe_billing(user, billing_on, plans, django_capture_on_commit_callbacks) -> None:
    customer = billing_on.add_customer(email=user.email)
    remote = billing_on.add_subscription(customer=customer["id"], price="price_basic")
    BillingCustomer.objects.create(user=user, stripe_customer_id=customer["id"])
    make_subscription(user, plans["basic"], stripe_id=remote["id"])
    make_subscription(user, plans["basic"], status="canceled", stripe_id="sub_old")

    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/account/delete/", {"password": PASSWORD}, format="json")
    assert response.status_code == 200
    assert not Subscription.objects.exists()

    (job,) = ProcrastinateJob.objects.filter(task_name="billing.cancel_subscriptions")
    assert job.args == {"subscription_ids": [remote["id"]], "customer_id": customer["id"], "prorate": False}
    tasks.cancel_subscriptions(**job.args)
    assert billing_on.subscriptions[remote["id"]]["status"] == "canceled"
    assert customer["id"] not in billing_on.customers
    # Retried after a partial failure: already-cancelled things count as done.
    tasks.cancel_subscriptions(**job.args)


def test_account_deletion_when_stripe_is_down_raises_for_a_retry(user, billing_on) -> None:
    billing_on.add_customer()
    billing_on.failures["/v1/subscriptions/"] = 500
    with pytest.raises(Exception, match="Injected failure"):
        tasks.cancel_subscriptions(subscription_ids=["sub_x"], customer_id="", prorate=False)


def test_account_deletion_without_billing_schedules_nothing(user, plans, django_capture_on_commit_callbacks) -> None:
    client = client_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/account/delete/", {"password": PASSWORD}, format="json").status_code == 200
    assert not ProcrastinateJob.objects.filter(task_name="billing.cancel_subscriptions").exists()
