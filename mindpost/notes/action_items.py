"""To-dos: the action items enrichment found in a user's notes (selectors and services).

The rows are written by enrichment (enrich.py); here they are listed, filtered by state and by
due date, and marked done or edited by their owner.

Due windows are read in the user's own time zone (User.timezone): "today" is the user's local
date, so an item due on the 10th is "today" for someone in Tokyo while it is still the 9th in
UTC. The windows, with `today` the user's local date:
- overdue: due before today;
- today:   due today;
- week:    due today or in the six days after it (the next 7 days, today included);
- none:    no due date;
- any:     every item (the default).
`due_before` (exclusive) and `due_after` (inclusive) add a plain date range on top.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date

from mindpost.accounts.models import User
from mindpost.core.errors import Invalid, NotFound
from mindpost.core.filters import FILTER_ERROR, user_zone
from mindpost.notes.models import ActionItem

STATUSES: Final = ("open", "done", "all")
DUE_WINDOWS: Final = ("overdue", "today", "week", "none", "any")
WEEK_DAYS: Final = 7
MAX_TEXT_CHARS: Final = 500


class _Unset:
    """Marks an argument that was not passed (None is a value: "no due date")."""


UNSET: Final = _Unset()


@dataclass(frozen=True)
class ActionItemFilters:
    status: str = "open"
    due: str = "any"
    due_before: date | None = None  # exclusive
    due_after: date | None = None  # inclusive


def user_today(*, user: User, now: datetime | None = None) -> date:
    """The user's local date now (their profile's zone; UTC when unset or unknown)."""
    return (now or timezone.now()).astimezone(user_zone(user.timezone)).date()


def _bad_filter(name: str, message: str) -> Invalid:
    return Invalid(message, code=FILTER_ERROR, fields={name: [message]})


def _date_param(params: Mapping[str, Any], name: str) -> date | None:
    raw = str(params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = parse_date(raw)
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        value = None
    if value is None:
        raise _bad_filter(name, "Use an ISO 8601 date, e.g. 2026-01-31.")
    return value


def parse_filters(params: Mapping[str, Any]) -> ActionItemFilters:
    """?status= ?due= ?due_before= ?due_after= (Invalid `invalid_filter` on bad values)."""
    status = str(params.get("status") or "open").strip()
    if status not in STATUSES:
        raise _bad_filter("status", f"Status must be one of: {', '.join(STATUSES)}.")
    due = str(params.get("due") or "any").strip()
    if due not in DUE_WINDOWS:
        raise _bad_filter("due", f"Due must be one of: {', '.join(DUE_WINDOWS)}.")
    before, after = _date_param(params, "due_before"), _date_param(params, "due_after")
    if before is not None and after is not None and after >= before:
        raise _bad_filter("due_after", "`due_after` must be before `due_before`.")
    return ActionItemFilters(status=status, due=due, due_before=before, due_after=after)


def _due_window(due: str, *, today: date) -> Q:
    if due == "overdue":
        return Q(due_date__lt=today)
    if due == "today":
        return Q(due_date=today)
    if due == "week":
        return Q(due_date__gte=today, due_date__lt=today + timedelta(days=WEEK_DAYS))
    if due == "none":
        return Q(due_date__isnull=True)
    return Q()


def action_item_list(
    *,
    user: User,
    status: str = "open",
    due: str = "any",
    due_before: date | None = None,
    due_after: date | None = None,
    now: datetime | None = None,
) -> QuerySet[ActionItem]:
    """The user's action items under the filters, with their notes (id and title) loaded.

    Open items come soonest-due first (no date last), done ones most recently done first."""
    queryset = ActionItem.objects.filter(user=user).filter(_due_window(due, today=user_today(user=user, now=now)))
    if status == "open":
        queryset = queryset.filter(done=False)
    elif status == "done":
        queryset = queryset.filter(done=True)
    if due_before is not None:
        queryset = queryset.filter(due_date__lt=due_before)
    if due_after is not None:
        queryset = queryset.filter(due_date__gte=due_after)
    # Only what an item shows of its note: the note's transcript is not decrypted for a to-do list.
    queryset = queryset.select_related("note").only(
        "id",
        "text",
        "due_date",
        "start_seconds",
        "done",
        "done_at",
        "edited",
        "created_at",
        "position",
        "note__id",
        "note__title",
    )
    if status == "done":
        return queryset.order_by(F("done_at").desc(nulls_last=True), "-created_at", "id")
    return queryset.order_by("done", F("due_date").asc(nulls_last=True), "-note__created_at", "position", "id")


def action_item_get(*, user: User, item_id: uuid.UUID | str) -> ActionItem:
    """One of the user's items, or NotFound (also for another user's ids and malformed ids)."""
    try:
        key = uuid.UUID(str(item_id))
    except ValueError as exc:
        raise NotFound("Action item not found.") from exc
    item = ActionItem.objects.filter(user=user, pk=key).select_related("note").first()
    if item is None:
        raise NotFound("Action item not found.")
    return item


def action_item_update(
    *,
    user: User,
    item_id: uuid.UUID | str,
    done: bool | None = None,
    text: str | None = None,
    due_date: date | _Unset | None = UNSET,
) -> ActionItem:
    """Mark an item done (or open again), or fix its text or due date. `done_at` is set when it
    becomes done and cleared when it is opened again; marking a done item done keeps its time."""
    item = action_item_get(user=user, item_id=item_id)
    changed: list[str] = []
    if done is not None and done != item.done:
        item.done = done
        item.done_at = timezone.now() if done else None
        changed += ["done", "done_at"]
    if text is not None:
        cleaned = " ".join(text.split())
        if not cleaned:
            raise Invalid("The to-do must not be empty.", code="empty_text", fields={"text": ["Must not be blank."]})
        if len(cleaned) > MAX_TEXT_CHARS:
            message = f"At most {MAX_TEXT_CHARS} characters."
            raise Invalid(message, code="text_too_long", fields={"text": [message]})
        if cleaned != item.text:
            item.text = cleaned
            changed.append("text")
    if not isinstance(due_date, _Unset) and due_date != item.due_date:
        item.due_date = due_date
        changed.append("due_date")
    if {"text", "due_date"} & set(changed):
        item.edited = True  # re-enrichment of the note keeps it as the user wrote it
        changed.append("edited")
    if changed:
        item.save(update_fields=[*changed, "updated_at"])
    return item


def moment_path(*, note_id: uuid.UUID, start_seconds: float | None) -> str | None:
    """The note's web page opened at that moment of its recording (`?t=` seconds, as chat
    citations link it: the page seeks its player there), or None without a time."""
    if start_seconds is None:
        return None
    # By URL name, not an import: no app imports the web app (pyproject's import contracts).
    # Rounded as the page shows the time (the `duration` filter), so the link says where it goes.
    return reverse("web:notes_detail", kwargs={"pk": note_id}) + f"?t={max(0, round(start_seconds))}"
