"""The reference's Stripe webhook path, /subscriptions/webhook/ (an API endpoint, not a page).

config/urls.py mounts it in the "billing" namespace together with the web app's plan pages
under /subscriptions/ (mindpost.web.urls.subscription_urlpatterns).
"""

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema, extend_schema_view

from mindpost.billing import api


# Stripe endpoints configured for the reference keep working at its webhook path.
@extend_schema_view(post=extend_schema(exclude=True))
class ReferenceWebhookView(api.WebhookView):
    pass


urlpatterns: list[URLPattern] = [
    path("webhook/", ReferenceWebhookView.as_view(), name="webhook-reference"),
]
