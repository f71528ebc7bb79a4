"""Tags on the web: editing a note's title and tags, and the /tags/ page (rename or merge a tag)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from mindpost.core.errors import Invalid, NotFound
from mindpost.notes import edits, storage, tagging
from mindpost.notes import selectors as note_selectors
from mindpost.notes import services as note_services
from mindpost.web.helpers import web_user

# Typed tags are separated by spaces or commas ("#travel, RichardPowers").
_SEPARATORS = re.compile(r"[\s,]+")


def parse_tags(raw: str) -> list[str]:
    return [tag for tag in _SEPARATORS.split(raw or "") if tag.strip("#")]


@login_required
@require_POST
def note_tags(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Save the title and tags typed on the note page; only what changed is written, so saving
    an untouched title does not freeze it against enrichment (title_edited)."""
    user = web_user(request)
    note = note_selectors.note_get(user=user, note_id=pk)  # 404 for another user's note
    title = request.POST.get("title")
    tags_raw = request.POST.get("tags", "")
    tags = parse_tags(tags_raw)
    changes: dict[str, Any] = {}
    if title is not None and " ".join(title.split()) != note.title:
        changes["title"] = title
    if [tag.removeprefix("#") for tag in tags] != note.tags:
        changes["tags"] = tags
    context: dict[str, Any] = {"note": note}
    try:
        if changes:
            note = edits.note_edit(note=note, **changes)
    except Invalid as exc:
        context.update(error=exc.detail, title_value=title, tags_value=tags_raw, open=True)
        return render(request, "web/_note_tags.html", context, status=400)
    note = note_selectors.note_get(user=user, note_id=pk)
    audio_url = storage.recording_path(note_id=note.pk, user_id=note.user_id) if note.audio else ""
    context.update(
        note=note,
        saved="Saved." if changes else "Nothing changed.",
        refresh=bool(changes),
        audio_url=audio_url,
        failure_message=note_services.FAILURE_MESSAGES.get(note.failure_code, note.failure_reason),
    )
    return render(request, "web/_note_tags.html", context)


def _tags_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"tags": tagging.tag_list(user_id=web_user(request).pk), **extra}


@login_required
@require_GET
def tags_page(request: HttpRequest) -> HttpResponse:
    return render(request, "web/tags.html", _tags_context(request, selected=request.GET.get("tag", "")))


@login_required
@require_POST
def tags_rename(request: HttpRequest) -> HttpResponse:
    """Rename or merge; the answer is the refreshed list with a message (or the error, input kept)."""
    from_tag, to_tag = request.POST.get("from", ""), request.POST.get("to", "")
    try:
        result = tagging.tag_rename(user_id=web_user(request).pk, from_tag=from_tag, to_tag=to_tag)
    except (Invalid, NotFound) as exc:
        context = _tags_context(request, error=exc.detail, selected=from_tag, to_value=to_tag)
        return render(request, "web/_tags_panel.html", context, status=400)
    verb = "merged into" if result.merged else "renamed to"
    notes = f"{result.changed} note{'s' if result.changed != 1 else ''}"
    message = f"#{from_tag.strip().removeprefix('#')} {verb} #{result.name} ({notes} changed)."
    return render(request, "web/_tags_panel.html", _tags_context(request, saved=message, selected=result.name))
