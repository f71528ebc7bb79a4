"""Publishing a post to its network, exactly once.

1. Claim: under a row lock, check the post can go out (connection, length, images, quota)
   and mark it `publishing` with a lease.
2. For every part not yet published: if an earlier attempt at it never finished (crash,
   timeout), ask the network whether it went out after all; only if not, record a new
   attempt (committed *before* the request) and send it.
3. Record each success at once, so a crash later resumes from the next part.
Transient failures and 429s are retried by a job at the right time; a dead process is
found by its expired lease (`recover_stalled`).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.billing import metering
from mindpost.core.errors import AppError, Conflict, Invalid, NotFound, Unavailable, Unprocessable, UpstreamFailed
from mindpost.posts import connections, networks, selectors, tasks
from mindpost.posts.models import (
    AttemptOutcome,
    Connection,
    Post,
    PostFormat,
    PostStatus,
    PublishAttempt,
    Reminder,
    ReminderStatus,
)
from mindpost.posts.networks.base import (
    AuthRevoked,
    Media,
    Network,
    NetworkError,
    NotConfigured,
    OutcomeUnknown,
    PublishedItem,
    PublishRequest,
    RateLimited,
    Rejected,
)

logger = logging.getLogger(__name__)


# --- checks ----------------------------------------------------------------------------
def check_publishable(*, post: Post, network: Network, connection: Connection | None) -> None:
    """Raise the AppError that explains why this post can't be published right now."""
    if connection is None:
        raise Invalid(
            f"Connect your {network.display_name} account before publishing.",
            code="not_connected",
            extra={"network": network.slug},
        )
    if connection.needs_reauth:
        raise connections.reauth_error(network)
    check_content(post=post, network=network, connection=connection)


def check_content(
    *, post: Post, network: Network, connection: Connection | None, texts: list[str] | None = None
) -> None:
    """`texts`: what this network gets when it differs from the post's own (a cross-post's delivery)."""
    fitted = texts is not None
    texts = texts if texts is not None else post.texts
    if not any(text.strip() for text in texts):
        raise Invalid("The post is empty.", code="content_required", fields={"content": ["Write something first."]})
    if post.format == PostFormat.THREAD and not network.supports_threads and not fitted:
        raise Invalid(f"{network.display_name} posts cannot be threads.", code="thread_not_supported")
    limit = selectors.char_limit(user=post.user, network=network, connection=connection)
    # Each network counts its own way (X: weighted; Bluesky, Mastodon: graphemes).
    counts = [network.text_length(text) for text in texts]
    if max(counts) > limit:
        raise Invalid(
            f"The post is {max(counts)} characters long; the limit is {limit}.",
            code="post_too_long",
            fields={"content": [f"At most {limit} characters ({network.length_rule})."]},
            extra={"char_limit": limit, "character_count": max(counts), "network": network.slug},
        )
    images = list(post.images.all())
    if len(images) > network.max_images:
        raise Invalid(
            f"{network.display_name} takes at most {network.max_images} image(s) per post.",
            code="too_many_images",
        )
    if any(image.content_type not in network.image_types for image in images):
        raise Invalid(f"{network.display_name} does not accept one of these images.", code="unsupported_image_type")
    for image in images:
        problem = network.image_problem(
            content_type=image.content_type, size=image.size, width=image.width, height=image.height
        )
        if problem:
            raise Invalid(problem, code="image_not_accepted", extra={"network": network.slug})


# --- claim -----------------------------------------------------------------------------
def _lease() -> datetime:
    return timezone.now() + timedelta(seconds=settings.POSTS_PUBLISH_LEASE_SECONDS)


def _claim_for_user(*, user: User, post_id: uuid.UUID | str) -> tuple[Post, Network, int]:
    with transaction.atomic():
        post = Post.objects.select_for_update().select_related("user").filter(user=user, pk=post_id).first()
        if post is None:
            raise NotFound("Post not found.")
        if post.status == PostStatus.PUBLISHED:
            raise Conflict("This post is already published.", code="already_published")
        if post.status == PostStatus.PUBLISHING and post.lease_until and post.lease_until > timezone.now():
            raise Conflict("This post is being published right now.", code="publish_in_progress")
        network = networks.get(post.network)
        connection = selectors.connection_get(user=post.user, network=network)
        check_publishable(post=post, network=network, connection=connection)
        assert connection is not None
        _take_unit(post)
        _mark_publishing(post)
    return post, network, connection.pk


def _claim_for_job(*, post_id: str, token: str) -> tuple[Post, Network, int] | None:
    """The job's claim: only if the post still waits for exactly this job."""
    with transaction.atomic():
        post = Post.objects.select_for_update().select_related("user").filter(pk=post_id).first()
        if post is None or str(post.job_token) != token:
            return None  # rescheduled, cancelled, edited, published or deleted since
        if post.status not in (PostStatus.SCHEDULED, PostStatus.PUBLISHING):
            return None
        network = networks.get(post.network)
        connection = selectors.connection_get(user=post.user, network=network)
        try:
            check_publishable(post=post, network=network, connection=connection)
            _take_unit(post)
        except AppError as exc:
            _set_failed(post, code=exc.code, detail=str(exc.detail))
            return None
        assert connection is not None
        _mark_publishing(post)
    return post, network, connection.pk


def _take_unit(post: Post) -> None:
    # One unit per post, kept across retries, given back only if nothing went out.
    if not post.holds_publish_unit:
        metering.reserve(user=post.user, metric=metering.Metric.PUBLISHES)
        post.holds_publish_unit = True


def _mark_publishing(post: Post) -> None:
    # Published after all: a pending reminder for it (posts/reminders.py) has nothing left to say.
    Reminder.objects.filter(post=post, status=ReminderStatus.QUEUED).update(
        status=ReminderStatus.CANCELLED, job_token=None
    )
    post.status = PostStatus.PUBLISHING
    post.lease_until = _lease()
    post.job_token = None  # any queued schedule/retry job is now stale
    post.next_retry_at = None
    post.save()


# --- outcomes ----------------------------------------------------------------------------
def _set_failed(post: Post, *, code: str, detail: str) -> None:
    """Record a final failure (caller holds the row lock or owns the lease)."""
    post.status = PostStatus.FAILED
    post.failure_code = code[:64]
    post.failure_detail = detail[:500]
    post.lease_until = None
    post.job_token = None
    post.next_retry_at = None
    if post.holds_publish_unit and not post.external_ids:
        metering.release(user=post.user, metric=metering.Metric.PUBLISHES)
        post.holds_publish_unit = False
    post.save()
    logger.info("publish failed", extra={"post_id": str(post.pk), "code": code})


def _fail(post: Post, *, code: str, detail: str) -> None:
    with transaction.atomic():
        locked = Post.objects.select_for_update().select_related("user").get(pk=post.pk)
        _set_failed(locked, code=code, detail=detail)
    post.refresh_from_db()


def _retry_later(post: Post, *, at: datetime, code: str, detail: str) -> bool:
    """Queue another try at `at`; False when the retries are used up."""
    with transaction.atomic():
        locked = Post.objects.select_for_update().select_related("user").get(pk=post.pk)
        if locked.retry_count >= settings.POSTS_MAX_PUBLISH_RETRIES:
            _set_failed(locked, code=code, detail=f"{detail} (gave up after {locked.retry_count} retries)")
            post.refresh_from_db()
            return False
        token = uuid.uuid4()
        locked.status = PostStatus.PUBLISHING
        locked.lease_until = None
        locked.job_token = token
        locked.next_retry_at = at
        locked.retry_count += 1
        locked.failure_code = code[:64]
        locked.failure_detail = detail[:500]
        locked.save()
        tasks.defer_publish_post(post_id=locked.pk, token=token, at=at)
    post.refresh_from_db()
    logger.info("publish retry queued", extra={"post_id": str(post.pk), "code": code, "at": at.isoformat()})
    return True


def _backoff(post: Post) -> datetime:
    delay = settings.POSTS_RETRY_BASE_SECONDS * (2 ** min(post.retry_count, 8))
    return timezone.now() + timedelta(seconds=delay)


# --- the run -------------------------------------------------------------------------------
def _media(post: Post) -> list[Media]:
    media = []
    for image in post.images.all():
        with image.image.open("rb") as handle:
            media.append(Media(content=handle.read(), content_type=image.content_type))
    return media


def reconcile_part(
    *,
    unfinished: QuerySet[PublishAttempt],
    text: str,
    network: Network,
    token: str,
    connection: Connection,
    user_confirmed: bool,
) -> PublishedItem | None:
    """If an earlier attempt at this part (`unfinished`: its pending or uncertain attempts) never
    finished, find out whether it went out. Shared by single-network posts and cross-posts."""
    first = unfinished.order_by("started_at").first()
    if first is None:
        return None
    if not network.can_reconcile:
        if not user_confirmed:
            raise OutcomeUnknown(
                f"{network.display_name} may have published this post already; check your profile and publish "
                "again only if it is not there."
            )
        unfinished.update(outcome=AttemptOutcome.FAILED, error_code="unverifiable", finished_at=timezone.now())
        return None
    found = network.find_published(access_token=token, profile=connection.profile(), text=text, since=first.started_at)
    if found is None:
        unfinished.update(outcome=AttemptOutcome.FAILED, error_code="not_published", finished_at=timezone.now())
        return None
    unfinished.update(outcome=AttemptOutcome.FOUND, external_id=found.external_id, finished_at=timezone.now())
    return found


def _reconcile(
    *, post: Post, index: int, network: Network, token: str, connection: Connection, user_confirmed: bool
) -> PublishedItem | None:
    found = reconcile_part(
        unfinished=PublishAttempt.objects.filter(
            post=post, part_index=index, outcome__in=(AttemptOutcome.PENDING, AttemptOutcome.UNCERTAIN)
        ),
        text=post.texts[index],
        network=network,
        token=token,
        connection=connection,
        user_confirmed=user_confirmed,
    )
    if found is not None:
        logger.info("earlier attempt had been published", extra={"post_id": str(post.pk), "part": index})
    return found


def attempt_succeeded(attempt: PublishAttempt, item: PublishedItem) -> None:
    """Close an attempt as sent (shared by single-network posts and cross-post deliveries)."""
    attempt.outcome = AttemptOutcome.SUCCEEDED
    attempt.external_id = item.external_id
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["outcome", "external_id", "finished_at"])


def _record_part(*, post: Post, index: int, item: PublishedItem, attempt: PublishAttempt | None) -> None:
    """Store a published part at once: after this, a crash can't lead to posting it again."""
    with transaction.atomic():
        if attempt is not None:
            attempt_succeeded(attempt, item)
        post.external_ids = [*post.external_ids[:index], item.external_id]
        fields: dict[str, Any] = {"external_ids": post.external_ids, "lease_until": _lease()}
        if index == 0:
            post.post_id, post.post_url = item.external_id, item.url
            fields.update(post_id=item.external_id, post_url=item.url)
        Post.objects.filter(pk=post.pk).update(**fields)


def _close_attempt(attempt: PublishAttempt, exc: NetworkError) -> None:
    outcome = {
        OutcomeUnknown: AttemptOutcome.UNCERTAIN,
        RateLimited: AttemptOutcome.RATE_LIMITED,
    }.get(type(exc), AttemptOutcome.FAILED)
    attempt.outcome = outcome
    attempt.error_code = exc.code
    attempt.error_detail = exc.detail[:500]
    attempt.http_status = exc.status
    attempt.finished_at = timezone.now()
    attempt.save(update_fields=["outcome", "error_code", "error_detail", "http_status", "finished_at"])


def _send_all(*, post: Post, network: Network, connection_id: int, user_confirmed: bool) -> None:
    connection, token = connections.access_token(connection_id=connection_id)
    texts = post.texts
    media = _media(post)
    for index in range(len(post.external_ids), len(texts)):
        found = _reconcile(
            post=post, index=index, network=network, token=token, connection=connection, user_confirmed=user_confirmed
        )
        if found is not None:
            _record_part(post=post, index=index, item=found, attempt=None)
            continue
        attempt = PublishAttempt.objects.create(post=post, network=network.slug, part_index=index)
        request = PublishRequest(
            text=texts[index],
            reply_to=post.external_ids[-1] if index > 0 else None,
            media=media if index == 0 else [],
        )
        try:
            item = network.publish(access_token=token, profile=connection.profile(), request=request)
        except NetworkError as exc:
            _close_attempt(attempt, exc)
            raise
        _record_part(post=post, index=index, item=item, attempt=attempt)


def _run(*, post: Post, network: Network, connection_id: int, user_confirmed: bool) -> None:
    """Send what is left; every failure ends in failed, a queued retry or a raised AppError."""
    try:
        _send_all(post=post, network=network, connection_id=connection_id, user_confirmed=user_confirmed)
    except AppError as exc:  # reauth_required or not configured, from the token refresh
        _fail(post, code=exc.code, detail=str(exc.detail))
        raise
    except AuthRevoked as exc:
        connections.mark_needs_reauth(connection_id=connection_id, reason=exc.detail)
        _fail(post, code="reauth_required", detail=exc.detail)
        raise connections.reauth_error(network) from exc
    except RateLimited as exc:
        _retry_later(post, at=exc.reset_at, code=exc.code, detail=exc.detail)
        return
    except OutcomeUnknown as exc:
        if network.can_reconcile and _retry_later(post, at=_backoff(post), code=exc.code, detail=exc.detail):
            return
        _fail(post, code=exc.code, detail=exc.detail)
        raise UpstreamFailed(exc.detail, code=exc.code) from exc
    except NotConfigured as exc:
        _fail(post, code=exc.code, detail=exc.detail)
        raise Unavailable(exc.detail, code=exc.code) from exc
    except Rejected as exc:
        _fail(post, code=exc.code, detail=exc.detail)
        raise Unprocessable(exc.detail, code=exc.code) from exc
    except NetworkError as exc:  # transient: nothing was created
        if _retry_later(post, at=_backoff(post), code=exc.code, detail=exc.detail):
            return
        raise UpstreamFailed(exc.detail, code=exc.code) from exc

    with transaction.atomic():
        locked = Post.objects.select_for_update().get(pk=post.pk)
        locked.status = PostStatus.PUBLISHED
        locked.published_at = timezone.now()
        locked.lease_until = None
        locked.job_token = None
        locked.next_retry_at = None
        locked.failure_code = ""
        locked.failure_detail = ""
        locked.save()
    post.refresh_from_db()
    logger.info("post published", extra={"post_id": str(post.pk), "network": network.slug, "parts": len(post.texts)})


def publish_now(*, user: User, post_id: uuid.UUID | str) -> Post:
    """Publish the user's post now. Returns it published, or `publishing` with a retry
    queued (rate limit, network hiccup); raises AppError when it can't or didn't go out."""
    if Post.objects.filter(user=user, pk=post_id, deliveries__isnull=False).exists():
        # A cross-post: publishing it again sends only the networks still missing it.
        from mindpost.posts import crosspost  # lazily: crosspost builds on this module

        post, errors = crosspost.publish_now(user=user, post_id=post_id, values=None)
        if errors and post.status == PostStatus.FAILED and not any(row.remote_id for row in post.deliveries.all()):
            raise errors[0]
        return post
    post, network, connection_id = _claim_for_user(user=user, post_id=post_id)
    _run(post=post, network=network, connection_id=connection_id, user_confirmed=True)
    return post


def run_job(*, post_id: str, token: str) -> None:
    """A scheduled publish or a retry; a stale job (token no longer matches) does nothing."""
    claimed = _claim_for_job(post_id=post_id, token=token)
    if claimed is None:
        return
    post, network, connection_id = claimed
    # A failure is already recorded on the post (failed, with its code); the user sees it there.
    with contextlib.suppress(AppError):
        _run(post=post, network=network, connection_id=connection_id, user_confirmed=False)


def recover_stalled() -> int:
    """Queue a try for posts whose publisher died (lease expired) or whose job got lost."""
    now = timezone.now()
    grace = now - timedelta(minutes=5)
    # Cross-posts (deliveries) and reminders have their own jobs and recovery.
    single = Post.objects.filter(deliveries__isnull=True).filter(
        Q(job_token__isnull=False) | Q(status=PostStatus.PUBLISHING)
    )
    stale = single.filter(status=PostStatus.PUBLISHING, lease_until__lt=now)
    lost_retry = single.filter(status=PostStatus.PUBLISHING, lease_until__isnull=True, next_retry_at__lt=grace)
    lost_schedule = single.filter(status=PostStatus.SCHEDULED, scheduled_at__lt=grace)
    count = 0
    for post_id in {
        *stale.values_list("pk", flat=True),
        *lost_retry.values_list("pk", flat=True),
        *lost_schedule.values_list("pk", flat=True),
    }:
        with transaction.atomic():
            post = Post.objects.select_for_update().filter(pk=post_id).first()
            if post is None:
                continue
            token = uuid.uuid4()
            post.job_token = token
            post.lease_until = None
            if post.status == PostStatus.PUBLISHING:
                post.next_retry_at = now
            post.save(update_fields=["job_token", "lease_until", "next_retry_at", "modified_at"])
            tasks.defer_publish_post(post_id=post.pk, token=token, at=None)
            count += 1
    if count:
        logger.warning("recovering stalled publishes", extra={"posts": count})
    return count
