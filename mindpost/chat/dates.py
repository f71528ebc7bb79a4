"""Time words in a question ("last week", "yesterday", "in March", "on Monday") as a date range.

The range is computed in the user's own time zone (User.timezone): "yesterday" for someone in
Tokyo is not yesterday in UTC. Ranges are half-open, [since, until). Calendar words mean the
calendar unit ("last week" is Monday to Sunday of the previous week, "last month" the previous
calendar month); "past/last N days" and "past week" are rolling windows ending now. A month or a
day without a year that has not happened yet this year means last year's. English only: a
question in another language simply gets no date filter and is searched across all notes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
WEEKDAYS = {
    name: index
    for index, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}
NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "couple of": 2,
    "few": 3,
}

_MONTH = r"(?P<month>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?P<weekday>" + "|".join(WEEKDAYS) + r")"
_COUNT = r"(?P<count>\d{1,3}|" + "|".join(sorted(NUMBERS, key=len, reverse=True)) + r")"
_UNIT = r"(?P<unit>day|week|month|year)s?"
_ORD = r"(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)"


@dataclass(frozen=True)
class TimeFilter:
    since: datetime  # inclusive, timezone-aware
    until: datetime  # exclusive, timezone-aware
    phrase: str  # the words that set it, as the user wrote them

    def as_dict(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat(), "phrase": self.phrase}


@dataclass(frozen=True)
class _Ctx:
    now: datetime  # local
    today: date
    tz: tzinfo

    def at(self, day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=self.tz)

    def days(self, first: date, last: date) -> tuple[datetime, datetime]:
        """The whole days first..last (inclusive)."""
        return self.at(first), self.at(last + timedelta(days=1))


def _month_range(year: int, month: int) -> tuple[date, date]:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return first, nxt - timedelta(days=1)


def _count(raw: str) -> int:
    return int(raw) if raw.isdigit() else NUMBERS[raw]


def _past_year_for(ctx: _Ctx, month: int, day: int = 1) -> int:
    """The year of the latest (month, day) that is not in the future."""
    try:
        candidate = date(ctx.today.year, month, day)
    except ValueError:
        return ctx.today.year
    return ctx.today.year if candidate <= ctx.today else ctx.today.year - 1


def _week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


Handler = Callable[[re.Match[str], _Ctx], tuple[datetime, datetime] | None]


def _iso_day(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    try:
        day = date(int(m["y"]), int(m["m"]), int(m["d"]))
    except ValueError:
        return None
    return ctx.days(day, day)


def _day_month(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    month, day_number = MONTHS[m["month"]], int(m["day"])
    year = int(m["year"]) if m["year"] else _past_year_for(ctx, month, day_number)
    try:
        day = date(year, month, day_number)
    except ValueError:
        return None
    return ctx.days(day, day)


def _month(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    # A bare month name needs a preposition, "last/this" or a year: "may" and "march" are verbs too.
    if not (m["lead"] or m["which"] or m["year"] or m["since"] or m["frm"]):
        return None
    month = MONTHS[m["month"]]
    which = (m["which"] or "").lower()
    if m["year"]:
        year = int(m["year"])
    elif which == "last":
        # "last March": the latest March that is over.
        year = ctx.today.year if month < ctx.today.month else ctx.today.year - 1
    elif which == "this":
        year = ctx.today.year
    else:
        year = _past_year_for(ctx, month)
    first, last = _month_range(year, month)
    return ctx.days(first, last)


def _year(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    year = int(m["year"])
    return ctx.days(date(year, 1, 1), date(year, 12, 31))


def _today(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    return ctx.days(ctx.today, ctx.today)


def _day_before_yesterday(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    day = ctx.today - timedelta(days=2)
    return ctx.days(day, day)


def _yesterday(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    day = ctx.today - timedelta(days=1)
    return ctx.days(day, day)


def _last_night(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    # From yesterday evening to the small hours of today (notes spoken after midnight count).
    yesterday = ctx.today - timedelta(days=1)
    return ctx.at(yesterday) + timedelta(hours=12), ctx.at(ctx.today) + timedelta(hours=6)


def _rolling(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    n, unit = _count(m["count"]), m["unit"]
    span = {"day": timedelta(days=n), "week": timedelta(weeks=n), "month": timedelta(days=30 * n)}.get(
        unit, timedelta(days=365 * n)
    )
    if unit == "day":
        # "the last 3 days" = today and the two days before it, whole days.
        return ctx.days(ctx.today - timedelta(days=n - 1), ctx.today)
    return ctx.now - span, ctx.now + timedelta(seconds=1)


def _ago(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    n, unit = _count(m["count"]), m["unit"]
    if unit == "day":
        day = ctx.today - timedelta(days=n)
        return ctx.days(day, day)
    if unit == "week":
        start = _week_start(ctx.today - timedelta(weeks=n))
        return ctx.days(start, start + timedelta(days=6))
    if unit == "month":
        month_index = ctx.today.year * 12 + ctx.today.month - 1 - n
        first, last = _month_range(month_index // 12, month_index % 12 + 1)
        return ctx.days(first, last)
    year = ctx.today.year - n
    return ctx.days(date(year, 1, 1), date(year, 12, 31))


def _relative_unit(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    which, unit = m["which"].lower(), m["unit"].lower()
    today = ctx.today
    if which == "past":
        span = {"week": 7, "weekend": 7, "month": 30, "year": 365}[unit]
        return ctx.now - timedelta(days=span), ctx.now + timedelta(seconds=1)
    back = which in ("last", "previous")
    if unit == "week":
        start = _week_start(today) - timedelta(weeks=1 if back else 0)
        return ctx.days(start, start + timedelta(days=6))
    if unit == "weekend":
        # The latest Saturday-Sunday that has started; "last weekend" on a weekend is the one before.
        saturday = today - timedelta(days=(today.weekday() - 5) % 7)
        if back and today.weekday() >= 5:
            saturday -= timedelta(weeks=1)
        return ctx.days(saturday, saturday + timedelta(days=1))
    if unit == "month":
        index = today.year * 12 + today.month - 1 - (1 if back else 0)
        first, last = _month_range(index // 12, index % 12 + 1)
        return ctx.days(first, last)
    year = today.year - (1 if back else 0)
    return ctx.days(date(year, 1, 1), date(year, 12, 31))


def _weekday(m: re.Match[str], ctx: _Ctx) -> tuple[datetime, datetime] | None:
    target = WEEKDAYS[m["weekday"].lower()]
    back = (ctx.today.weekday() - target) % 7
    if (m["which"] or "").lower() in ("last", "previous") and back == 0:
        back = 7  # "last Monday" said on a Monday
    day = ctx.today - timedelta(days=back)
    return ctx.days(day, day)


_S = r"(?:(?P<since>since)\s+|(?P<frm>from)\s+)?"
_PATTERNS: list[tuple[re.Pattern[str], Handler]] = [
    (re.compile(_S + r"(?:on\s+)?\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b"), _iso_day),
    (
        re.compile(
            _S
            + r"(?:on\s+)?(?:the\s+)?\b(?P<day>\d{1,2})"
            + _ORD
            + r"\s+(?:of\s+)?\b"
            + _MONTH
            + r"(?:,?\s+"
            + _YEAR
            + r")?\b"
        ),
        _day_month,
    ),
    (
        re.compile(
            _S + r"(?:on\s+)?\b" + _MONTH + r"\s+(?:the\s+)?(?P<day>\d{1,2})" + _ORD + r"\b(?:,?\s+" + _YEAR + r")?"
        ),
        _day_month,
    ),
    (
        re.compile(
            _S
            + r"(?:\b(?P<lead>in|during)\s+)?(?:\b(?P<which>last|this)\s+)?\b"
            + _MONTH
            + r"(?:,?\s+"
            + _YEAR
            + r")?\b"
        ),
        _month,
    ),
    (re.compile(_S + r"\b(?:in|during)\s+" + _YEAR + r"\b"), _year),
    (re.compile(r"\bthe\s+day\s+before\s+yesterday\b"), _day_before_yesterday),
    (re.compile(_S + r"\byesterday(?:\s+(?:morning|afternoon|evening))?\b"), _yesterday),
    (re.compile(r"\blast\s+night\b"), _last_night),
    (re.compile(r"\b(?:earlier\s+)?today\b|\bthis\s+(?:morning|afternoon|evening)\b|\btonight\b"), _today),
    (
        re.compile(
            r"\b(?:in|over|during|for|within)?\s*(?:the\s+)?(?:last|past|previous)\s+" + _COUNT + r"\s+" + _UNIT + r"\b"
        ),
        _rolling,
    ),
    (re.compile(r"\b" + _COUNT + r"\s+" + _UNIT + r"\s+ago\b"), _ago),
    (
        re.compile(
            _S
            + r"\b(?:(?:in|during|over|for)\s+)?(?:the\s+)?(?P<which>last|this|past|previous)\s+"
            + r"(?P<unit>week|weekend|month|year)\b"
        ),
        _relative_unit,
    ),
    (re.compile(r"\b(?:on|over|during)\s+the\s+weekend\b"), lambda m, ctx: _weekend(ctx)),
    (re.compile(_S + r"\b(?:on\s+)?(?:(?P<which>last|this|previous)\s+)?" + _WEEKDAY + r"\b(?!s)"), _weekday),
]


def _weekend(ctx: _Ctx) -> tuple[datetime, datetime]:
    today = ctx.today
    saturday = today - timedelta(days=(today.weekday() - 5) % 7)
    return ctx.days(saturday, saturday + timedelta(days=1))


def parse_time_filter(text: str, *, now: datetime, tz: tzinfo) -> tuple[TimeFilter | None, str]:
    """The date range a question asks about, and the question with those words taken out.

    `now` is any aware datetime; the words are read in `tz`. Returns (None, text) when the
    question names no time.
    """
    lowered = text.lower()
    local_now = now.astimezone(tz)
    ctx = _Ctx(now=local_now, today=local_now.date(), tz=tz)
    for pattern, handler in _PATTERNS:
        for match in pattern.finditer(lowered):
            window = handler(match, ctx)
            if window is None:
                continue
            since, until = window
            if match.groupdict().get("since"):
                until = local_now + timedelta(seconds=1)  # "since March": up to now
            if since >= until:
                continue
            start, end = match.span()
            cleaned = re.sub(r"\s{2,}", " ", (text[:start] + " " + text[end:])).strip()
            cleaned = re.sub(r"\s+([?.!,])", r"\1", cleaned)
            return TimeFilter(since=since, until=until, phrase=text[start:end].strip()), cleaned
    return None, text
