"""The platforms' webhooks, at the paths they are registered with: /whatsapp/webhook/ and
/telegram/webhook/. Not pages, and not part of the client API (left out of the schema; see
docs/operations.md "Connecting WhatsApp and Telegram"). Thin: services.webhook_receive checks the
signature over the raw body before anything is stored."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.channels import services, telegram, whatsapp
from mindpost.core.errors import Forbidden


class _Webhook(APIView):
    # No user: the platform's signature over the raw body is the authentication.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []
    parser_classes: list[type] = []  # the raw body is read as bytes, never parsed by DRF


@extend_schema(exclude=True)
class WhatsAppWebhookView(_Webhook):
    def get(self, request: Request) -> HttpResponse:
        # Meta's verification handshake when the callback URL is registered.
        challenge = whatsapp.CHANNEL.handshake(params=request.query_params)
        if challenge is None:
            raise Forbidden("The verify token is missing or wrong.", code="verification_failed")
        return HttpResponse(challenge, content_type="text/plain")

    def post(self, request: Request) -> Response:
        received = services.webhook_receive(channel=whatsapp.CHANNEL, headers=request.headers, body=request.body)
        return Response({"status": "ok", "received": received})


@extend_schema(exclude=True)
class TelegramWebhookView(_Webhook):
    def post(self, request: Request) -> Response:
        received = services.webhook_receive(channel=telegram.CHANNEL, headers=request.headers, body=request.body)
        return Response({"status": "ok", "received": received})
