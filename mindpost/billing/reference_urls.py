"""The reference's /subscriptions/ paths: its Stripe webhook, and the billing web pages."""

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema, extend_schema_view

from mindpost.billing import api, views

app_name = "billing"


# Stripe endpoints configured for the reference keep working at its webhook path.
@extend_schema_view(post=extend_schema(exclude=True))
class ReferenceWebhookView(api.WebhookView):
    pass


urlpatterns: list[URLPattern] = [
    path("webhook/", ReferenceWebhookView.as_view(), name="webhook-reference"),
    path("upgrade/", views.upgrade, name="upgrade"),
    path("checkout/", views.checkout, name="checkout"),
    path("portal/", views.portal, name="portal"),
    path("payment-success/", views.payment_success, name="payment-success"),
    path("payment-cancel/", views.payment_cancel, name="payment-cancel"),
]
