"""Posts API (JWT): CRUD at the reference paths, publish, generate, and network connections."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mindpost.accounts.auth import current_user
from mindpost.accounts.models import User
from mindpost.core.errors import AppError, Invalid
from mindpost.core.pagination import PageNumberPagination
from mindpost.core.wire import wire_fields
from mindpost.posts import connections, crosspost, generation, networks, publishing, selectors, services
from mindpost.posts import serializers as s
from mindpost.posts.models import Connection, DraftRequest, OAuthClient, Post, PostStatus
from mindpost.posts.networks.base import Network

X_SLUG = "x"


# Service parameter → wire name, both ways: building PostChanges and naming fields in errors.
WIRE_NAMES = {"fmt": "format", "note_ids": "brain_dump_ids", "uploads": "media_files"}
_FROM_WIRE = {wire: name for name, wire in WIRE_NAMES.items()}
_CHANGE_FIELDS = ("content", "parts", "fmt", "post_type", "note_ids", "status", "scheduled_at", "networks", "reminder")


def _changes(values: dict[str, Any], *, publish: bool) -> services.PostChanges:
    """The validated input as PostChanges; publishing (status posted/published) is not a change."""
    given = {_FROM_WIRE.get(wire, wire): value for wire, value in values.items()}
    given = {name: value for name, value in given.items() if name in _CHANGE_FIELDS}
    if publish:
        given.pop("status", None)
        given.pop("scheduled_at", None)
    return services.PostChanges.of(**given)


def _post_body(request: Request, post: Post, **extra: Any) -> dict[str, Any]:
    return {**s.PostOutput(post, context={"request": request}).data, **extra}


def _uploads(request: Request) -> list[Any]:
    return list(request.FILES.getlist("media_files")) if request.FILES else []


def _image_notes(post: Post) -> list[str]:
    count = len(post.images.all())
    return [f"{count} image(s) attached."] if count else ["No images attached."]


def _crosspost(request: Request, post: Post, *, to_networks: list[str] | None, success_status: int) -> Response:
    """Publish to several networks: all out → success_status; some waiting for a retry → 202;
    nothing out and nothing left to try → the first network's error, with the post."""
    user = current_user(request)
    post, errors = crosspost.publish_now(user=user, post_id=post.pk, values=to_networks)
    rows = list(post.deliveries.all())
    if errors and not any(row.remote_id for row in rows) and post.status == PostStatus.FAILED:
        error = errors[0]
        error.extra = {**error.extra, "post": _post_body(request, post)}
        raise error
    done = [row.network for row in rows if row.status == "published"]
    if post.status == PostStatus.PUBLISHED:
        names = ", ".join(networks.get(slug).display_name for slug in done)
        return Response(_post_body(request, post, detail=f"Published to {names}."), status=success_status)
    detail = "Published to some networks; see deliveries for the others."
    return Response(_post_body(request, post, detail=detail), status=status.HTTP_202_ACCEPTED)


def _publish(request: Request, post: Post, *, success_status: int, to_networks: list[str] | None = None) -> Response:
    """Publish and answer: published → success_status; retry queued → 202; failed → the
    error (with the post, which is kept) so the client can show what happened."""
    user = current_user(request)
    if to_networks or post.deliveries.exists():
        return _crosspost(request, post, to_networks=to_networks or None, success_status=success_status)
    network = networks.get(post.network)
    try:
        post = publishing.publish_now(user=user, post_id=post.pk)
    except AppError as exc:
        exc.extra = {**exc.extra, "post": _post_body(request, selectors.post_get(user=user, post_id=post.pk))}
        raise
    post = selectors.post_get(user=user, post_id=post.pk)
    if post.status == PostStatus.PUBLISHED:
        detail = f"Successfully published to {'Twitter' if network.slug == X_SLUG else network.display_name}."
        return Response(_post_body(request, post, detail=detail), status=success_status)
    detail = f"{network.display_name} is not accepting posts right now; it will be published automatically."
    return Response(_post_body(request, post, detail=detail), status=status.HTTP_202_ACCEPTED)


class PostListView(APIView):
    pagination_class = PageNumberPagination  # documents the GET envelope

    @extend_schema(responses={200: s.PostOutput(many=True)})
    def get(self, request: Request) -> Response:
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(selectors.post_list(user=current_user(request)), request, view=self)
        return paginator.get_paginated_response(s.PostOutput(page, many=True, context={"request": request}).data)

    @extend_schema(
        request=s.PostCreateInput,
        responses={201: s.PostOutput, 202: s.PostOutput, 400: OpenApiResponse(description="{code, detail, fields}")},
        description="Create a draft, schedule it (scheduled_at), or publish it now (status=posted/published).",
    )
    def post(self, request: Request) -> Response:
        data = s.PostCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        wants_publish = values["status"] in s.PUBLISH_STATUSES
        with wire_fields(WIRE_NAMES):
            post = services.post_create(
                user=current_user(request),
                changes=_changes(values, publish=wants_publish),
                uploads=_uploads(request),
            )
        if wants_publish:
            response = _publish(
                request, post, success_status=status.HTTP_201_CREATED, to_networks=values.get("networks")
            )
            response.data["image_processing_notes"] = _image_notes(post)
            return response
        detail = "Post scheduled." if post.status == PostStatus.SCHEDULED else "Post saved as draft."
        if post.status == PostStatus.SCHEDULED and getattr(post, "reminder", None) is not None:
            detail = "Reminder scheduled: at that time you'll get the text and open-in links by email."
        body = _post_body(request, post, detail=detail, image_processing_notes=_image_notes(post))
        return Response(body, status=status.HTTP_201_CREATED)


class PostDetailView(APIView):
    @extend_schema(responses={200: s.PostOutput})
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        return Response(_post_body(request, selectors.post_get(user=current_user(request), post_id=pk)))

    def _update(self, request: Request, pk: uuid.UUID, *, partial: bool) -> Response:
        data = s.PostUpdateInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        wants_publish = values.get("status") in s.PUBLISH_STATUSES
        with wire_fields(WIRE_NAMES):
            post = services.post_update(
                user=current_user(request),
                post_id=pk,
                changes=_changes(values, publish=wants_publish),
                uploads=_uploads(request),
            )
        if wants_publish:
            return _publish(request, post, success_status=status.HTTP_200_OK, to_networks=values.get("networks"))
        return Response(_post_body(request, post))

    @extend_schema(request=s.PostUpdateInput, responses={200: s.PostOutput})
    def put(self, request: Request, pk: uuid.UUID) -> Response:
        return self._update(request, pk, partial=False)

    @extend_schema(request=s.PostUpdateInput, responses={200: s.PostOutput})
    def patch(self, request: Request, pk: uuid.UUID) -> Response:
        return self._update(request, pk, partial=True)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: uuid.UUID) -> Response:
        services.post_delete(user=current_user(request), post_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostPublishView(APIView):
    throttle_scope = "publish"

    @extend_schema(
        request=s.PublishInput,
        responses={200: s.PostOutput, 202: s.PostOutput},
        description="Publish now. With `networks`, cross-post; again on a cross-post, only the networks "
        "not yet published are sent (the retry after a partial failure).",
    )
    def post(self, request: Request, pk: uuid.UUID) -> Response:
        data = s.PublishInput(data=request.data)
        data.is_valid(raise_exception=True)
        post = selectors.post_get(user=current_user(request), post_id=pk)
        return _publish(
            request, post, success_status=status.HTTP_200_OK, to_networks=data.validated_data.get("networks")
        )


class PostImageView(APIView):
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiResponse(description="The image file")})
    def get(self, request: Request, pk: uuid.UUID, image_id: uuid.UUID) -> FileResponse:
        image = selectors.post_image_get(user=current_user(request), post_id=pk, image_id=image_id)
        response = FileResponse(image.image.open("rb"), content_type=image.content_type)
        response["Cache-Control"] = "private, max-age=3600"
        return response

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: uuid.UUID, image_id: uuid.UUID) -> Response:
        services.post_image_delete(user=current_user(request), post_id=pk, image_id=image_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GenerateView(APIView):
    throttle_scope = "generate"

    @extend_schema(request=s.GenerateInput, responses={200: s.GenerateOutput})
    def post(self, request: Request) -> Response:
        data = s.GenerateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with wire_fields({"note_ids": "brain_dump_uuids", "fmt": "format"}):
            result = generation.generate(
                user=current_user(request),
                note_ids=values["brain_dump_uuids"],
                min_chars=values["min_chars"],
                max_chars=values["max_chars"],
                fmt=values["format"],
                network=networks.for_post_type(values["post_type"]),
            )
        body = {
            "posts": [services.variant_body(v) for v in result.variants],
            "char_limit": result.char_limit,
            "format": values["format"],
            "model": result.model,
        }
        return Response(s.GenerateOutput(body).data)


def _draft_network(values: dict[str, Any]) -> Network:
    if "network" not in values:
        return networks.for_post_type(values["post_type"])
    try:
        return networks.for_post_type(values["network"])
    except AppError as exc:
        raise Invalid(
            f"Unknown network {values['network']!r}.",
            code="unknown_network",
            fields={"network": [f"Choose one of: {', '.join(networks.all_networks())}."]},
        ) from exc


def _draft_body(draft: DraftRequest) -> dict[str, Any]:
    return {
        "id": draft.pk,
        "status": draft.status,
        "stage": draft.stage,
        "variants": draft.variants,
        "char_limit": draft.char_limit,
        "format": draft.options.get("format", ""),
        "network": draft.options.get("network", ""),
        "model": draft.model,
        "error": {"code": draft.error_code, "detail": draft.error_detail} if draft.error_code else None,
        "created_at": draft.created_at,
        "finished_at": draft.finished_at,
    }


class DraftRequestListView(APIView):
    throttle_scope = "generate"

    @extend_schema(
        request=s.DraftRequestInput,
        responses={202: s.DraftAcceptedOutput, 400: OpenApiResponse(description="{code, detail, fields}")},
        description="Start writing post variants from notes, as a job; poll the returned id for progress.",
    )
    def post(self, request: Request) -> Response:
        data = s.DraftRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with wire_fields({"note_ids": "brain_dump_uuids", "fmt": "format"}):
            draft = services.draft_request_create(
                user=current_user(request),
                note_ids=values["brain_dump_uuids"],
                min_chars=values["min_chars"],
                max_chars=values["max_chars"],
                fmt=values["format"],
                network=_draft_network(values),
            )
        return Response(
            s.DraftAcceptedOutput({"id": draft.pk, "status": draft.status}).data, status=status.HTTP_202_ACCEPTED
        )


class DraftRequestDetailView(APIView):
    @extend_schema(responses={200: s.DraftRequestOutput})
    def get(self, request: Request, pk: uuid.UUID) -> Response:
        draft = selectors.draft_request_get(user=current_user(request), request_id=pk)
        return Response(s.DraftRequestOutput(_draft_body(draft)).data)


# --- connections -------------------------------------------------------------------------------
def _connection_body(*, user: User, network: Network, connection: Connection | None) -> dict[str, Any]:
    return {
        "network": network.slug,
        "display_name": network.display_name,
        "configured": network.is_configured(),
        "connected": connection is not None and not connection.needs_reauth,
        "username": connection.username if connection else None,
        "name": connection.name if connection else None,
        "connected_at": connection.connected_at if connection else None,
        "needs_reauth": bool(connection and connection.needs_reauth),
        "verified": bool(connection and connection.verified),
        "char_limit": selectors.char_limit(user=user, network=network, connection=connection),
        "supports_threads": network.supports_threads,
        "max_images": network.max_images,
    }


def _twitter_status(request: Request) -> dict[str, Any]:
    user = current_user(request)
    network = networks.get(X_SLUG)
    connection = selectors.connection_get(user=user, network=network)
    body: dict[str, Any] = {
        "connected": connection is not None and not connection.needs_reauth,
        "needs_reauth": bool(connection and connection.needs_reauth),
        "verified": bool(connection and connection.verified),
        "char_limit": selectors.char_limit(user=user, network=network, connection=connection),
    }
    if connection is not None:
        body.update(
            twitter_username=connection.username,
            twitter_name=connection.name,
            connected_at=connection.connected_at,
        )
    return dict(s.TwitterStatusOutput(body).data)


def _disconnect(request: Request, network: Network) -> Response:
    name = "Twitter" if network.slug == X_SLUG else network.display_name
    if connections.disconnect(user=current_user(request), network=network):
        return Response({"status": "success", "code": "disconnected", "message": f"{name} account disconnected"})
    return Response(
        {
            "status": "not_found",
            "code": "not_connected",
            "detail": f"No {name} account is connected.",
            "message": f"No {name} account is connected.",
            "fields": {},  # the shared error shape, beside the reference's status and message
        },
        status=status.HTTP_404_NOT_FOUND,
    )


def _authorize(request: Request, network: Network) -> Response:
    """Start a bearer-authenticated flow: POST only. The reference mobile client has no API
    connect call (it opened a web page), so nothing needs a GET here. Such a flow has no
    browser session to check at the callback, so it ends on a confirmation page naming both
    accounts, and only that page's POST links them (`client` picks where it returns to)."""
    data = s.ConnectInput(data=request.data)
    data.is_valid(raise_exception=True)
    client = OAuthClient.MOBILE if data.validated_data["client"] == "mobile" else OAuthClient.WEB
    url = connections.authorization_start(user=current_user(request), network=network, client=client)
    return Response({"authorize_url": url})


class TwitterConnectionListView(APIView):
    @extend_schema(responses={200: s.TwitterStatusOutput(many=True)})
    def get(self, request: Request) -> Response:
        body = _twitter_status(request)
        return Response([body] if "twitter_username" in body else [])


class TwitterStatusView(APIView):
    @extend_schema(responses={200: s.TwitterStatusOutput})
    def get(self, request: Request) -> Response:
        return Response(_twitter_status(request))


class TwitterDisconnectView(APIView):
    @extend_schema(request=None, responses={200: s.DisconnectOutput})  # 404: Error (mindpost.core.schema)
    def delete(self, request: Request) -> Response:
        return _disconnect(request, networks.get(X_SLUG))

    @extend_schema(request=None, responses={200: s.DisconnectOutput})  # 404: Error (mindpost.core.schema)
    def post(self, request: Request) -> Response:
        return _disconnect(request, networks.get(X_SLUG))


class TwitterConnectView(APIView):
    @extend_schema(request=s.ConnectInput, responses={200: s.AuthorizeUrlOutput})
    def post(self, request: Request) -> Response:
        return _authorize(request, networks.get(X_SLUG))


class ConnectionListView(APIView):
    @extend_schema(responses={200: s.ConnectionOutput(many=True)})
    def get(self, request: Request) -> Response:
        user = current_user(request)
        existing = selectors.connections_for(user=user)
        body = [
            _connection_body(user=user, network=network, connection=existing.get(slug))
            for slug, network in networks.all_networks().items()
        ]
        return Response(s.ConnectionOutput(body, many=True).data)


class ConnectionDetailView(APIView):
    @extend_schema(responses={200: s.ConnectionOutput})
    def get(self, request: Request, network: str) -> Response:
        user = current_user(request)
        net = networks.get(network)
        connection = selectors.connection_get(user=user, network=net)
        return Response(s.ConnectionOutput(_connection_body(user=user, network=net, connection=connection)).data)

    @extend_schema(request=None, responses={200: s.DisconnectOutput})  # 404: Error (mindpost.core.schema)
    def delete(self, request: Request, network: str) -> Response:
        return _disconnect(request, networks.get(network))


class ConnectionConnectView(APIView):
    @extend_schema(request=s.ConnectInput, responses={200: s.AuthorizeUrlOutput})
    def post(self, request: Request, network: str) -> Response:
        return _authorize(request, networks.get(network))
