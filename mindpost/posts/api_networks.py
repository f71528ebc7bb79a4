"""Connect endpoints for the networks that connect with a form rather than a plain OAuth button.

- POST /api/connections/bluesky/connect/    handle + app password (+ service URL) → connected at once
- POST /api/connections/mastodon/connect/   instance URL → the instance's authorize URL (then the
                                            usual callback and, for bearer-started flows, confirmation)
Status, list and disconnect stay at the generic /api/connections/ paths.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.posts import connections, instances, networks
from mindpost.posts import serializers as s
from mindpost.posts.api import _connection_body  # the one shape of a connection on the wire
from mindpost.posts.models import OAuthClient


class BlueskyConnectInput(serializers.Serializer):
    identifier = serializers.CharField(max_length=253, help_text="Handle (alice.bsky.social) or e-mail.")
    app_password = serializers.CharField(max_length=64, help_text="An app password: xxxx-xxxx-xxxx-xxxx.")
    service_url = serializers.CharField(
        max_length=255, required=False, allow_blank=True, help_text="Default https://bsky.social."
    )


class MastodonConnectInput(serializers.Serializer):
    instance_url = serializers.CharField(max_length=255, help_text="For example mastodon.social.")
    client = serializers.ChoiceField(choices=("mobile", "web"), required=False, default="mobile")


class BlueskyConnectView(APIView):
    throttle_scope = "auth"  # a password check: slow down guessing

    @extend_schema(
        request=BlueskyConnectInput,
        responses={200: s.ConnectionOutput, 400: OpenApiResponse(description="{code, detail, fields}")},
        description="Connect Bluesky with a handle and an app password (never the account password).",
    )
    def post(self, request: Request) -> Response:
        data = BlueskyConnectInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        given = (values.get("service_url") or "").strip()
        service = instances.normalise(given, field="service_url") if given else settings.BLUESKY_SERVICE_URL
        user = current_user(request)
        network = networks.get("bluesky")
        connection = connections.password_connect(
            user=user,
            network=network,
            identifier=values["identifier"],
            password=values["app_password"],
            base_url=service,
        )
        body = _connection_body(user=user, network=network, connection=connection)
        return Response(s.ConnectionOutput(body).data, status=status.HTTP_200_OK)


class MastodonConnectView(APIView):
    @extend_schema(
        request=MastodonConnectInput,
        responses={200: s.AuthorizeUrlOutput, 400: OpenApiResponse(description="{code, detail, fields}")},
        description="Start connecting a Mastodon account on any instance; open the returned URL in a browser.",
    )
    def post(self, request: Request) -> Response:
        data = MastodonConnectInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        instance = instances.normalise(values["instance_url"])
        client = OAuthClient.MOBILE if values["client"] == "mobile" else OAuthClient.WEB
        url = connections.authorization_start(
            user=current_user(request), network=networks.get("mastodon"), client=client, base_url=instance
        )
        return Response({"authorize_url": url})
