"""Note reads. Every function takes the user: nobody reads another user's notes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from mindpost.accounts.models import User
from mindpost.core.errors import ApiError
from mindpost.notes import blind_index
from mindpost.notes.models import Note, NoteSettings, NoteStatus, Passage
from mindpost.notes.tags import normalise_tag


@dataclass(frozen=True)
class NoteFilters:
    tag: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _bad_filter(name: str, message: str) -> ApiError:
    return ApiError(message, code="invalid_filter", fields={name: [message]})


def _parse_moment(name: str, raw: str, *, end_of_day: bool) -> datetime:
    raw = raw.strip()
    moment: datetime | None = None
    day: date | None = None
    try:
        # A bare date first: parse_datetime would read "2026-01-31" as midnight, and
        # `until` means the whole day.
        day = parse_date(raw)
        if day is None:
            moment = parse_datetime(raw)
    except ValueError:
        moment, day = None, None
    if moment is None and day is None:
        raise _bad_filter(name, "Use an ISO 8601 date or date-time, e.g. 2026-01-31 or 2026-01-31T09:30:00Z.")
    if moment is None:
        assert isinstance(day, date)
        moment = datetime.combine(day, time.max if end_of_day else time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    return moment


def parse_filters(params: Any) -> NoteFilters:
    """Validate ?tag= ?status= ?since= ?until= (ApiError 400 `invalid_filter` on bad values)."""
    tag = params.get("tag")
    if tag is not None:
        tag = normalise_tag(tag)
        if not tag:
            raise _bad_filter("tag", "The tag must not be empty.")
    status = params.get("status")
    if status is not None and status not in NoteStatus.values:
        raise _bad_filter("status", f"Status must be one of: {', '.join(NoteStatus.values)}.")
    since = _parse_moment("since", params["since"], end_of_day=False) if params.get("since") else None
    until = _parse_moment("until", params["until"], end_of_day=True) if params.get("until") else None
    if since and until and since > until:
        raise _bad_filter("since", "`since` must not be after `until`.")
    return NoteFilters(tag=tag, status=status, since=since, until=until)


def note_list(*, user: User, filters: NoteFilters | None = None) -> QuerySet[Note]:
    """The user's notes, newest first."""
    queryset = Note.objects.filter(user=user).order_by("-created_at", "-id")
    if filters is None:
        return queryset
    if filters.tag:
        queryset = queryset.filter(tag_hashes__contains=[blind_index.tag_hash(filters.tag)])
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.since:
        queryset = queryset.filter(created_at__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(created_at__lte=filters.until)
    return queryset


def note_get(*, user: User, note_id: uuid.UUID | str) -> Note:
    """One of the user's notes, or Http404 (also for other users' ids and malformed ids)."""
    try:
        key = uuid.UUID(str(note_id))
    except ValueError as exc:
        raise Http404 from exc
    note = Note.objects.filter(user=user, pk=key).select_related("user").first()
    if note is None:
        raise Http404
    return note


def note_settings_get(*, user: User) -> NoteSettings:
    note_settings, _ = NoteSettings.objects.get_or_create(user=user)
    return note_settings


def note_passages(*, user: User, note_id: uuid.UUID) -> QuerySet[Passage]:
    return Passage.objects.filter(user=user, note_id=note_id).order_by("position")


def note_status(*, note_id: uuid.UUID) -> str | None:
    """The current status, read fresh from the database (for Prefer: wait polling)."""
    return Note.objects.filter(pk=note_id).values_list("status", flat=True).first()
