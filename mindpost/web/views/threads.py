"""The thread editor on the post page: every part with a preview and a live counter; parts can
be split at the cursor, merged with the next, added and removed (static/web/thread_editor.js).
Counts come from the server (`thread_count`), with the network's own length rule; saving
checks each part and shows what is wrong next to it, then goes through services.post_update."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from mindpost.accounts.models import User
from mindpost.core.errors import Invalid
from mindpost.posts import length, networks, services, threads
from mindpost.posts import selectors as post_selectors
from mindpost.posts.models import Post, PostFormat
from mindpost.web.helpers import navigate, web_user

MAX_PARTS = services.MAX_THREAD_PARTS


def editor_context(*, user: User, post: Post, texts: list[str] | None = None, error: str = "") -> dict[str, Any]:
    network = networks.get(post.network)
    if texts is None:
        texts = threads.editable_parts(user=user, post=post, network=network)
    checks = threads.check_parts(user=user, network=network, texts=texts or [""])
    return {
        "post": post,
        "network": network,
        "checks": checks,
        "limit": post_selectors.char_limit(user=user, network=network),
        "max_parts": MAX_PARTS,
        "error": error,
        "shown": post.is_editable and network.supports_threads and post.format == PostFormat.THREAD,
    }


def _texts(request: HttpRequest) -> list[str]:
    return [text[: services.MAX_CONTENT_CHARS] for text in request.POST.getlist("parts")][: MAX_PARTS + 1]


@login_required
@require_POST
def thread_count(request: HttpRequest, pk: uuid.UUID) -> JsonResponse:
    """{"limit", "counts", "over", "published"} for the parts as they are in the page right now."""
    user = web_user(request)
    post = post_selectors.post_get(user=user, post_id=pk)
    checks = threads.check_parts(user=user, network=networks.get(post.network), texts=_texts(request))
    return JsonResponse(
        {
            "limit": checks[0].limit
            if checks
            else post_selectors.char_limit(user=user, network=networks.get(post.network)),
            "counts": [check.count for check in checks],
            "over": [check.over for check in checks],
            "published": [check.published for check in checks],
        }
    )


@login_required
@require_POST
def thread_save(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    user = web_user(request)
    post = post_selectors.post_get(user=user, post_id=pk)
    texts = _texts(request)
    context = editor_context(user=user, post=post, texts=texts)
    problems = [check for check in context["checks"] if check.error]
    if len(texts) > MAX_PARTS:
        context["error"] = f"A thread can have at most {MAX_PARTS} parts."
    elif not texts:
        context["error"] = "A thread needs at least one part."
    elif problems:
        plural = len(problems) > 1
        context["error"] = f"{len(problems)} part{'s need' if plural else ' needs'} a change before saving."
    if context["error"]:
        return render(request, "web/_thread_editor.html", context, status=400)
    try:
        services.post_update(
            user=user,
            post_id=post.pk,
            changes=services.PostChanges.of(
                parts=length.number_parts([check.text for check in context["checks"]]), fmt=PostFormat.THREAD
            ),
        )
    except Invalid as exc:  # shown in the editor; a 409 (published, publishing) is the error fragment
        context["error"] = exc.detail
        return render(request, "web/_thread_editor.html", context, status=400)
    return navigate(request, reverse("web:posts_detail", kwargs={"pk": post.pk}) + "?thread=saved")
