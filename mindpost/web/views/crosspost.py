"""Cross-posting from the post page: tick several connected networks and publish (or schedule)
to all of them, see the status per network, retry one that failed (posts/crosspost.py)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from mindpost.core.errors import AppError, Invalid
from mindpost.posts import crosspost, networks, services
from mindpost.posts import selectors as post_selectors
from mindpost.web.helpers import navigate, user_zone, web_user
from mindpost.web.views.posts import _parse_when


def _done(request: HttpRequest, post_id: uuid.UUID, errors: list[AppError]) -> HttpResponse:
    for error in errors:
        slug = error.extra.get("network")
        name = networks.all_networks().get(str(slug)) if slug else None
        messages.error(request, f"{name.display_name}: {error.detail}" if name else str(error.detail))
    return navigate(request, reverse("web:posts_detail", kwargs={"pk": post_id}))


@login_required
@require_POST
def crosspost_submit(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Publish now (action=publish) or schedule (action=schedule) to the ticked networks."""
    user = web_user(request)
    post = post_selectors.post_get(user=user, post_id=pk)
    chosen = request.POST.getlist("networks")
    try:
        if not chosen:
            raise Invalid("Tick at least one network.", code="networks_required")
        if request.POST.get("action") == "schedule":
            when = _parse_when(request.POST.get("scheduled_at", ""), tz=user_zone(user))
            services.post_update(
                user=user,
                post_id=post.pk,
                changes=services.PostChanges.of(scheduled_at=when, networks=chosen, status="scheduled"),
            )
            return _done(request, post.pk, [])
        _, errors = crosspost.publish_now(user=user, post_id=post.pk, values=chosen)
    except AppError as exc:
        errors = [exc]
    return _done(request, post.pk, errors)


@login_required
@require_POST
def crosspost_retry(request: HttpRequest, pk: uuid.UUID, network: str) -> HttpResponse:
    """Retry the networks that have not got the post yet (the button sits on a failed one)."""
    user = web_user(request)
    post = post_selectors.post_get(user=user, post_id=pk)
    try:
        _, errors = crosspost.retry(user=user, post_id=post.pk, network=network)
    except AppError as exc:
        errors = [exc]
    return _done(request, post.pk, errors)
