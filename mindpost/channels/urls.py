"""`urlpatterns`: the API, mounted at /api/. `webhook_urlpatterns`: the platforms' webhooks at /."""

from django.urls import URLPattern, path

from mindpost.channels import api, webhooks

urlpatterns: list[URLPattern] = [
    path("channels/", api.ChannelListView.as_view(), name="channels-list"),
    path("channels/<uuid:pk>/", api.LinkDetailView.as_view(), name="channels-link"),
    path("channels/<slug:channel>/link-code/", api.LinkCodeView.as_view(), name="channels-link-code"),
]

webhook_urlpatterns: list[URLPattern] = [
    path("whatsapp/webhook/", webhooks.WhatsAppWebhookView.as_view(), name="whatsapp-webhook"),
    path("telegram/webhook/", webhooks.TelegramWebhookView.as_view(), name="telegram-webhook"),
]
