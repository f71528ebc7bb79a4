"""The posts calendar: a week or a month of scheduled and published posts, in the user's zone.

Scheduled posts move by drag and drop (static/web/calendar.js) or by the "Move to…" form each
one carries (the keyboard way); both POST to `calendar_move`, which reschedules through
services.post_schedule and answers with the calendar re-rendered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from mindpost.core.errors import AppError, Invalid
from mindpost.posts import calendar, services
from mindpost.posts import selectors as post_selectors
from mindpost.web.helpers import error_fragment, htmx_target, is_htmx, web_user

VIEWS = ("week", "month")


@dataclass
class Day:
    day: date
    in_month: bool
    today: bool
    entries: list[calendar.CalendarEntry] = field(default_factory=list)


def _view(raw: str | None) -> str:
    return raw if raw in VIEWS else "week"


def _anchor(raw: str | None, *, today: date) -> date:
    try:
        return date.fromisoformat(raw) if raw else today
    except ValueError:
        return today


def _span(view: str, anchor: date) -> tuple[date, date]:
    """Monday-to-Sunday weeks: the anchor's week, or every week touching the anchor's month."""
    if view == "week":
        start = anchor - timedelta(days=anchor.weekday())
        return start, start + timedelta(days=6)
    first = anchor.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return first - timedelta(days=first.weekday()), last + timedelta(days=6 - last.weekday())


def _shift(view: str, anchor: date, step: int) -> date:
    if view == "week":
        return anchor + timedelta(days=7 * step)
    month = anchor.month - 1 + step
    return date(anchor.year + month // 12, month % 12 + 1, 1)


def _context(request: HttpRequest, *, view: str, anchor: date, message: str = "", moved: str = "") -> dict[str, Any]:
    user = web_user(request)
    tz = calendar.user_zone(user)
    today = timezone.now().astimezone(tz).date()
    start, end = _span(view, anchor)
    days = {
        start + timedelta(days=n): Day(start + timedelta(days=n), True, False) for n in range((end - start).days + 1)
    }
    for day in days.values():
        day.in_month = view == "week" or day.day.month == anchor.month
        day.today = day.day == today
    for entry in calendar.post_calendar(user=user, start=start, end=end, tz=tz):
        days[entry.day].entries.append(entry)
    ordered = list(days.values())
    title = f"{start:%-d %b} \u2013 {end:%-d %b %Y}" if view == "week" else f"{anchor:%B %Y}"
    return {
        "view": view,
        "view_choices": [("week", "Week"), ("month", "Month")],
        "anchor": anchor,
        "title": title,
        "weeks": [ordered[i : i + 7] for i in range(0, len(ordered), 7)],
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
        "previous": _shift(view, anchor, -1),
        "next": _shift(view, anchor, 1),
        "today": today,
        "tz_name": tz.key,
        "message": message,
        "moved": moved,
        "count": sum(len(day.entries) for day in ordered),
    }


@login_required
@require_GET
def calendar_page(request: HttpRequest) -> HttpResponse:
    user = web_user(request)
    view = _view(request.GET.get("view"))
    today = timezone.now().astimezone(calendar.user_zone(user)).date()
    context = _context(request, view=view, anchor=_anchor(request.GET.get("date"), today=today))
    if htmx_target(request) == "calendar":
        return render(request, "web/_calendar.html", context)
    return render(request, "web/calendar.html", context)


def _parse_time(raw: str) -> time | None:
    if not raw.strip():
        return None
    try:
        return time.fromisoformat(raw.strip())
    except ValueError as exc:
        raise Invalid("Pick a valid time.", code="invalid_time", fields={"time": ["Use HH:MM."]}) from exc


@login_required
@require_POST
def calendar_move(request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
    """Reschedule to another local day (keeping the time of day unless `time` is given)."""
    user = web_user(request)
    tz = calendar.user_zone(user)
    view = _view(request.POST.get("view"))
    post = post_selectors.post_get(user=user, post_id=pk)  # someone else's: 404
    try:
        day = calendar.parse_day(request.POST.get("date"), field="date")
        at = _parse_time(request.POST.get("time", ""))
        if at is None:
            current = post.scheduled_at.astimezone(tz).time() if post.scheduled_at else time(9, 0)
            at = current.replace(second=0, microsecond=0)
        when = calendar.local_moment(day, at, tz)
        post = services.post_schedule(user=user, post=post, at=when)
    except AppError as exc:
        # Said in the calendar's live region; the 4xx status stays (409 published, 400 bad date).
        response = error_fragment(request, exc)
        response["HX-Retarget"] = "#calendar-live"
        response["HX-Reswap"] = "innerHTML"
        return response
    anchor = _anchor(request.POST.get("anchor"), today=day)
    local = when.astimezone(tz)
    message = f"Moved to {local:%A %-d %B, %H:%M}."
    if not is_htmx(request):  # the "Move to…" form without JavaScript
        return redirect(f"{reverse('web:posts_calendar')}?view={view}&date={anchor.isoformat()}")
    return render(
        request, "web/_calendar.html", _context(request, view=view, anchor=anchor, message=message, moved=str(post.pk))
    )
