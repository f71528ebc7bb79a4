"""Cross-posting: one post to several networks, exactly once per network.

Each chosen network gets a `Delivery` row with its own text fitted to that network (a thread on
X past 280, one post on LinkedIn), its own lease, retry count and job token. The safety rules
are publishing.py's, applied per delivery: claim under a row lock, commit a `PublishAttempt`
*before* each request, look an unfinished attempt up on the network before sending again, and
record each published part at once. So a retry after a partial failure (X out, Mastodon 500)
sends only what is missing: a published delivery is never claimed again.

The post's own status follows its deliveries (`_sync_post`): publishing while any is queued or
on its way, published when all are, failed when one failed for good and none is left to try.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.billing import metering
from mindpost.core.errors import AppError, Conflict, Invalid, NotFound, Unavailable, Unprocessable, UpstreamFailed
from mindpost.posts import connections, length, networks, publishing, selectors, tasks
from mindpost.posts.models import (
    AttemptOutcome,
    Connection,
    Delivery,
    DeliveryStatus,
    Post,
    PostFormat,
    PostStatus,
    PublishAttempt,
    Reminder,
    ReminderStatus,
)
from mindpost.posts.networks.base import (
    AuthRevoked,
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

MAX_NETWORKS = 10
_OPEN = (DeliveryStatus.QUEUED, DeliveryStatus.PUBLISHING)


# --- fitting ---------------------------------------------------------------------------------
def fit_parts(*, post: Post, network: Network, limit: int) -> list[str]:
    """The post as this network will get it: as written when it fits; split into a numbered
    thread where the network has threads; otherwise one post (which must fit, see check)."""
    if post.format == PostFormat.THREAD and post.parts:
        written = [str(part) for part in post.parts]
        if network.supports_threads and all(network.text_length(part) <= limit for part in written):
            return written
        plain = [length.strip_numbering(part).strip() for part in written]
        text = "\n\n".join(part for part in plain if part)
    else:
        text = post.content.strip()
    if network.text_length(text) <= limit or not network.supports_threads:
        return [text]
    # split_thread counts X's way; shrink the budget until every part fits this network's count
    # (a long URL is 23 on X but its full length in Bluesky graphemes).
    budget = limit
    while True:
        parts = length.split_thread(text, budget)
        if all(network.text_length(part) <= limit for part in parts) or budget <= 40:
            return parts
        budget = int(budget * 0.9)


def _slugs(values: Sequence[str]) -> list[Network]:
    chosen: list[Network] = []
    for value in values:
        try:
            network = networks.for_post_type(value)
        except AppError as exc:
            raise Invalid(
                f"Unknown network {value!r}.",
                code="unknown_network",
                fields={"networks": [f"Choose from: {', '.join(networks.all_networks())}."]},
            ) from exc
        if network not in chosen:
            chosen.append(network)
    if not chosen:
        raise Invalid("Pick at least one network.", code="networks_required", fields={"networks": ["Pick one."]})
    if len(chosen) > MAX_NETWORKS:
        raise Invalid("Too many networks.", code="too_many_networks", fields={"networks": [f"At most {MAX_NETWORKS}."]})
    return chosen


def _check(*, post: Post, network: Network, connection: Connection | None) -> list[str]:
    """The fitted parts, or the AppError (naming the network) that says why it can't go there."""
    try:
        if connection is None:
            raise Invalid(
                f"Connect your {network.display_name} account before publishing.",
                code="not_connected",
                extra={"network": network.slug},
            )
        if connection.needs_reauth:
            raise connections.reauth_error(network)
        limit = selectors.char_limit(user=post.user, network=network, connection=connection)
        parts = fit_parts(post=post, network=network, limit=limit)
        publishing.check_content(post=post, network=network, connection=connection, texts=parts)
    except AppError as exc:
        exc.fields = {**exc.fields, "networks": [f"{network.display_name}: {exc.detail}"]}
        exc.extra = {**exc.extra, "network": network.slug}
        raise
    return parts


def prepare(*, post: Post, values: Sequence[str] | None) -> list[Delivery]:
    """Create or reuse the deliveries for `values` (network slugs or post types; None: the ones
    the post already has). Call with the post row locked. Checked now, so a bad choice is a 400
    before anything goes out; a published delivery is kept as it is."""
    existing = {delivery.network: delivery for delivery in post.deliveries.all()}
    chosen = _slugs(values) if values is not None else [networks.get(slug) for slug in existing]
    existing_connections = selectors.connections_for(user=post.user)
    result: list[Delivery] = []
    for position, network in enumerate(chosen):
        delivery = existing.get(network.slug)
        if delivery is not None and delivery.status == DeliveryStatus.PUBLISHED:
            result.append(delivery)
            continue
        connection = existing_connections.get(network.slug)
        parts = _check(post=post, network=network, connection=connection)
        if delivery is None:
            delivery = Delivery(post=post, network=network.slug)
        delivery.position = position
        delivery.connection = connection
        if not delivery.external_ids:
            delivery.parts = parts
        delivery.save()
        result.append(delivery)
    if values is not None:
        # Networks no longer chosen go, unless something already went out there.
        keep = {network.slug for network in chosen}
        for slug, delivery in existing.items():
            if slug not in keep and not delivery.external_ids and delivery.status != DeliveryStatus.PUBLISHING:
                _release_unit(delivery)
                delivery.delete()
    return result


# --- scheduling --------------------------------------------------------------------------------
def schedule(*, post: Post, values: Sequence[str] | None, at: datetime) -> None:
    """Queue one job per unpublished delivery at `at` (the post row is locked by the caller)."""
    for delivery in prepare(post=post, values=values):
        if delivery.status == DeliveryStatus.PUBLISHED:
            continue
        token = uuid.uuid4()
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.QUEUED,
            job_token=token,
            next_retry_at=None,
            retry_count=0,
            error_code="",
            error_detail="",
        )
        tasks.defer_publish_delivery(delivery_id=delivery.pk, token=token, at=at)


def unschedule(*, post: Post) -> None:
    """Queued delivery jobs become stale (their token is gone)."""
    post.deliveries.filter(status=DeliveryStatus.QUEUED).update(job_token=None, next_retry_at=None)


def has_deliveries(post: Post) -> bool:
    return post.deliveries.exists()


# --- claim -------------------------------------------------------------------------------------
def _lease() -> datetime:
    return timezone.now() + timedelta(seconds=settings.POSTS_PUBLISH_LEASE_SECONDS)


def _claim(*, delivery_id: uuid.UUID | str, token: str | None) -> tuple[Delivery, Network, int] | None:
    """Lock and check one delivery and mark it publishing; None when there is nothing to do.
    `token`: a job's token, which must still match; None for a publish the user asked for."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update().select_related("post", "post__user").filter(pk=delivery_id).first()
        )
        if delivery is None or delivery.status == DeliveryStatus.PUBLISHED:
            return None
        if token is not None and str(delivery.job_token) != token:
            return None  # rescheduled, retried by hand, cancelled or deleted since
        if (
            delivery.status == DeliveryStatus.PUBLISHING
            and delivery.lease_until
            and delivery.lease_until > timezone.now()
        ):
            return None  # another process is on it
        post = delivery.post
        network = networks.get(delivery.network)
        connection = selectors.connection_get(user=post.user, network=network)
        try:
            parts = _check(post=post, network=network, connection=connection)
            if not delivery.holds_publish_unit:
                metering.reserve(user=post.user, metric=metering.Metric.PUBLISHES)
                delivery.holds_publish_unit = True
        except AppError as exc:
            _set_failed(delivery, code=exc.code, detail=str(exc.detail))
            return None
        assert connection is not None
        if not delivery.external_ids:
            delivery.parts = parts  # the latest edit, fitted; frozen once a part is out
        delivery.connection = connection
        delivery.status = DeliveryStatus.PUBLISHING
        delivery.lease_until = _lease()
        delivery.job_token = None
        delivery.next_retry_at = None
        delivery.save()
    return delivery, network, connection.pk


# --- outcomes ----------------------------------------------------------------------------------
def _release_unit(delivery: Delivery) -> None:
    if delivery.holds_publish_unit and not delivery.external_ids:
        metering.release(user=delivery.post.user, metric=metering.Metric.PUBLISHES)
        delivery.holds_publish_unit = False


def _set_failed(delivery: Delivery, *, code: str, detail: str) -> None:
    delivery.status = DeliveryStatus.FAILED
    delivery.error_code = code[:64]
    delivery.error_detail = detail[:500]
    delivery.lease_until = None
    delivery.job_token = None
    delivery.next_retry_at = None
    _release_unit(delivery)
    delivery.save()
    logger.info("delivery failed", extra={"delivery_id": str(delivery.pk), "network": delivery.network, "code": code})


def _fail(delivery: Delivery, *, code: str, detail: str) -> None:
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().select_related("post__user").get(pk=delivery.pk)
        _set_failed(locked, code=code, detail=detail)


def _retry_later(delivery: Delivery, *, at: datetime, code: str, detail: str) -> bool:
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().select_related("post__user").get(pk=delivery.pk)
        if locked.retry_count >= settings.POSTS_MAX_PUBLISH_RETRIES:
            _set_failed(locked, code=code, detail=f"{detail} (gave up after {locked.retry_count} retries)")
            return False
        token = uuid.uuid4()
        locked.status = DeliveryStatus.PUBLISHING
        locked.lease_until = None
        locked.job_token = token
        locked.next_retry_at = at
        locked.retry_count += 1
        locked.error_code = code[:64]
        locked.error_detail = detail[:500]
        locked.save()
        tasks.defer_publish_delivery(delivery_id=locked.pk, token=token, at=at)
    logger.info("delivery retry queued", extra={"delivery_id": str(delivery.pk), "code": code, "at": at.isoformat()})
    return True


def _backoff(delivery: Delivery) -> datetime:
    return timezone.now() + timedelta(seconds=settings.POSTS_RETRY_BASE_SECONDS * (2 ** min(delivery.retry_count, 8)))


# --- the run -----------------------------------------------------------------------------------
def _reconcile(
    *, delivery: Delivery, index: int, network: Network, token: str, connection: Connection, user_confirmed: bool
) -> PublishedItem | None:
    return publishing.reconcile_part(
        unfinished=PublishAttempt.objects.filter(
            delivery=delivery, part_index=index, outcome__in=(AttemptOutcome.PENDING, AttemptOutcome.UNCERTAIN)
        ),
        text=delivery.parts[index],
        network=network,
        token=token,
        connection=connection,
        user_confirmed=user_confirmed,
    )


def _record_part(*, delivery: Delivery, index: int, item: PublishedItem, attempt: PublishAttempt | None) -> None:
    with transaction.atomic():
        if attempt is not None:
            publishing.attempt_succeeded(attempt, item)
        delivery.external_ids = [*delivery.external_ids[:index], item.external_id]
        fields: dict[str, object] = {"external_ids": delivery.external_ids, "lease_until": _lease()}
        if index == 0:
            delivery.remote_id, delivery.remote_url = item.external_id, item.url
            fields.update(remote_id=item.external_id, remote_url=item.url)
        Delivery.objects.filter(pk=delivery.pk).update(**fields)


def _send_all(*, delivery: Delivery, network: Network, connection_id: int, user_confirmed: bool) -> None:
    connection, token = connections.access_token(connection_id=connection_id)
    texts = [str(part) for part in delivery.parts]
    media = publishing._media(delivery.post)
    for index in range(len(delivery.external_ids), len(texts)):
        found = _reconcile(
            delivery=delivery,
            index=index,
            network=network,
            token=token,
            connection=connection,
            user_confirmed=user_confirmed,
        )
        if found is not None:
            _record_part(delivery=delivery, index=index, item=found, attempt=None)
            continue
        attempt = PublishAttempt.objects.create(
            post=delivery.post, delivery=delivery, network=network.slug, part_index=index
        )
        Delivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
        delivery.attempts += 1
        request = PublishRequest(
            text=texts[index],
            reply_to=delivery.external_ids[-1] if index > 0 else None,
            media=media if index == 0 else [],
        )
        try:
            item = network.publish(access_token=token, profile=connection.profile(), request=request)
        except NetworkError as exc:
            publishing._close_attempt(attempt, exc)
            raise
        _record_part(delivery=delivery, index=index, item=item, attempt=attempt)


def _run(*, delivery: Delivery, network: Network, connection_id: int, user_confirmed: bool) -> AppError | None:
    """Send what is left of one delivery; returns the AppError of a final failure (recorded on
    the delivery), None when it went out or a retry is queued."""
    try:
        _send_all(delivery=delivery, network=network, connection_id=connection_id, user_confirmed=user_confirmed)
    except AppError as exc:  # reauth_required or not configured, from the token refresh
        _fail(delivery, code=exc.code, detail=str(exc.detail))
        return exc
    except AuthRevoked as exc:
        connections.mark_needs_reauth(connection_id=connection_id, reason=exc.detail)
        _fail(delivery, code="reauth_required", detail=exc.detail)
        return connections.reauth_error(network)
    except RateLimited as exc:
        _retry_later(delivery, at=exc.reset_at, code=exc.code, detail=exc.detail)
        return None
    except OutcomeUnknown as exc:
        if network.can_reconcile and _retry_later(delivery, at=_backoff(delivery), code=exc.code, detail=exc.detail):
            return None
        _fail(delivery, code=exc.code, detail=exc.detail)
        return UpstreamFailed(exc.detail, code=exc.code)
    except NotConfigured as exc:
        _fail(delivery, code=exc.code, detail=exc.detail)
        return Unavailable(exc.detail, code=exc.code)
    except Rejected as exc:
        _fail(delivery, code=exc.code, detail=exc.detail)
        return Unprocessable(exc.detail, code=exc.code)
    except NetworkError as exc:  # transient: nothing was created
        if _retry_later(delivery, at=_backoff(delivery), code=exc.code, detail=exc.detail):
            return None
        return UpstreamFailed(exc.detail, code=exc.code)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PUBLISHED,
        published_at=timezone.now(),
        lease_until=None,
        job_token=None,
        next_retry_at=None,
        error_code="",
        error_detail="",
    )
    logger.info("delivery published", extra={"delivery_id": str(delivery.pk), "network": network.slug})
    return None


def _sync_post(post_id: uuid.UUID) -> None:
    """The post's status, first id/url and failure from its deliveries."""
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(pk=post_id).first()
        if post is None:
            return
        rows = list(post.deliveries.all())
        if not rows:
            return
        statuses = {row.status for row in rows}
        failed = [row for row in rows if row.status == DeliveryStatus.FAILED]
        first_out = next((row for row in rows if row.remote_id), None)
        if statuses == {DeliveryStatus.PUBLISHED}:
            post.status = PostStatus.PUBLISHED
            post.published_at = post.published_at or timezone.now()
            post.failure_code = post.failure_detail = ""
        elif statuses & set(_OPEN):
            started = statuses != {DeliveryStatus.QUEUED} or any(row.job_token is None for row in rows)
            if post.status != PostStatus.SCHEDULED or started:
                post.status = PostStatus.PUBLISHING
        elif failed:
            post.status = PostStatus.FAILED
            post.failure_code = failed[0].error_code
            post.failure_detail = f"{networks.get(failed[0].network).display_name}: {failed[0].error_detail}"[:500]
        if first_out is not None and post.post_id is None:
            post.network, post.post_id, post.post_url = first_out.network, first_out.remote_id, first_out.remote_url
            post.external_ids = list(first_out.external_ids)
        post.job_token = None  # a legacy single-network job for this post must not run
        post.lease_until = None
        post.save()


# --- entry points ------------------------------------------------------------------------------
def publish_now(*, user: User, post_id: uuid.UUID | str, values: Sequence[str] | None) -> tuple[Post, list[AppError]]:
    """Publish the user's post to `values` (None: its deliveries) now; a delivery that is already
    published is left alone, so this is also the retry after a partial failure. Returns the
    post and the final failures (retries that are queued are not failures)."""
    with transaction.atomic():
        post = Post.objects.select_for_update().select_related("user").filter(user=user, pk=post_id).first()
        if post is None:
            raise NotFound("Post not found.")
        pending = [row for row in prepare(post=post, values=values) if row.status != DeliveryStatus.PUBLISHED]
        if not pending:
            raise Conflict("This post is already published everywhere you chose.", code="already_published")
        now = timezone.now()
        busy = [row for row in pending if row.status == DeliveryStatus.PUBLISHING and (row.lease_until or now) > now]
        if busy:
            raise Conflict("This post is being published right now.", code="publish_in_progress")
        # A queued job for any of them (schedule, retry) is stale from now on.
        Delivery.objects.filter(pk__in=[row.pk for row in pending]).update(
            status=DeliveryStatus.QUEUED, job_token=None, next_retry_at=None, retry_count=0
        )
        post.status = PostStatus.PUBLISHING
        post.job_token = None
        post.save(update_fields=["status", "job_token", "modified_at"])
        Reminder.objects.filter(post=post, status=ReminderStatus.QUEUED).update(
            status=ReminderStatus.CANCELLED, job_token=None
        )
    errors: list[AppError] = []
    for row in pending:
        claimed = _claim(delivery_id=row.pk, token=None)
        if claimed is None:
            failed = Delivery.objects.filter(pk=row.pk, status=DeliveryStatus.FAILED).first()
            if failed is not None:
                errors.append(Invalid(failed.error_detail, code=failed.error_code, extra={"network": failed.network}))
            continue
        delivery, network, connection_id = claimed
        error = _run(delivery=delivery, network=network, connection_id=connection_id, user_confirmed=True)
        if error is not None:
            error.extra = {**error.extra, "network": network.slug}
            errors.append(error)
    _sync_post(post.pk)
    return selectors.post_get(user=user, post_id=post.pk), errors


def retry(*, user: User, post_id: uuid.UUID | str, network: str) -> tuple[Post, list[AppError]]:
    """Retry one network of a cross-post (the web page's button)."""
    post = selectors.post_get(user=user, post_id=post_id)
    delivery = post.deliveries.filter(network=network).first()
    if delivery is None:
        raise NotFound("This post is not going to that network.")
    if delivery.status == DeliveryStatus.PUBLISHED:
        raise Conflict("Already published there.", code="already_published")
    ordered = [row.network for row in post.deliveries.all()]
    return publish_now(user=user, post_id=post.pk, values=ordered)


def run_job(*, delivery_id: str, token: str) -> None:
    """A scheduled publish or a retry of one delivery; stale tokens do nothing."""
    claimed = _claim(delivery_id=delivery_id, token=token)
    if claimed is None:
        row = Delivery.objects.filter(pk=delivery_id).only("post_id").first()
        if row is not None:
            _sync_post(row.post_id)
        return
    delivery, network, connection_id = claimed
    _run(delivery=delivery, network=network, connection_id=connection_id, user_confirmed=False)
    _sync_post(delivery.post_id)


def recover_stalled() -> int:
    """Queue a try for deliveries whose publisher died (lease expired) or whose job got lost."""
    now = timezone.now()
    grace = now - timedelta(minutes=5)
    stale = Delivery.objects.filter(status=DeliveryStatus.PUBLISHING, lease_until__lt=now)
    lost_retry = Delivery.objects.filter(
        status=DeliveryStatus.PUBLISHING, lease_until__isnull=True, next_retry_at__lt=grace
    )
    lost_schedule = Delivery.objects.filter(
        status=DeliveryStatus.QUEUED,
        job_token__isnull=False,
        post__status=PostStatus.SCHEDULED,
        post__scheduled_at__lt=grace,
    )
    count = 0
    for delivery_id in {
        *stale.values_list("pk", flat=True),
        *lost_retry.values_list("pk", flat=True),
        *lost_schedule.values_list("pk", flat=True),
    }:
        with transaction.atomic():
            delivery = Delivery.objects.select_for_update().filter(pk=delivery_id).first()
            if delivery is None:
                continue
            token = uuid.uuid4()
            delivery.job_token = token
            delivery.lease_until = None
            delivery.save(update_fields=["job_token", "lease_until", "modified_at"])
            tasks.defer_publish_delivery(delivery_id=delivery.pk, token=token, at=None)
            count += 1
    if count:
        logger.warning("recovering stalled deliveries", extra={"deliveries": count})
    return count


def release_units(*, post: Post) -> None:
    """A deleted post gives back the units its unfinished deliveries held."""
    for delivery in post.deliveries.filter(holds_publish_unit=True).select_related("post__user"):
        _release_unit(delivery)
