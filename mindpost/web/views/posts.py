"""Compose (generate → edit → publish or schedule) and the posts list and detail pages."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from mindpost.accounts.models import User
from mindpost.core.errors import AppError, Invalid, NotFound
from mindpost.notes import selectors as note_selectors
from mindpost.posts import generation, length, networks, publishing, services
from mindpost.posts import selectors as post_selectors
from mindpost.posts.models import DraftRequest, Post, PostFormat, PostStatus
from mindpost.posts.networks.base import Network
from mindpost.web.helpers import error_fragment, htmx_target, navigate, user_zone, web_user

# (label, min_chars, max_chars, format): the reference's three length presets.
PRESETS: dict[str, tuple[str, int, int, str]] = {
    "short": ("Short", 80, 280, PostFormat.SINGLE),
    "medium": ("Medium", 280, 1000, PostFormat.SINGLE),
    "long": ("Long", 1000, 2500, PostFormat.THREAD),
}
STATUS_TABS = [
    ("", "All"),
    (PostStatus.DRAFT, "Drafts"),
    (PostStatus.SCHEDULED, "Scheduled"),
    (PostStatus.PUBLISHED, "Published"),
    (PostStatus.FAILED, "Failed"),
]


def _network(slug: str | None) -> Network:
    """The chosen network, X by default; an unknown slug is networks.get()'s NotFound."""
    return networks.get(slug or "x")


def _note_ids(values: list[str]) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    for value in values:
        for piece in value.split(","):
            try:
                ids.append(uuid.UUID(piece.strip()))
            except ValueError:
                continue
    return list(dict.fromkeys(ids))


def _preset(user: User, *, name: str, network: Network, limit: int | None = None) -> tuple[str, int, int, str]:
    label, low, high, fmt = PRESETS.get(name, PRESETS["short"])
    if limit is None:
        limit = post_selectors.char_limit(user=user, network=network)
    # A single post longer than the account allows becomes a thread (where the network has them).
    if fmt == PostFormat.SINGLE and high > limit and network.supports_threads:
        fmt = PostFormat.THREAD
    if fmt == PostFormat.THREAD and not network.supports_threads:
        fmt = PostFormat.SINGLE
        high = min(high, limit)
        low = min(low, high)
    return label, low, high, fmt


def _counter(user: User, *, text: str, network: Network, fmt: str, limit: int | None = None) -> dict[str, Any]:
    # `limit`: the caller's char_limit when it has one (each lookup is a query).
    if limit is None:
        limit = post_selectors.char_limit(user=user, network=network)
    if fmt == PostFormat.THREAD and network.supports_threads and text.strip():
        parts = length.split_thread(text, limit)
        counts = [length.weighted_length(part) for part in parts]
    else:
        parts, counts = [], [length.weighted_length(text)]
    longest = max(counts, default=0)
    return {"count": longest, "limit": limit, "over": longest > limit, "parts": len(parts), "fmt": fmt}


def _parse_when(raw: str, *, tz: ZoneInfo) -> datetime | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise Invalid(
            "Pick a valid date and time.", code="invalid_scheduled_at", fields={"scheduled_at": ["Invalid."]}
        ) from exc
    return moment.replace(tzinfo=tz) if timezone.is_naive(moment) else moment


# --- Compose -----------------------------------------------------------------------------------


@login_required
@require_GET
def compose(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    if request.GET.get("draft") and htmx_target(request):
        return _drafts_progress(request, post_selectors.draft_request_get(user=user, request_id=request.GET["draft"]))
    network = _network(request.GET.get("network"))
    preset_name = request.GET.get("length") or "short"
    ids = _note_ids(request.GET.getlist("note_ids"))
    notes = [note_selectors.note_get(user=user, note_id=note_id) for note_id in ids]
    limit = post_selectors.char_limit(user=user, network=network)
    fmt = _preset(user, name=preset_name, network=network, limit=limit)[3]
    context = {
        "notes": notes,
        "note_ids": ",".join(str(note.pk) for note in notes),
        "preset": preset_name if preset_name in PRESETS else "short",
        "presets": [(key, value[0]) for key, value in PRESETS.items()],
        "fmt": fmt,
        "network": network,
        "networks": list(networks.all_networks().values()),
        "counter": _counter(user, text="", network=network, fmt=fmt, limit=limit),
        "tz_name": user.timezone,
        "post": None,
    }
    return render(request, "web/compose.html", context)


@login_required
@require_POST
def compose_generate(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    network = _network(request.POST.get("network"))
    ids = _note_ids(request.POST.getlist("note_ids"))
    if not ids:
        raise Invalid("Pick at least one ready note to write about.", code="notes_required")
    _, low, high, fmt = _preset(user, name=request.POST.get("length", "short"), network=network)
    if request.POST.get("mode") == "job":
        # The page's way: a job whose stage and variants the page polls for (see _drafts_progress).
        # reuse=1 is the page opening (not the "Write new drafts" button): drafts already written
        # for these notes in the last minutes are shown again instead of paid for twice.
        draft = services.draft_request_create(
            user=user,
            note_ids=ids,
            min_chars=low,
            max_chars=high,
            fmt=fmt,
            network=network,
            reuse_recent=request.POST.get("reuse") == "1",
        )
        return _drafts_progress(request, draft)
    # Without mode=job (no-JS form posts, older pages): written while the request waits.
    result = generation.generate(user=user, note_ids=ids, min_chars=low, max_chars=high, fmt=fmt, network=network)
    return render(request, "web/_variants.html", {"variants": result.variants, "limit": result.char_limit, "fmt": fmt})


def _drafts_progress(request: HttpRequest, draft: DraftRequest) -> HttpResponse:
    """The drafts written so far and what is happening now; it polls itself until the job ends."""
    user = web_user(request)
    network = _network(draft.options.get("network"))
    context = {
        "draft": draft,
        "variants": draft.variants,
        "limit": draft.char_limit or post_selectors.char_limit(user=user, network=network),
        "fmt": draft.options.get("format", PostFormat.SINGLE),
        "running": not draft.finished,
    }
    return render(request, "web/_drafts_progress.html", context)


@login_required
@require_POST
def compose_count(request: HttpRequest) -> HttpResponse:
    """The weighted counter, counted by the same twitter-text rules the server publishes with."""
    user = web_user(request)
    network = _network(request.POST.get("network"))
    fmt = request.POST.get("format") or PostFormat.SINGLE
    counter = _counter(user, text=request.POST.get("content", ""), network=network, fmt=fmt)
    return render(request, "web/_counter.html", {"counter": counter})


def _save(request: HttpRequest, *, post: Post | None) -> HttpResponse:
    user = web_user(request)
    data = request.POST
    action = data.get("action", "draft")
    network = _network(data.get("network") or (post.network if post else None))
    fmt = data.get("format") or PostFormat.SINGLE
    uploads: list[Any] = request.FILES.getlist("images")
    saved = False
    try:
        when = _parse_when(data.get("scheduled_at", ""), tz=user_zone(user)) if action == "schedule" else None
        if action == "schedule" and when is None:
            raise Invalid("Pick a date and time to publish.", code="scheduled_at_required")
        if post is None:
            post = services.post_create(
                user=user,
                changes=services.PostChanges.of(
                    content=data.get("content", ""),
                    fmt=fmt,
                    post_type=network.slug,
                    scheduled_at=when,
                    note_ids=_note_ids(data.getlist("note_ids")),
                ),
                uploads=uploads,
            )
        else:
            extra: dict[str, Any] = {}
            if action == "schedule":
                extra["scheduled_at"] = when
            elif action == "draft":
                extra["status"] = PostStatus.DRAFT
            post = services.post_update(
                user=user,
                post_id=post.pk,
                changes=services.PostChanges.of(
                    content=data.get("content", ""), fmt=fmt, post_type=network.slug, **extra
                ),
                uploads=uploads,
            )
        saved = True
        if action == "publish":
            publishing.publish_now(user=user, post_id=post.pk)
    except AppError as exc:
        if not saved or post is None:
            return error_fragment(request, exc)
        # Saved, but it could not go out: the post page shows why, with a retry.
        messages.error(request, exc.detail)
    return navigate(request, reverse("web:posts_detail", kwargs={"pk": post.pk}))


@login_required
@require_POST
def post_create(request: HttpRequest) -> HttpResponse:
    return _save(request, post=None)


# --- Posts -------------------------------------------------------------------------------------


@login_required
@require_GET
def posts_page(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    wanted = request.GET.get("status", "")
    posts = post_selectors.post_list(user=user)
    if wanted in PostStatus.values:
        # "Publishing" shows with the scheduled ones: both are on their way out.
        statuses = [wanted, PostStatus.PUBLISHING] if wanted == PostStatus.SCHEDULED else [wanted]
        posts = posts.filter(status__in=statuses)
    counts: dict[str, int] = {}
    for status in post_selectors.post_list(user=user).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    tabs = [(value, label, counts.get(value, 0) if value else sum(counts.values())) for value, label in STATUS_TABS]
    return render(request, "web/posts.html", {"posts": posts[:100], "status": wanted, "tabs": tabs})


def _post_context(request: HttpRequest, post: Post) -> dict[str, Any]:
    user = web_user(request)
    network = _network(post.network)
    connection = post_selectors.connection_get(user=user, network=network)
    return {
        "post": post,
        "network": network,
        "networks": list(networks.all_networks().values()),
        "connection": connection,
        "fmt": post.format,
        "counter": _counter(
            user,
            text=post.content,
            network=network,
            fmt=post.format,
            limit=post_selectors.char_limit(user=user, network=network, connection=connection),
        ),
        "tz_name": user.timezone,
        "note_ids": ",".join(str(note.pk) for note in getattr(post, "note_list", [])),
        "notes": getattr(post, "note_list", []),
        "scheduled_local": post.scheduled_at.astimezone(user_zone(user)).strftime("%Y-%m-%dT%H:%M")
        if post.scheduled_at
        else "",
    }


def _get_post(request: HttpRequest, pk: uuid.UUID) -> Post:
    return post_selectors.post_get(user=web_user(request), post_id=pk)


@login_required
@require_GET
def post_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    post = _get_post(request, pk)
    context = _post_context(request, post)
    if htmx_target(request) == "post-status":
        response = render(request, "web/_post_status.html", context)
        if request.GET.get("poll") and post.status in (PostStatus.PUBLISHED, PostStatus.FAILED):
            response["HX-Refresh"] = "true"  # the editor gives way to the published post
        return response
    return render(request, "web/post_detail.html", context)


@login_required
@require_POST
def post_save(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    return _save(request, post=_get_post(request, pk))


@login_required
@require_POST
def post_publish(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Publish now, or retry a failed post."""
    post = _get_post(request, pk)
    try:
        publishing.publish_now(user=web_user(request), post_id=post.pk)
    except AppError as exc:
        # The post page shows the failure next to the retry button.
        messages.error(request, exc.detail)
    return navigate(request, reverse("web:posts_detail", kwargs={"pk": post.pk}))


@login_required
@require_POST
def post_delete(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    post = _get_post(request, pk)
    services.post_delete(user=web_user(request), post_id=post.pk)
    return navigate(request, reverse("web:posts") + "?deleted=1")


@login_required
@require_POST
def post_image_delete(request: HttpRequest, pk: uuid.UUID, image_id: uuid.UUID) -> HttpResponse:
    post = _get_post(request, pk)
    services.post_image_delete(user=web_user(request), post_id=post.pk, image_id=image_id)
    return navigate(request, reverse("web:posts_detail", kwargs={"pk": post.pk}))


@login_required
@require_GET
def post_image(request: HttpRequest, pk: uuid.UUID, image_id: uuid.UUID) -> FileResponse:
    post = _get_post(request, pk)
    image = post.images.filter(pk=image_id).first()
    if image is None:
        raise NotFound("Image not found.")
    response = FileResponse(image.image.open("rb"), content_type=image.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response
