"""To-do: the action items found in the user's notes, grouped by when they are due, marked done
in place (HTMX) and undone; and the lazily loaded "Similar notes" panel of a note page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mindpost.notes import action_items, similar
from mindpost.notes.models import ActionItem
from mindpost.web.helpers import is_htmx, web_user

MAX_ITEMS = 500  # a to-do list longer than this is not read on one page
DONE_SHOWN = 100
SIMILAR_SHOWN = 5


@dataclass(frozen=True)
class Row:
    item: ActionItem
    moment: str | None  # the note page at the moment it was said (?t=), or None


@dataclass
class Group:
    key: str
    label: str
    rows: list[Row] = field(default_factory=list)


def _row(item: ActionItem) -> Row:
    return Row(item=item, moment=action_items.moment_path(note_id=item.note_id, start_seconds=item.start_seconds))


def _group_key(due: date | None, *, today: date) -> str:
    if due is None:
        return "none"
    if due < today:
        return "overdue"
    if due == today:
        return "today"
    if due < today + timedelta(days=action_items.WEEK_DAYS):
        return "week"
    return "later"


def group_open_items(rows: list[Row], *, today: date) -> list[Group]:
    """Overdue / Today / This week / Later / No date, in that order; empty groups left out."""
    groups = [
        Group("overdue", "Overdue"),
        Group("today", "Today"),
        Group("week", "This week"),
        Group("later", "Later"),
        Group("none", "No date"),
    ]
    by_key = {group.key: group for group in groups}
    for row in rows:
        by_key[_group_key(row.item.due_date, today=today)].rows.append(row)
    return [group for group in groups if group.rows]


@login_required
@require_GET
def todos_page(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    show = "done" if request.GET.get("show") == "done" else "open"
    today = action_items.user_today(user=user)
    items = action_items.action_item_list(user=user, status=show)[: DONE_SHOWN if show == "done" else MAX_ITEMS]
    rows = [_row(item) for item in items]
    context: dict[str, Any] = {
        "show": show,
        "today": today,
        "rows": rows,
        "groups": group_open_items(rows, today=today) if show == "open" else [],
        "has_any": bool(rows) or action_items.action_item_list(user=user, status="all").exists(),
    }
    return render(request, "web/todos.html", context)


@login_required
@require_POST
def todo_toggle(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Mark an item done (the checkbox sends done=1) or open again (no value, or done=0: undo)."""
    user = web_user(request)
    done = request.POST.get("done") in ("1", "on", "true")
    item = action_items.action_item_update(user=user, item_id=pk, done=done)
    if not is_htmx(request):
        return redirect("web:todos")
    context = {"row": _row(item), "today": action_items.user_today(user=user), "just_changed": True}
    return render(request, "web/_todo_item.html", context)


@login_required
@require_GET
def note_similar(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """The "Similar notes" panel of a note page, loaded after the page (hx-trigger="revealed")."""
    found = similar.similar_notes(user=web_user(request), note_id=pk, limit=SIMILAR_SHOWN)
    hits = [
        {"hit": hit, "moment": action_items.moment_path(note_id=hit.note.pk, start_seconds=hit.start_seconds)}
        for hit in found
    ]
    return render(request, "web/_note_similar_list.html", {"hits": hits})
