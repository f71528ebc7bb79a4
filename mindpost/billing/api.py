"""Billing endpoints of the JSON API. Thin: parse, call a service or selector, render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.billing import selectors, services, webhooks


class BillingLimitsSerializer(serializers.Serializer):
    recordings = serializers.IntegerField(allow_null=True)
    generations = serializers.IntegerField(allow_null=True)
    chat_messages = serializers.IntegerField(allow_null=True)
    publishes = serializers.IntegerField(allow_null=True)


class BillingPlanSummarySerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    price_cents = serializers.IntegerField()


class BillingSubscriptionSummarySerializer(serializers.Serializer):
    status = serializers.CharField()
    current_period_end = serializers.DateTimeField(allow_null=True)
    trial_end = serializers.DateTimeField(allow_null=True)
    cancel_at_period_end = serializers.BooleanField()


class UsageView(APIView):
    class UsageOutputSerializer(serializers.Serializer):
        billing_enabled = serializers.BooleanField()
        plan = BillingPlanSummarySerializer(allow_null=True)
        subscription = BillingSubscriptionSummarySerializer(allow_null=True)
        active = serializers.BooleanField(help_text="Whether metered actions are allowed.")
        limits = BillingLimitsSerializer(help_text="Per period; null means no limit.")
        used = BillingLimitsSerializer()
        max_recording_seconds = serializers.IntegerField(allow_null=True)
        max_post_chars = serializers.IntegerField(allow_null=True)
        period_start = serializers.DateTimeField()
        resets_at = serializers.DateTimeField()
        upgrade_url = serializers.CharField()

    @extend_schema(responses={200: UsageOutputSerializer}, summary="Your plan, its limits, usage and reset time")
    def get(self, request: Request) -> Response:
        summary = selectors.usage_summary(user=current_user(request))
        return Response(self.UsageOutputSerializer(summary).data)


class PlansView(APIView):
    class PlanOutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        price_cents = serializers.IntegerField()
        currency = serializers.CharField()
        recordings_per_period = serializers.IntegerField(allow_null=True)
        max_recording_minutes = serializers.IntegerField(allow_null=True)
        generations_per_period = serializers.IntegerField(allow_null=True)
        chat_messages_per_period = serializers.IntegerField(allow_null=True)
        publishes_per_period = serializers.IntegerField(allow_null=True)
        max_post_chars = serializers.IntegerField(allow_null=True)

    @extend_schema(responses={200: PlanOutputSerializer(many=True)}, summary="Plans offered for checkout")
    def get(self, request: Request) -> Response:
        return Response(self.PlanOutputSerializer(selectors.plans_purchasable(), many=True).data)


class CheckoutView(APIView):
    throttle_scope = "billing"

    class CheckoutInputSerializer(serializers.Serializer):
        plan = serializers.SlugField(max_length=32)

    class CheckoutOutputSerializer(serializers.Serializer):
        # A plain string (not an enum) so its schema name cannot collide with other apps' "mode".
        mode = serializers.CharField(help_text="`checkout` (go to `url`) or `plan_changed` (done, prorated).")
        url = serializers.CharField(allow_null=True, help_text="Stripe Checkout page (mode=checkout).")
        plan = serializers.CharField(allow_null=True)
        status = serializers.CharField(allow_null=True)

    @extend_schema(
        request=CheckoutInputSerializer,
        responses={200: CheckoutOutputSerializer},
        summary="Subscribe, or change plan with proration when already subscribed",
    )
    def post(self, request: Request) -> Response:
        data = self.CheckoutInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = services.checkout_start(user=current_user(request), plan_code=data.validated_data["plan"])
        subscription = result.subscription
        body = {
            "mode": result.mode,
            "url": result.url,
            "plan": subscription.plan.code if subscription and subscription.plan else None,
            "status": subscription.status if subscription else None,
        }
        return Response(self.CheckoutOutputSerializer(body).data)


class PortalView(APIView):
    throttle_scope = "billing"

    @extend_schema(
        request=None,
        responses={200: inline_serializer("BillingPortalOutput", {"url": serializers.CharField()})},
        summary="Stripe Customer Portal: change plan, payment method, invoices, cancel",
    )
    def post(self, request: Request) -> Response:
        return Response({"url": services.portal_start(user=current_user(request))})


class WebhookView(APIView):
    """Stripe calls this. No user auth: the Stripe-Signature header over the raw body is the auth."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []
    parser_classes: list[type] = []  # the raw body is read as bytes, never parsed by DRF

    @extend_schema(
        request=None,
        responses={
            200: inline_serializer("BillingWebhookOutput", {"status": serializers.CharField()}),
            400: OpenApiResponse(description="invalid_signature or invalid_payload"),
        },
        summary="Stripe webhook (signed)",
    )
    def post(self, request: Request) -> Response:
        outcome = webhooks.webhook_receive(payload=request.body, signature=request.headers.get("Stripe-Signature"))
        return Response({"status": outcome}, status=status.HTTP_200_OK)
