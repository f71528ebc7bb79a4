from django.urls import URLPattern, path

from mindpost.billing import api

urlpatterns: list[URLPattern] = [
    path("usage/", api.UsageView.as_view(), name="billing-usage"),
    path("billing/plans/", api.PlansView.as_view(), name="billing-plans"),
    path("billing/checkout/", api.CheckoutView.as_view(), name="billing-checkout"),
    path("billing/portal/", api.PortalView.as_view(), name="billing-portal"),
    path("billing/webhook/", api.WebhookView.as_view(), name="billing-webhook"),
]
