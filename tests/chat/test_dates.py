from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mindpost.chat.dates import parse_time_filter
from mindpost.core.filters import user_zone

# Wednesday 2026-11-18, 10:30 in Berlin (09:30 UTC).
NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
BERLIN = user_zone("Europe/Berlin")


def window(text: str, *, now: datetime = NOW, tz: str = "Europe/Berlin") -> tuple[date, date, str] | None:
    found, cleaned = parse_time_filter(text, now=now, tz=user_zone(tz))
    if found is None:
        assert cleaned == text
        return None
    # Report whole local days [first, last] for readability.
    first = found.since.astimezone(user_zone(tz)).date()
    last = (found.until - timedelta(microseconds=1)).astimezone(user_zone(tz)).date()
    return first, last, cleaned


@pytest.mark.parametrize(
    ("text", "first", "last", "cleaned"),
    [
        ("what did I say yesterday about running?", "2026-11-17", "2026-11-17", "what did I say about running?"),
        ("what did I say last week about running?", "2026-11-09", "2026-11-15", "what did I say about running?"),
        ("notes from this week", "2026-11-16", "2026-11-22", "notes"),
        ("what happened in March?", "2026-03-01", "2026-03-31", "what happened?"),
        ("what happened in December?", "2025-12-01", "2025-12-31", "what happened?"),
        ("ideas from March 2025", "2025-03-01", "2025-03-31", "ideas"),
        ("what did I record on Monday", "2026-11-16", "2026-11-16", "what did I record"),
        ("what did I record last Wednesday", "2026-11-11", "2026-11-11", "what did I record"),
        ("on Wednesday I went running", "2026-11-18", "2026-11-18", "I went running"),
        ("today", "2026-11-18", "2026-11-18", ""),
        ("what did I say this morning", "2026-11-18", "2026-11-18", "what did I say"),
        ("the day before yesterday", "2026-11-16", "2026-11-16", ""),
        ("last month's budget", "2026-10-01", "2026-10-31", "'s budget"),
        ("in the last 3 days", "2026-11-16", "2026-11-18", ""),
        ("two weeks ago", "2026-11-02", "2026-11-08", ""),
        ("3 days ago", "2026-11-15", "2026-11-15", ""),
        ("a month ago", "2026-10-01", "2026-10-31", ""),
        ("on 2026-02-03 what did I plan", "2026-02-03", "2026-02-03", "what did I plan"),
        ("on the 3rd of March", "2026-03-03", "2026-03-03", ""),
        ("on March 3rd, 2024", "2024-03-03", "2024-03-03", ""),
        ("dinner on Dec 24", "2025-12-24", "2025-12-24", "dinner"),
        ("in 2025", "2025-01-01", "2025-12-31", ""),
        ("last year", "2025-01-01", "2025-12-31", ""),
        ("since March", "2026-03-01", "2026-11-18", ""),
        ("last weekend", "2026-11-14", "2026-11-15", ""),
        ("last March", "2026-03-01", "2026-03-31", ""),
    ],
)
def test_time_words_become_local_day_ranges(text: str, first: str, last: str, cleaned: str) -> None:
    assert window(text) == (date.fromisoformat(first), date.fromisoformat(last), cleaned)


@pytest.mark.parametrize(
    "text",
    [
        "remind me about the person I met in Greece",
        "I may go running",  # "may" the verb
        "the march for climate",
        "what did Jan say",
        "do I run on Mondays",  # recurring, not a date
        "policy number 4471-2020",
        "Was habe ich letzte Woche gesagt?",  # other languages: no filter rather than a wrong one
    ],
)
def test_text_without_time_words_has_no_filter(text: str) -> None:
    assert window(text) is None


def test_yesterday_is_the_users_yesterday_not_utc() -> None:
    # 23:30 UTC on the 18th is already the 19th in Tokyo: "yesterday" there is the 18th.
    late = datetime(2026, 11, 18, 23, 30, tzinfo=UTC)
    assert window("yesterday", now=late, tz="Asia/Tokyo")[:2] == (date(2026, 11, 18), date(2026, 11, 18))  # type: ignore[index]
    assert window("yesterday", now=late, tz="America/New_York")[:2] == (date(2026, 11, 17), date(2026, 11, 17))  # type: ignore[index]
    found, _ = parse_time_filter("yesterday", now=late, tz=user_zone("Asia/Tokyo"))
    assert found is not None
    assert found.since == datetime(2026, 11, 18, 0, 0, tzinfo=user_zone("Asia/Tokyo"))
    assert found.since.utcoffset() == timedelta(hours=9)


def test_unknown_time_zone_falls_back_to_utc() -> None:
    assert str(user_zone("Mars/Olympus")) == "UTC"
    assert str(user_zone("")) == "UTC"


def test_rolling_windows_end_now() -> None:
    found, _ = parse_time_filter("over the past week", now=NOW, tz=BERLIN)
    assert found is not None
    assert found.until > NOW
    assert NOW - found.since == timedelta(days=7)
