from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from mindpost.billing import emails, metering
from mindpost.billing.metering import Metric
from mindpost.billing.models import StripeEvent
from tests.billing.conftest import make_subscription

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user) -> Client:
    client = Client()
    client.force_login(make_user("admin@example.com", is_staff=True, is_superuser=True))
    return client


def test_every_billing_model_has_a_working_admin(admin_client, user, billing_on, plans) -> None:
    subscription = make_subscription(user, plans["basic"])
    metering.reserve(user=user, metric=Metric.CHAT)
    for model in ("plan", "subscription", "billingcustomer", "usagecounter", "stripeevent"):
        response = admin_client.get(f"/admin/billing/{model}/?q=ada")
        assert response.status_code == 200, model
    page = admin_client.get(f"/admin/billing/subscription/{subscription.pk}/change/")
    assert page.status_code == 200
    assert subscription.stripe_subscription_id in page.content.decode()
    # Stripe-owned rows cannot be added by hand.
    assert admin_client.get("/admin/billing/subscription/add/").status_code == 403
    assert admin_client.get("/admin/billing/stripeevent/add/").status_code == 403


def test_plan_limits_are_editable_in_the_admin(admin_client, plans) -> None:
    plan = plans["basic"]
    page = admin_client.get(f"/admin/billing/plan/{plan.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Limits per billing period" in body
    assert 'name="chat_messages_per_period"' in body
    assert 'name="stripe_price_id"' in body


def test_billing_email_failure_does_not_raise(user, settings, monkeypatch) -> None:
    def broken(**kwargs):
        raise ConnectionError("mail server down")

    monkeypatch.setattr(emails, "send_mail", broken)
    emails.send_trial_ending(user=user, trial_end=None)
    assert not mail.outbox
    assert not StripeEvent.objects.exists()
