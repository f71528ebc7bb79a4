"""Note reads, and passage search. Every function takes the user: nobody reads another user's notes.

This module is the notes app's read interface for other apps (chat reads notes only through it).
Search itself lives in the private module notes/search.py; its public names are exported here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from mindpost.accounts.models import User
from mindpost.core.errors import Invalid, NotFound
from mindpost.core.filters import FILTER_ERROR, date_range
from mindpost.notes.models import Note, NoteSettings, NoteStatus
from mindpost.notes.search import FusionParams as FusionParams
from mindpost.notes.search import Hit as Hit
from mindpost.notes.search import SearchFilters as SearchFilters
from mindpost.notes.search import SearchResult as SearchResult
from mindpost.notes.search import passage_search as passage_search
from mindpost.notes.search import recent_passages as recent_passages
from mindpost.notes.search import tag_filter_hash
from mindpost.notes.tags import normalise_tag

# Search's own word analysis and excerpts, so that chat matches and cuts passages on the very
# words a query is matched on.
from mindpost.notes.text import distinct_content_words as distinct_content_words
from mindpost.notes.text import excerpt as excerpt
from mindpost.notes.text import match_terms as match_terms


@dataclass(frozen=True)
class NoteFilters:
    tag: str | None = None
    status: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _bad_filter(name: str, message: str) -> Invalid:
    return Invalid(message, code=FILTER_ERROR, fields={name: [message]})


def parse_filters(params: Any, *, user: User) -> NoteFilters:
    """Validate ?tag= ?status= ?since= ?until= (Invalid `invalid_filter` on bad values); dates
    are read in the user's time zone (mindpost.core.filters)."""
    tag = params.get("tag")
    if tag is not None:
        tag = normalise_tag(tag)
        if not tag:
            raise _bad_filter("tag", "The tag must not be empty.")
    status = params.get("status")
    if status is not None and status not in NoteStatus.values:
        raise _bad_filter("status", f"Status must be one of: {', '.join(NoteStatus.values)}.")
    window = date_range(params, time_zone=user.timezone)
    return NoteFilters(tag=tag, status=status, since=window.since, until=window.until)


def note_list(*, user: User, filters: NoteFilters | None = None) -> QuerySet[Note]:
    """The user's notes, newest first."""
    queryset = Note.objects.filter(user=user).order_by("-created_at", "-id")
    if filters is None:
        return queryset
    if filters.tag:
        queryset = queryset.filter(tag_hashes__contains=[tag_filter_hash(filters.tag)])
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.since:
        queryset = queryset.filter(created_at__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(created_at__lt=filters.until)
    return queryset


def note_get(*, user: User, note_id: uuid.UUID | str) -> Note:
    """One of the user's notes, or NotFound (also for other users' ids and malformed ids)."""
    try:
        key = uuid.UUID(str(note_id))
    except ValueError as exc:
        raise NotFound("Note not found.") from exc
    note = Note.objects.filter(user=user, pk=key).select_related("user").first()
    if note is None:
        raise NotFound("Note not found.")
    return note


def note_settings_get(*, user: User) -> NoteSettings:
    note_settings, _ = NoteSettings.objects.get_or_create(user=user)
    return note_settings


def note_status(*, note_id: uuid.UUID) -> str | None:
    """The current status, read fresh from the database (for Prefer: wait polling)."""
    return Note.objects.filter(pk=note_id).values_list("status", flat=True).first()
