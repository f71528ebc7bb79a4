from __future__ import annotations

import pytest
from django.test import Client

from mindpost.billing.models import BillingCustomer
from tests.billing.conftest import make_subscription

pytestmark = pytest.mark.django_db


def test_pages_need_login(billing_on) -> None:
    response = Client().get("/subscriptions/upgrade/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_upgrade_page_self_hosted(web, plans) -> None:
    response = web.get("/subscriptions/upgrade/")
    assert response.status_code == 200
    assert "without billing" in response.content.decode()


def test_upgrade_page_lists_plans_and_usage(web, user, billing_on, plans) -> None:
    make_subscription(user, plans["basic"])
    page = web.get("/subscriptions/upgrade/").content.decode()
    assert "<strong>Basic</strong>" in page
    assert "Switch to Pro · $30/month" in page
    assert "Choose Basic" not in page
    assert "Switch to Basic" not in page


def test_checkout_with_htmx_redirects_to_stripe(web, billing_on) -> None:
    response = web.post("/subscriptions/checkout/", {"plan": "pro"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"].startswith("https://checkout.stripe.test/")


def test_checkout_without_javascript_shows_a_link(web, billing_on) -> None:
    response = web.post("/subscriptions/checkout/", {"plan": "basic"})
    assert response.status_code == 200
    assert "https://checkout.stripe.test/" in response.content.decode()


def test_checkout_error_is_shown_as_a_message(web, billing_on) -> None:
    response = web.post("/subscriptions/checkout/", {"plan": "gold"}, follow=True)
    assert "Unknown plan." in response.content.decode()


def test_checkout_needs_csrf(user, billing_on) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post("/subscriptions/checkout/", {"plan": "basic"}).status_code == 403
    assert not billing_on.requests


def test_portal(web, user, billing_on) -> None:
    response = web.post("/subscriptions/portal/", follow=True)
    assert "no billing account" in response.content.decode()
    customer = billing_on.add_customer(email=user.email)
    BillingCustomer.objects.create(user=user, stripe_customer_id=customer["id"])
    response = web.post("/subscriptions/portal/", HTTP_HX_REQUEST="true")
    assert response["HX-Redirect"].startswith("https://billing.stripe.test/")


def test_plan_change_from_the_page(web, user, billing_on, plans) -> None:
    customer = billing_on.add_customer(email=user.email)
    remote = billing_on.add_subscription(customer=customer["id"], price="price_basic")
    BillingCustomer.objects.create(user=user, stripe_customer_id=customer["id"])
    make_subscription(user, plans["basic"], stripe_id=remote["id"])
    response = web.post("/subscriptions/checkout/", {"plan": "pro"}, follow=True)
    assert "changed to Pro" in response.content.decode()
    assert remote["items"]["data"][0]["price"]["id"] == "price_pro"


@pytest.mark.parametrize(
    ("path", "text"), [("payment-success", "Thank you"), ("payment-cancel", "nothing was charged")]
)
def test_return_pages(web, billing_on, path, text) -> None:
    response = web.get(f"/subscriptions/{path}/?session_id=cs_1", follow=True)
    assert text in response.content.decode()


def test_one_plan_panel_on_the_settings_and_upgrade_pages(web, user, billing_on, plans) -> None:
    make_subscription(user, plans["basic"])
    upgrade = web.get("/subscriptions/upgrade/").content.decode()
    settings_page = web.get("/settings/").content.decode()
    for page in (upgrade, settings_page):
        assert page.count('role="meter"') == 4  # the one partial: a meter per metered action
        assert "Switch to Pro · $30/month" in page


def test_plan_panel_context(user, billing_on, plans) -> None:
    from mindpost.billing.selectors import plan_panel_context

    make_subscription(user, plans["basic"])
    context = plan_panel_context(user=user)
    assert [row["label"] for row in context["billing_rows"]] == [
        "Recordings",
        "Post generations",
        "Chat messages",
        "Publishes",
    ]
    assert context["billing"]["plan"]["code"] == "basic"
    assert "pro" in [plan.code for plan in context["billing_plans"]]
    assert context["billing_has_customer"] is False
