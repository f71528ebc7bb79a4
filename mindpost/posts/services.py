"""Post writes: create, edit, schedule, delete, images. Publishing lives in publishing.py."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO, Any, TypedDict, Unpack

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.ai import get_chat_model
from mindpost.billing import metering
from mindpost.core.errors import AppError, Conflict, Invalid, NotFound
from mindpost.notes.models import Note
from mindpost.posts import crosspost, generation, length, networks, publishing, reminders, selectors, tasks
from mindpost.posts.images import CheckedImage, check_image
from mindpost.posts.models import DraftRequest, DraftStatus, Post, PostFormat, PostImage, PostStatus
from mindpost.posts.networks.base import Network

logger = logging.getLogger(__name__)

MAX_CONTENT_CHARS = 100_000
MAX_THREAD_PARTS = 25
MAX_SCHEDULE_AHEAD = timedelta(days=365)


class _ChangeValues(TypedDict, total=False):
    content: str
    parts: Sequence[str]
    fmt: str
    post_type: str
    note_ids: Sequence[uuid.UUID]
    status: str
    scheduled_at: datetime | None
    networks: Sequence[str]
    reminder: bool


@dataclass(frozen=True, kw_only=True)
class PostChanges:
    """What a create or an edit sets, typed. Only the names in `fields_set` were given: the
    others keep the post's value, so "not given" never has to be told apart from None or [].
    Build it with `PostChanges.of(content=..., ...)`.

    `status` is "draft" (cancels a schedule) or "scheduled" (with `scheduled_at`, or the time
    already set); publishing is publishing.publish_now.
    """

    content: str = ""
    parts: tuple[str, ...] = ()
    fmt: str | None = None
    post_type: str | None = None
    note_ids: tuple[uuid.UUID, ...] = ()
    status: str | None = None
    scheduled_at: datetime | None = None
    # Cross-posting: the networks to publish to (posts/crosspost.py); empty: the post's own network.
    networks: tuple[str, ...] = ()
    # Schedule as a reminder (email / chat at the time) rather than publishing (posts/reminders.py).
    reminder: bool = False
    fields_set: frozenset[str] = frozenset()

    @classmethod
    def of(cls, **values: Unpack[_ChangeValues]) -> PostChanges:
        given: dict[str, Any] = dict(values)
        for name in ("parts", "note_ids", "networks"):
            if name in given:
                given[name] = tuple(given[name])
        return cls(**given, fields_set=frozenset(given))

    def has(self, name: str) -> bool:
        return name in self.fields_set

    @property
    def changes_content(self) -> bool:
        return bool(self.fields_set & {"content", "parts", "fmt"})

    @property
    def unschedules(self) -> bool:
        """An edit back to draft: status "draft", or scheduled_at cleared."""
        return self.status == PostStatus.DRAFT or (self.has("scheduled_at") and self.scheduled_at is None)

    @property
    def schedules(self) -> bool:
        """An edit that (re)schedules: status "scheduled", or a new scheduled_at."""
        return self.status == PostStatus.SCHEDULED or self.scheduled_at is not None


# --- pieces ---------------------------------------------------------------------------------
def _owned_notes(*, user: User, note_ids: Sequence[uuid.UUID]) -> list[Note]:
    unique = list(dict.fromkeys(note_ids))
    notes = list(Note.objects.filter(user=user, pk__in=unique))
    found = {note.pk for note in notes}
    missing = [str(note_id) for note_id in unique if note_id not in found]
    if missing:
        raise Invalid(
            "Some brain dumps were not found.",
            code="notes_not_found",
            fields={"note_ids": [f"Unknown note: {note_id}" for note_id in missing]},
        )
    return notes


def check_images(*, uploads: list[IO[bytes]], existing: int, network: Network) -> list[CheckedImage]:
    """Validate new uploads by content before anything is written."""
    allowed = min(settings.POSTS_MAX_IMAGES, network.max_images)
    if existing + len(uploads) > allowed:
        raise Invalid(
            f"A {network.display_name} post can have at most {allowed} image(s).",
            code="too_many_images",
            fields={"uploads": [f"At most {allowed} image(s) per post."]},
        )
    checked = [check_image(upload=upload, name=getattr(upload, "name", None) or "image") for upload in uploads]
    for image in checked:
        if image.content_type not in network.image_types:
            raise Invalid(
                f"{network.display_name} does not accept {image.image_format} images.",
                code="unsupported_image_type",
                fields={"uploads": [f"{image.name}: {image.image_format} is not accepted here."]},
            )
        problem = network.image_problem(
            content_type=image.content_type, size=len(image.content), width=image.width, height=image.height
        )
        if problem:
            raise Invalid(problem, code="image_not_accepted", fields={"uploads": [f"{image.name}: {problem}"]})
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


def _apply_content(*, post: Post, user: User, network: Network, changes: PostChanges, creating: bool) -> None:
    if changes.fmt is not None:
        post.format = changes.fmt
    if post.format == PostFormat.THREAD and not network.supports_threads:
        raise Invalid(f"{network.display_name} posts cannot be threads.", code="thread_not_supported")
    if changes.parts:
        cleaned = [part.strip() for part in changes.parts if part.strip()]
        if len(cleaned) > MAX_THREAD_PARTS:
            raise Invalid(
                f"A thread can have at most {MAX_THREAD_PARTS} posts.",
                code="thread_too_long",
                fields={"parts": [f"At most {MAX_THREAD_PARTS}."]},
            )
        if cleaned:
            if changes.fmt is None:
                post.format = PostFormat.THREAD
            post.parts = cleaned
            post.content = "\n\n".join(cleaned)
    if changes.has("content") and not changes.parts:
        post.content = changes.content.strip()
        if post.format == PostFormat.THREAD:
            post.parts = length.split_thread(post.content, selectors.char_limit(user=user, network=network))
    if post.format == PostFormat.SINGLE:
        post.parts = []
    elif changes.fmt is not None and not post.parts:
        post.parts = length.split_thread(post.content, selectors.char_limit(user=user, network=network))
    if creating or changes.has("content") or changes.has("parts"):
        if not post.content.strip():
            raise Invalid("Content is required", code="content_required", fields={"content": ["Write something."]})
        if len(post.content) > MAX_CONTENT_CHARS:
            raise Invalid(
                "The post is far too long.",
                code="content_too_long",
                fields={"content": [f"At most {MAX_CONTENT_CHARS} characters."]},
            )
        if len(post.parts) > MAX_THREAD_PARTS:
            raise Invalid(f"A thread can have at most {MAX_THREAD_PARTS} posts.", code="thread_too_long")


def _locked_editable(*, user: User, post_id: uuid.UUID | str) -> Post:
    """The user's post, row-locked, in a state that may still change (call inside a transaction)."""
    post = Post.objects.select_for_update().select_related("user").filter(user=user, pk=post_id).first()
    if post is None:
        raise NotFound("Post not found.")
    if post.status == PostStatus.PUBLISHED:
        raise Conflict("A published post can't be changed.", code="post_read_only")
    if post.status == PostStatus.PUBLISHING:
        raise Conflict("This post is being published right now.", code="publish_in_progress")
    if post.deliveries.filter(remote_id__isnull=False).exists():
        # Part of a cross-post is out: retry the rest as it is, rather than edit what went out.
        raise Conflict("This post is already out on some networks; retry the others.", code="post_read_only")
    return post


def _check_schedule_time(at: datetime | None) -> datetime:
    if at is None:
        raise Invalid(
            "Pick a time to publish.",
            code="scheduled_at_required",
            fields={"scheduled_at": ["This field is required."]},
        )
    now = timezone.now()
    if at <= now:
        raise Invalid(
            "The scheduled time must be in the future.",
            code="scheduled_at_in_past",
            fields={"scheduled_at": ["Must be in the future."]},
        )
    if at > now + MAX_SCHEDULE_AHEAD:
        raise Invalid(
            "Posts can be scheduled at most a year ahead.",
            code="scheduled_at_too_far",
            fields={"scheduled_at": ["At most 365 days ahead."]},
        )
    return at


# --- schedule / unschedule -------------------------------------------------------------------
def post_schedule(
    *, user: User, post: Post, at: datetime | None, to_networks: Sequence[str] = (), as_reminder: bool = False
) -> Post:
    """Schedule the post (draft, failed or already scheduled) to publish at `at`.

    Checked now rather than at publish time: the connection and the length must already work.
    The publish job is queued once the transaction commits; a job queued for an earlier time
    finds a different token and does nothing. `to_networks` (or deliveries the post already has)
    makes it a cross-post: one job per network (posts/crosspost.py). With nothing connected for
    the post's network (or `as_reminder`), it becomes a reminder (posts/reminders.py) rather than
    a refusal: at the time an email and a chat message bring the text and the links.
    """
    with transaction.atomic():
        locked = _locked_editable(user=user, post_id=post.pk)
        when = _check_schedule_time(at)
        network = networks.get(locked.network)
        connection = selectors.connection_get(user=user, network=network)
        token: uuid.UUID | None = None
        # A reminder stays one when moved (calendar) unless networks are now chosen.
        keep_reminder = not to_networks and reminders.is_pending(locked)
        if (
            as_reminder
            or keep_reminder
            or (connection is None and not to_networks and not crosspost.has_deliveries(locked))
        ):
            crosspost.unschedule(post=locked)
            reminders.schedule(post=locked, at=when)
        elif to_networks or crosspost.has_deliveries(locked):
            reminders.cancel(post=locked)
            crosspost.schedule(post=locked, values=list(to_networks) or None, at=when)
        else:
            reminders.cancel(post=locked)
            publishing.check_publishable(post=locked, network=network, connection=connection)
            token = uuid.uuid4()
        locked.status = PostStatus.SCHEDULED
        locked.scheduled_at = when
        locked.job_token = token
        locked.retry_count = 0
        locked.failure_code = ""
        locked.failure_detail = ""
        locked.save()
        if token is not None:
            tasks.defer_publish_post(post_id=locked.pk, token=token, at=when)
    return locked


def post_unschedule(*, user: User, post: Post) -> Post:
    """Back to draft: the queued job finds no token and does nothing; an old failure is cleared."""
    with transaction.atomic():
        locked = _locked_editable(user=user, post_id=post.pk)
        crosspost.unschedule(post=locked)
        reminders.cancel(post=locked)
        locked.status = PostStatus.DRAFT
        locked.scheduled_at = None
        locked.job_token = None
        locked.failure_code = ""
        locked.failure_detail = ""
        locked.save()
    return locked


# --- create / update / delete -------------------------------------------------------------
def post_create(*, user: User, changes: PostChanges, uploads: list[IO[bytes]] | None = None) -> Post:
    """A new post: a draft, or scheduled when `changes` has status "scheduled" or a scheduled_at."""
    network = networks.for_post_type(changes.post_type or "twitter")
    post = Post(user=user, network=network.slug)
    _apply_content(post=post, user=user, network=network, changes=changes, creating=True)
    notes = _owned_notes(user=user, note_ids=changes.note_ids)
    images = check_images(uploads=uploads or [], existing=0, network=network)
    saved: list[str] = []
    try:
        with transaction.atomic():
            post.save()
            if notes:
                post.notes.set(notes)
            _store_images(post=post, images=images, saved=saved)
            if changes.status == PostStatus.SCHEDULED or changes.scheduled_at is not None:
                post_schedule(
                    user=user,
                    post=post,
                    at=changes.scheduled_at,
                    to_networks=changes.networks,
                    as_reminder=changes.reminder,
                )
    except BaseException:
        _cleanup_files(saved)
        raise
    created = selectors.post_get(user=user, post_id=post.pk)
    logger.info("post created", extra={"post_id": str(created.pk), "status": created.status})
    return created


def post_update(
    *, user: User, post_id: uuid.UUID | str, changes: PostChanges, uploads: list[IO[bytes]] | None = None
) -> Post:
    """Edit a draft, scheduled or failed post, and schedule or unschedule it (`changes.status`,
    `changes.scheduled_at`) in the same transaction."""
    saved: list[str] = []
    try:
        with transaction.atomic():
            post = _locked_editable(user=user, post_id=post_id)
            network = networks.get(post.network)
            if changes.post_type is not None:
                network = networks.for_post_type(changes.post_type)
                post.network = network.slug
            _apply_content(post=post, user=user, network=network, changes=changes, creating=False)
            if changes.has("note_ids"):
                post.notes.set(_owned_notes(user=user, note_ids=changes.note_ids))
            images = check_images(uploads=uploads or [], existing=post.images.count(), network=network)
            _store_images(post=post, images=images, saved=saved)
            if (
                post.status == PostStatus.SCHEDULED
                and not (changes.unschedules or changes.schedules)
                and not reminders.is_pending(post)  # the person posts a reminder themselves: no limit here
            ):
                # Same time, same queued job: it reads the latest content when it runs.
                publishing.check_content(
                    post=post, network=network, connection=selectors.connection_get(user=user, network=network)
                )
            elif post.status == PostStatus.FAILED and (changes.changes_content or images):
                post.status = PostStatus.DRAFT
            if post.status == PostStatus.DRAFT:
                post.failure_code = ""
                post.failure_detail = ""
            post.save()
            if changes.unschedules:
                post_unschedule(user=user, post=post)
            elif changes.schedules:
                at = changes.scheduled_at if changes.has("scheduled_at") else post.scheduled_at
                post_schedule(user=user, post=post, at=at, to_networks=changes.networks, as_reminder=changes.reminder)
    except BaseException:
        _cleanup_files(saved)
        raise
    return selectors.post_get(user=user, post_id=post_id)


def post_delete(*, user: User, post_id: uuid.UUID | str) -> None:
    """Delete the post here (not on the network); its image files go once the delete commits."""
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(user=user, pk=post_id).first()
        if post is None:
            raise NotFound("Post not found.")
        if post.status == PostStatus.PUBLISHING and post.lease_until and post.lease_until > timezone.now():
            raise Conflict("This post is being published right now.", code="publish_in_progress")
        if post.holds_publish_unit and not post.external_ids:
            # A pending retry dies with the post: nothing went out, so the unit goes back.
            metering.release(user=user, metric=metering.Metric.PUBLISHES)
        crosspost.release_units(post=post)
        post.delete()


def post_image_delete(*, user: User, post_id: uuid.UUID | str, image_id: uuid.UUID | str) -> None:
    with transaction.atomic():
        post = Post.objects.select_for_update().filter(user=user, pk=post_id).first()
        image = PostImage.objects.filter(post=post, pk=image_id).first() if post else None
        if post is None or image is None:
            raise NotFound("Image not found.")
        if not post.is_editable:
            raise Conflict("A published post can't be changed.", code="post_read_only")
        image.delete()


def delete_image_file(*, name: str | None) -> None:
    """Remove a stored image once the row deletion commits (wired to post_delete in apps.py)."""
    if name:
        transaction.on_commit(lambda: default_storage.delete(name))


# --- drafts (generation as a job) ------------------------------------------------------------
def variant_body(variant: generation.Variant) -> dict[str, Any]:
    """A variant as the API and the stored draft request carry it (serializers pick their fields)."""
    return {
        "post_text": variant.post_text,
        "topics": variant.topics,
        "character_count": variant.character_count,
        "parts": variant.parts,
        "angle": variant.angle,
        "draft_text": variant.draft_text,
        "draft_count": variant.draft_count,
    }


def draft_request_create(
    *,
    user: User,
    note_ids: Sequence[uuid.UUID],
    min_chars: int,
    max_chars: int,
    fmt: str,
    network: Network,
    reuse_recent: bool = False,
) -> DraftRequest:
    """Check the request (400s come from here, before anything is queued), take one GENERATIONS
    unit (given back if the job fails), and queue the job once this transaction commits.

    With `reuse_recent`, a request for the same notes and options made in the last
    DRAFTS_REUSE_MINUTES (and not failed) is returned instead: reopening the compose page shows
    those drafts again rather than charging a unit and queueing the model for the same work."""
    generation.plan(
        user=user, note_ids=list(note_ids), min_chars=min_chars, max_chars=max_chars, fmt=fmt, network=network
    )
    options = {"min_chars": min_chars, "max_chars": max_chars, "format": fmt, "network": network.slug}
    if reuse_recent:
        within = timedelta(minutes=settings.DRAFTS_REUSE_MINUTES)
        recent = selectors.draft_request_recent(user=user, note_ids=note_ids, options=options, within=within)
        if recent is not None:
            return recent
    metering.reserve(user=user, metric=metering.Metric.GENERATIONS)
    draft = DraftRequest.objects.create(
        user=user,
        note_ids=[str(note_id) for note_id in dict.fromkeys(note_ids)],
        options=options,
        stage="Queued",
    )
    tasks.defer_generate_drafts(request_id=draft.pk)
    return draft


def _draft_update(draft_id: uuid.UUID, **values: Any) -> None:
    DraftRequest.objects.filter(pk=draft_id).update(**values)


def _draft_finish(draft_id: uuid.UUID, **values: Any) -> bool:
    """End a running request; False if something else (the stale sweep) ended it first."""
    return bool(DraftRequest.objects.filter(pk=draft_id, status=DraftStatus.RUNNING).update(**values))


def draft_requests_fail_stale() -> int:
    """Fail the drafts requests whose worker died (still queued or running DRAFTS_STALE_MINUTES
    after they started) and give their units back, so the page stops polling and shows an error
    the person can act on. Each row is ended with a conditional UPDATE, so a unit is given back
    once even if the job finishes at the same moment."""
    cutoff = timezone.now() - timedelta(minutes=settings.DRAFTS_STALE_MINUTES)
    stale = DraftRequest.objects.filter(
        Q(status=DraftStatus.RUNNING, started_at__lt=cutoff) | Q(status=DraftStatus.QUEUED, created_at__lt=cutoff)
    ).select_related("user")
    count = 0
    for draft in stale:
        ended = DraftRequest.objects.filter(pk=draft.pk, status=draft.status).update(
            status=DraftStatus.FAILED,
            stage="Failed",
            error_code="worker_lost",
            error_detail="Writing the drafts was interrupted. Try again.",
            finished_at=timezone.now(),
        )
        if ended:
            metering.release(user=draft.user, metric=metering.Metric.GENERATIONS)
            count += 1
    if count:
        logger.warning("stale drafts requests failed", extra={"count": count})
    return count


def draft_request_run(*, request_id: uuid.UUID | str) -> None:
    """The job: write the variants, saving each one and the current stage as they come.

    A failure is recorded on the request (`error_code`, `error_detail`) and gives the unit back;
    it is not raised, so the job is not retried (the person asks again)."""
    draft = DraftRequest.objects.select_related("user").filter(pk=request_id).first()
    if draft is None:
        return  # deleted
    started = DraftRequest.objects.filter(pk=draft.pk, status=DraftStatus.QUEUED).update(
        status=DraftStatus.RUNNING, stage="Starting", started_at=timezone.now()
    )
    if not started:
        return  # already run (a duplicate delivery), or failed by the stale sweep
    user, options = draft.user, draft.options
    produced: list[dict[str, Any]] = []

    def on_stage(text: str) -> None:
        _draft_update(draft.pk, stage=text[:120])

    def on_variant(variant: generation.Variant) -> None:
        produced.append(variant_body(variant))
        _draft_update(draft.pk, variants=produced)

    try:
        plan = generation.plan(
            user=user,
            note_ids=[uuid.UUID(note_id) for note_id in draft.note_ids],
            min_chars=int(options["min_chars"]),
            max_chars=int(options["max_chars"]),
            fmt=str(options["format"]),
            network=networks.get(str(options["network"])),
        )
        model = get_chat_model()
        stats: list[generation.CallStats] = []
        generation.run(plan, model=model, on_stage=on_stage, on_variant=on_variant, stats=stats)
    except Exception as exc:
        error = exc if isinstance(exc, AppError) else None
        if error is None:
            logger.exception("draft generation crashed", extra={"draft_request_id": str(draft.pk)})
        finished = _draft_finish(
            draft.pk,
            status=DraftStatus.FAILED,
            stage="Failed",
            error_code=error.code if error else "generation_failed",
            error_detail=(error.detail if error else "Writing the drafts failed. Try again.")[:500],
            finished_at=timezone.now(),
        )
        if finished:  # not already failed by the stale sweep, which gave the unit back itself
            metering.release(user=user, metric=metering.Metric.GENERATIONS)
        return
    _draft_finish(
        draft.pk,
        status=DraftStatus.DONE,
        stage="Done",
        char_limit=plan.limit,
        model=str(model.model_name)[:120],
        finished_at=timezone.now(),
    )
    logger.info(
        "drafts written",
        extra={
            "draft_request_id": str(draft.pk),
            "variants": len(produced),
            "calls": len(stats),
            "model_seconds": round(sum(call.seconds for call in stats), 2),
        },
    )
