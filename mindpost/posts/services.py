"""Post writes: create, edit, schedule, delete, images. Publishing lives in publishing.py."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import IO, Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.billing import metering
from mindpost.core.errors import ApiError
from mindpost.posts import length, networks, publishing, selectors
from mindpost.posts.images import CheckedImage, check_image
from mindpost.posts.models import Post, PostFormat, PostImage, PostStatus
from mindpost.posts.networks.base import Network

logger = logging.getLogger(__name__)

MAX_CONTENT_CHARS = 100_000
MAX_THREAD_PARTS = 25
MAX_SCHEDULE_AHEAD = timedelta(days=365)


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# --- pieces ---------------------------------------------------------------------------------
def _owned_notes(*, user: User, note_ids: list[uuid.UUID]) -> list[Any]:
    from mindpost.notes.models import Note

    unique = list(dict.fromkeys(note_ids))
    notes = list(Note.objects.filter(user=user, pk__in=unique))
    found = {note.pk for note in notes}
    missing = [str(note_id) for note_id in unique if note_id not in found]
    if missing:
        raise ApiError(
            "Some brain dumps were not found.",
            code="notes_not_found",
            fields={"brain_dump_ids": [f"Unknown note: {note_id}" for note_id in missing]},
        )
    return notes


def check_images(*, uploads: list[IO[bytes]], existing: int, network: Network) -> list[CheckedImage]:
    """Validate new uploads by content before anything is written."""
    from django.conf import settings

    allowed = min(settings.POSTS_MAX_IMAGES, network.max_images)
    if existing + len(uploads) > allowed:
        raise ApiError(
            f"A {network.display_name} post can have at most {allowed} image(s).",
            code="too_many_images",
            fields={"media_files": [f"At most {allowed} image(s) per post."]},
        )
    checked = [check_image(upload=upload, name=getattr(upload, "name", None) or "image") for upload in uploads]
    for image in checked:
        if image.content_type not in network.image_types:
            raise ApiError(
                f"{network.display_name} does not accept {image.image_format} images.",
                code="unsupported_image_type",
                fields={"media_files": [f"{image.name}: {image.image_format} is not accepted here."]},
            )
    return checked


def _store_images(*, post: Post, images: list[CheckedImage], saved: list[str]) -> None:
    for image in images:
        row = PostImage(
            post=post,
            image_format=image.image_format,
            content_type=image.content_type,
            size=len(image.content),
            width=image.width,
            height=image.height,
        )
        row.image.save(image.name, ContentFile(image.content), save=False)
        saved.append(str(row.image.name))
        row.save()


def _cleanup_files(names: list[str]) -> None:
    for name in names:
        default_storage.delete(name)


def _apply_content(
    *, post: Post, user: User, network: Network, content: Any, parts: Any, fmt: Any, creating: bool
) -> None:
    if fmt is not UNSET:
        post.format = fmt
    if post.format == PostFormat.THREAD and not network.supports_threads:
        raise ApiError(f"{network.display_name} posts cannot be threads.", code="thread_not_supported")
    if parts is not UNSET and parts is not None:
        cleaned = [str(part).strip() for part in parts if str(part).strip()]
        if len(cleaned) > MAX_THREAD_PARTS:
            raise ApiError(
                f"A thread can have at most {MAX_THREAD_PARTS} posts.",
                code="thread_too_long",
                fields={"parts": [f"At most {MAX_THREAD_PARTS}."]},
            )
        if cleaned:
            post.format = PostFormat.THREAD if fmt is UNSET else post.format
            post.parts = cleaned
            post.content = "\n\n".join(cleaned)
    if content is not UNSET and (parts is UNSET or not parts):
        post.content = str(content or "").strip()
        if post.format == PostFormat.THREAD:
            limit = selectors.char_limit(user=user, network=network)
            post.parts = length.split_thread(post.content, limit)
    if post.format == PostFormat.SINGLE:
        post.parts = []
    elif fmt is not UNSET and not post.parts:
        post.parts = length.split_thread(post.content, selectors.char_limit(user=user, network=network))
    if creating or content is not UNSET or parts is not UNSET:
        if not post.content.strip():
            raise ApiError("Content is required", code="content_required", fields={"content": ["Write something."]})
        if len(post.content) > MAX_CONTENT_CHARS:
            raise ApiError(
                "The post is far too long.",
                code="content_too_long",
                fields={"content": [f"At most {MAX_CONTENT_CHARS} characters."]},
            )
        if len(post.parts) > MAX_THREAD_PARTS:
            raise ApiError(f"A thread can have at most {MAX_THREAD_PARTS} posts.", code="thread_too_long")


def _schedule(*, post: Post, when: datetime | None, network: Network) -> None:
    from mindpost.posts import tasks

    if when is None:
        raise ApiError(
            "Pick a time to publish.",
            code="scheduled_at_required",
            fields={"scheduled_at": ["This field is required."]},
        )
    now = timezone.now()
    if when <= now:
        raise ApiError(
            "The scheduled time must be in the future.",
            code="scheduled_at_in_past",
            fields={"scheduled_at": ["Must be in the future."]},
        )
    if when > now + MAX_SCHEDULE_AHEAD:
        raise ApiError(
            "Posts can be scheduled at most a year ahead.",
            code="scheduled_at_too_far",
            fields={"scheduled_at": ["At most 365 days ahead."]},
        )
    # Fail now rather than at publish time: the connection and length must already work.
    publishing.check_publishable(
        post=post, network=network, connection=selectors.connection_get(user=post.user, network=network)
    )
    token = uuid.uuid4()
    post.status = PostStatus.SCHEDULED
    post.scheduled_at = when
    post.job_token = token
    post.retry_count = 0
    post.failure_code = ""
    post.failure_detail = ""
    post_id = post.pk
    transaction.on_commit(lambda: tasks.defer_publish(post_id=post_id, token=token, at=when))


def _unschedule(post: Post) -> None:
    post.status = PostStatus.DRAFT
    post.scheduled_at = None
    post.job_token = None  # the queued job finds a different token and does nothing


# --- create / update / delete -------------------------------------------------------------
def post_create(
    *,
    user: User,
    content: Any = UNSET,
    parts: Any = UNSET,
    fmt: Any = UNSET,
    post_type: str = "twitter",
    schedule: bool = False,
    scheduled_at: datetime | None = None,
    note_ids: list[uuid.UUID] | None = None,
    uploads: list[IO[bytes]] | None = None,
) -> Post:
    network = networks.for_post_type(post_type)
    post = Post(user=user, network=network.slug)
    _apply_content(post=post, user=user, network=network, content=content, parts=parts, fmt=fmt, creating=True)
    notes = _owned_notes(user=user, note_ids=note_ids or [])
    images = check_images(uploads=uploads or [], existing=0, network=network)
    saved: list[str] = []
    try:
        with transaction.atomic():
            post.save()
            if notes:
                post.notes.set(notes)
            _store_images(post=post, images=images, saved=saved)
            if schedule or scheduled_at is not None:
                _schedule(post=post, when=scheduled_at, network=network)
                post.save()
    except BaseException:
        _cleanup_files(saved)
        raise
    logger.info("post created", extra={"post_id": str(post.pk), "status": post.status})
    return selectors.post_get(user=user, post_id=post.pk)


def post_update(
    *,
    user: User,
    post_id: uuid.UUID | str,
    content: Any = UNSET,
    parts: Any = UNSET,
    fmt: Any = UNSET,
    post_type: Any = UNSET,
    status: Any = UNSET,
    scheduled_at: Any = UNSET,
    note_ids: Any = UNSET,
    uploads: list[IO[bytes]] | None = None,
) -> Post:
    """Edit a draft, scheduled or failed post. `status`: "draft" cancels a schedule,
    "scheduled" (with scheduled_at) schedules; publishing is publishing.publish_now."""
    saved: list[str] = []
    try:
        with transaction.atomic():
            post = Post.objects.select_for_update().select_related("user").filter(user=user, pk=post_id).first()
            if post is None:
                raise ApiError("Post not found.", code="not_found", status_code=404)
            if post.status == PostStatus.PUBLISHED:
                raise ApiError("A published post can't be changed.", code="post_read_only", status_code=409)
            if post.status == PostStatus.PUBLISHING:
                raise ApiError("This post is being published right now.", code="publish_in_progress", status_code=409)
            network = networks.get(post.network)
            if post_type is not UNSET:
                network = networks.for_post_type(post_type)
                post.network = network.slug
            changed_content = content is not UNSET or parts is not UNSET or fmt is not UNSET
            _apply_content(post=post, user=user, network=network, content=content, parts=parts, fmt=fmt, creating=False)
            if note_ids is not UNSET:
                post.notes.set(_owned_notes(user=user, note_ids=note_ids or []))
            images = check_images(uploads=uploads or [], existing=post.images.count(), network=network)
            _store_images(post=post, images=images, saved=saved)

            if status == PostStatus.DRAFT or (scheduled_at is not UNSET and scheduled_at is None):
                _unschedule(post)
            elif status == PostStatus.SCHEDULED or (scheduled_at is not UNSET and scheduled_at is not None):
                when = scheduled_at if scheduled_at is not UNSET else post.scheduled_at
                _schedule(post=post, when=when, network=network)
            elif post.status == PostStatus.SCHEDULED:
                # Same time, same queued job: it reads the latest content when it runs.
                publishing.check_content(
                    post=post, network=network, connection=selectors.connection_get(user=user, network=network)
                )
            elif post.status == PostStatus.FAILED and (changed_content or images):
                post.status = PostStatus.DRAFT
            if post.status == PostStatus.DRAFT:
                post.failure_code = ""
                post.failure_detail = ""
            post.save()
    except BaseException:
        _cleanup_files(saved)
        raise
    return selectors.post_get(user=user, post_id=post_id)


def post_delete(*, user: User, post_id: uuid.UUID | str) -> None:
    """Delete the post here (not on the network); its image files go once the delete commits."""
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(user=user, pk=post_id).first()
        if post is None:
            raise ApiError("Post not found.", code="not_found", status_code=404)
        if post.status == PostStatus.PUBLISHING and post.lease_until and post.lease_until > timezone.now():
            raise ApiError("This post is being published right now.", code="publish_in_progress", status_code=409)
        if post.holds_publish_unit and not post.external_ids:
            # A pending retry dies with the post: nothing went out, so the unit goes back.
            metering.release(user=user, metric=metering.Metric.PUBLISHES)
        post.delete()


def post_image_delete(*, user: User, post_id: uuid.UUID | str, image_id: uuid.UUID | str) -> None:
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(user=user, pk=post_id).first()
        image = PostImage.objects.filter(post=post, pk=image_id).first() if post else None
        if post is None or image is None:
            raise ApiError("Image not found.", code="not_found", status_code=404)
        if not post.is_editable:
            raise ApiError("A published post can't be changed.", code="post_read_only", status_code=409)
        image.delete()


def delete_image_file(*, name: str | None) -> None:
    """Remove a stored image once the row deletion commits (wired to post_delete in apps.py)."""
    if name:
        transaction.on_commit(lambda: default_storage.delete(name))
