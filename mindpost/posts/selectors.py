"""Reads: a user's posts and connections, and the post length that applies to them."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.billing import metering
from mindpost.core.errors import NotFound
from mindpost.posts.models import Connection, DraftRequest, DraftStatus, Post, PostImage
from mindpost.posts.networks.base import Network


def post_list(*, user: User) -> QuerySet[Post]:
    return (
        Post.objects.filter(user=user)
        .prefetch_related(Prefetch("images", queryset=PostImage.objects.order_by("created_at", "id")))
        .prefetch_related(Prefetch("notes", to_attr="note_list"))
        .prefetch_related("deliveries")
        .select_related("reminder")
        .order_by("-created_at")
    )


def post_get(*, user: User, post_id: uuid.UUID | str) -> Post:
    """The user's post; someone else's post is as unknown as a missing one (404)."""
    try:
        return post_list(user=user).get(pk=post_id)
    except (Post.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Post not found.") from exc


def connection_get(*, user: User, network: Network) -> Connection | None:
    return Connection.objects.filter(user=user, network=network.slug).first()


def connections_for(*, user: User) -> dict[str, Connection]:
    return {connection.network: connection for connection in Connection.objects.filter(user=user)}


class _Unknown(enum.Enum):
    LOOK_UP = enum.auto()


def char_limit(
    *, user: User, network: Network, connection: Connection | Literal[_Unknown.LOOK_UP] | None = _Unknown.LOOK_UP
) -> int:
    """The effective post length: the smaller of the plan's cap and the account's own limit.

    Without a connection the network's default for an ordinary account applies. Pass the
    connection when you have looked it up already (None: there is none), so that a list of
    networks costs one query, not one per unconnected network; leave it out to look it up here.
    """
    if connection is _Unknown.LOOK_UP:
        connection = connection_get(user=user, network=network)
    account_limit = connection.char_limit if connection is not None else network.default_char_limit
    plan_limit = metering.max_post_chars(user=user)
    return min(account_limit, plan_limit) if plan_limit is not None else account_limit


def post_image_get(*, user: User, post_id: uuid.UUID | str, image_id: uuid.UUID | str) -> PostImage:
    """An image of the user's post; anyone else's is as unknown as a missing one (404)."""
    image = PostImage.objects.filter(post__user=user, post_id=post_id, pk=image_id).first()
    if image is None:
        raise NotFound("Image not found.")
    return image


def draft_request_recent(
    *, user: User, note_ids: Sequence[uuid.UUID], options: dict[str, Any], within: timedelta
) -> DraftRequest | None:
    """The user's newest drafts request for exactly these notes and options, made within `within`
    and not failed: what the compose page shows again when it is reopened, instead of paying for
    (and queueing behind the model) the same drafts twice."""
    wanted = [str(note_id) for note_id in dict.fromkeys(note_ids)]
    recent = DraftRequest.objects.filter(
        user=user, created_at__gte=timezone.now() - within, note_ids=wanted, options=options
    ).exclude(status=DraftStatus.FAILED)
    return recent.order_by("-created_at").first()


def draft_request_get(*, user: User, request_id: uuid.UUID | str) -> DraftRequest:
    """The user's drafts request; anyone else's is as unknown as a missing one (404)."""
    try:
        found = DraftRequest.objects.filter(user=user, pk=request_id).first()
    except (ValueError, TypeError, ValidationError):
        found = None
    if found is None:
        raise NotFound("Drafts request not found.")
    return found
