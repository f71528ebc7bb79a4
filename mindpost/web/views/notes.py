"""Notes: the day-grouped list with hybrid search and tag chips, and the note detail page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from mindpost.accounts.models import User
from mindpost.ai.types import AIError
from mindpost.notes import selectors as note_selectors
from mindpost.notes import services as note_services
from mindpost.notes import storage, tagging
from mindpost.notes.models import Note
from mindpost.notes.selectors import SearchFilters, passage_search
from mindpost.notes.selectors import excerpt as make_excerpt
from mindpost.web.helpers import htmx_target, navigate, user_zone, web_user

PAGE_SIZE = 30
SEARCH_LIMIT = 30
MAX_QUERY_CHARS = 300


@dataclass
class DayGroup:
    day: date
    items: list[dict[str, Any]] = field(default_factory=list)


def _group_by_day(items: list[dict[str, Any]], *, tz: ZoneInfo) -> list[DayGroup]:
    def day_of(item: dict[str, Any]) -> date:
        return item["note"].created_at.astimezone(tz).date()

    return [DayGroup(day=day, items=list(group)) for day, group in groupby(items, key=day_of)]


def _user_tags(user: User, *, limit: int = 12) -> list[str]:
    """The user's most used tags, from their tag vocabulary (counts over all their notes)."""
    return [tag.name for tag in tagging.tag_list(user_id=user.pk, limit=limit)]


def _relevant(hit: Any) -> bool:
    # Vector search always returns neighbours; show only ones that matched a word or are close in meaning.
    return hit.keyword_rank is not None or (hit.similarity or 0.0) >= settings.CHAT_RELEVANCE_FLOOR


def _search(*, user: User, query: str, tag: str | None) -> list[dict[str, Any]]:
    result = passage_search(user=user, query=query, filters=SearchFilters(tag=tag), limit=SEARCH_LIMIT)
    best: dict[uuid.UUID, Any] = {}
    for hit in result.hits:
        if hit.note_id is not None and hit.note_id not in best and _relevant(hit):
            best[hit.note_id] = hit
    notes = {note.pk: note for note in note_selectors.note_list(user=user).filter(pk__in=list(best))}
    return [
        {"note": notes[note_id], "excerpt": make_excerpt(hit.text, answer=query), "start": hit.start}
        for note_id, hit in best.items()
        if note_id in notes
    ]


@login_required
@require_GET
def notes_page(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    query = (request.GET.get("q") or "").strip()[:MAX_QUERY_CHARS]
    tag = (request.GET.get("tag") or "").strip() or None
    context: dict[str, Any] = {"query": query, "tag": tag, "error": None}
    tz = user_zone(user)
    if query:
        try:
            context["groups"] = []
            context["results"] = _search(user=user, query=query, tag=tag)
        except AIError:
            context["error"] = "Search is unavailable right now because the search model is not reachable."
            context["results"] = []
    else:
        filters = note_selectors.NoteFilters(tag=tag)
        paginator = Paginator(note_selectors.note_list(user=user, filters=filters), PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        context["page"] = page
        context["groups"] = _group_by_day([{"note": note} for note in page.object_list], tz=tz)
    if htmx_target(request) in ("note-results", "more-notes"):
        template = "web/_notes_page.html" if htmx_target(request) == "more-notes" else "web/_notes_results.html"
        return render(request, template, context)
    context["tags"] = _user_tags(user)
    shown = context.get("page")
    if shown is not None and not tag:
        context["has_notes"] = shown.paginator.count > 0  # counted for the page already
    else:
        context["has_notes"] = note_selectors.note_list(user=user).exists()
    return render(request, "web/notes.html", context)


@login_required
@require_GET
def note_row(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """One list row (polled while the note is processing)."""
    note = note_selectors.note_get(user=web_user(request), note_id=pk)
    return render(request, "web/_note_row.html", {"note": note, "selectable": request.GET.get("selectable") == "1"})


def _detail_context(request: HttpRequest, note: Note) -> dict[str, Any]:
    audio_url = ""
    if note.audio:
        audio_url = storage.recording_path(note_id=note.pk, user_id=note.user_id)
    return {
        "note": note,
        "audio_url": audio_url,
        "segments": note.segments,
        "start_at": request.GET.get("t", ""),
        "failure_message": note_services.FAILURE_MESSAGES.get(note.failure_code, note.failure_reason),
    }


@login_required
@require_GET
def note_detail(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    note = note_selectors.note_get(user=web_user(request), note_id=pk)
    context = _detail_context(request, note)
    if htmx_target(request) == "note-body":
        return render(request, "web/_note_body.html", context)
    return render(request, "web/note_detail.html", context)


@login_required
@require_POST
def note_transcript(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    user = web_user(request)
    note = note_selectors.note_get(user=user, note_id=pk)
    note = note_services.note_update_transcription(note=note, transcription=request.POST.get("transcription", ""))
    context = {**_detail_context(request, note), "saved": "Transcript saved. Search is being updated."}
    return render(request, "web/_note_body.html", context)


@login_required
@require_POST
def note_retry(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    user = web_user(request)
    note = note_selectors.note_get(user=user, note_id=pk)
    note = note_services.note_retry(note=note)
    return render(request, "web/_note_body.html", _detail_context(request, note))


@login_required
@require_POST
def note_delete(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    user = web_user(request)
    note = note_selectors.note_get(user=user, note_id=pk)
    note_services.note_delete(note=note)
    return navigate(request, "/notes/?deleted=1")
