"""Reads for the posts calendar: scheduled and published posts by day, in the user's time zone.

A day is the user's local day (midnight to midnight in their profile's zone), so a post at
23:30 in Athens is on that Athens day even though it is 21:30 UTC, and a range's bounds are
local midnights turned into UTC instants (DST-aware through zoneinfo).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from mindpost.accounts.models import User
from mindpost.core.errors import Invalid
from mindpost.posts.models import Post, PostStatus

# Two months and a bit: a month view with its leading and trailing weeks is at most 42 days.
MAX_RANGE_DAYS = 62
# On their way out: shown where they were scheduled, like the scheduled ones.
SCHEDULED_STATUSES = (PostStatus.SCHEDULED, PostStatus.PUBLISHING)


@dataclass(frozen=True, kw_only=True)
class CalendarEntry:
    post: Post
    at: datetime  # when it publishes (scheduled) or did (published), aware
    local: datetime  # `at` in the user's zone

    @property
    def day(self) -> date:
        return self.local.date()

    @property
    def draggable(self) -> bool:
        """Only a scheduled post can move; a published one is history."""
        return self.post.status == PostStatus.SCHEDULED


def user_zone(user: User) -> ZoneInfo:
    """The profile's time zone, UTC when unset or unknown."""
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def parse_day(raw: str | None, *, field: str) -> date:
    if not raw or not raw.strip():
        raise Invalid(
            f"Give {field} as a date (YYYY-MM-DD).",
            code="calendar_range_required",
            fields={field: ["This field is required."]},
        )
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise Invalid(
            f"{field} is not a date (YYYY-MM-DD).", code="invalid_date", fields={field: ["Use YYYY-MM-DD."]}
        ) from exc


def check_range(*, start: date, end: date) -> None:
    """`start` and `end` are both included; at most MAX_RANGE_DAYS days."""
    if end < start:
        raise Invalid(
            "The range ends before it starts.", code="calendar_range_invalid", fields={"end": ["Must be >= start."]}
        )
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise Invalid(
            f"Ask for at most {MAX_RANGE_DAYS} days at a time.",
            code="calendar_range_too_long",
            fields={"end": [f"At most {MAX_RANGE_DAYS} days after start."]},
        )


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at wall-clock `at` in `tz`, as an aware datetime (the earlier one in a DST fold)."""
    return datetime.combine(day, at.replace(tzinfo=None, fold=0), tzinfo=tz)


def post_calendar(*, user: User, start: date, end: date, tz: ZoneInfo) -> list[CalendarEntry]:
    """The user's scheduled and published posts from local `start` to local `end` (both days
    included), oldest first. Nobody else's posts: the filter is on the user."""
    check_range(start=start, end=end)
    low, high = local_midnight(start, tz), local_midnight(end + timedelta(days=1), tz)
    scheduled = Q(status__in=SCHEDULED_STATUSES, scheduled_at__gte=low, scheduled_at__lt=high)
    published = Q(status=PostStatus.PUBLISHED, published_at__gte=low, published_at__lt=high)
    entries = []
    for post in Post.objects.filter(Q(user=user) & (scheduled | published)):
        at = post.published_at if post.status == PostStatus.PUBLISHED else post.scheduled_at
        assert at is not None  # the filter matched on it
        entries.append(CalendarEntry(post=post, at=at, local=at.astimezone(tz)))
    entries.sort(key=lambda entry: (entry.at, str(entry.post.pk)))
    return entries


def excerpt(post: Post, *, chars: int = 90) -> str:
    text = " ".join(post.content.split())
    return text if len(text) <= chars else text[: chars - 1].rstrip() + "…"
