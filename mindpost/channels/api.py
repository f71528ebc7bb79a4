"""Messaging channels API for the apps: GET /api/channels/, POST /api/channels/{channel}/link-code/,
DELETE /api/channels/{id}/. Thin: parse, call services/selectors, render."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.channels import base, selectors, services


class LinkOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    address = serializers.CharField(help_text="The phone number or chat id, last four characters only.")
    created_at = serializers.DateTimeField()


class ChannelOutput(serializers.Serializer[Any]):
    channel = serializers.ChoiceField(choices=["whatsapp", "telegram"])
    display_name = serializers.CharField()
    configured = serializers.BooleanField(help_text="False: this server has no credentials for the channel.")
    link = LinkOutput(allow_null=True, help_text="The linked address, or null.")


class ChannelListOutput(serializers.Serializer[Any]):
    results = ChannelOutput(many=True)


class LinkCodeOutput(serializers.Serializer[Any]):
    channel = serializers.CharField()
    code = serializers.CharField(help_text="Send `MP-<code>` from the chat app (Telegram: open connect_url).")
    expires_at = serializers.DateTimeField()
    connect_url = serializers.CharField(
        allow_null=True, help_text="Opens the chat with the code ready to send (t.me deep link, wa.me link), or null."
    )


def _row(row: selectors.ChannelRow) -> dict[str, Any]:
    link = None
    if row.link is not None:
        link = {"id": row.link.pk, "address": row.masked_address, "created_at": row.link.created_at}
    return {"channel": row.slug, "display_name": row.display_name, "configured": row.configured, "link": link}


class ChannelListView(APIView):
    """The messaging apps you can send voice notes and questions from, and which are linked."""

    @extend_schema(responses={200: ChannelListOutput}, summary="List messaging channels", operation_id="channels_list")
    def get(self, request: Request) -> Response:
        rows = selectors.channel_rows(user=current_user(request))
        return Response(ChannelListOutput({"results": [_row(row) for row in rows]}).data)


class LinkCodeView(APIView):
    """A new one-time code (15 minutes) that links the chat it is sent from to your account."""

    @extend_schema(
        request=None,
        responses={
            201: LinkCodeOutput,
            404: OpenApiResponse(description="unknown_channel"),
            503: OpenApiResponse(description="channel_not_configured"),
        },
        summary="Create a link code",
    )
    def post(self, request: Request, channel: str) -> Response:
        chosen = base.get(channel)
        issued = services.link_code_create(user=current_user(request), channel=chosen)
        body = {
            "channel": chosen.slug,
            "code": issued.code,
            "expires_at": issued.expires_at,
            "connect_url": issued.connect_url,
        }
        return Response(LinkCodeOutput(body).data, status=status.HTTP_201_CREATED)


class LinkDetailView(APIView):
    @extend_schema(responses={204: None, 404: OpenApiResponse(description="not_found")}, summary="Unlink a channel")
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        services.link_delete(user=current_user(request), link_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
