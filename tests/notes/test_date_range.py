"""One date-range filter (mindpost.core.filters) on both endpoints that take ?since= / ?until=.

Dates are read in the user's own time zone, a date `until` includes that whole local day, an
empty range is refused, and every refusal is `invalid_filter` naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.core.errors import Invalid
from mindpost.core.filters import date_range
from mindpost.notes.models import Note

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_embedder")]

TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9, no daylight saving
DAY = date(2026, 3, 10)
ENDPOINTS = ("/api/brain-dumps/", "/api/search/")


def _ids(client: APIClient, url: str, params: dict[str, str]) -> set[str]:
    query = {"q": "ferry harbour", **params} if url == "/api/search/" else params
    response = client.get(url, query)
    assert response.status_code == 200, response.content
    return {row["note_id"] if url == "/api/search/" else row["id"] for row in response.json()["results"]}


@pytest.fixture
def tokyo_client(make_user: Callable[..., User]) -> tuple[APIClient, User]:
    user = make_user("tokyo@example.com", timezone="Asia/Tokyo")
    client = APIClient()
    client.force_authenticate(user)
    return client, user


@pytest.mark.parametrize("url", ENDPOINTS)
def test_a_date_until_includes_that_whole_local_day(
    url: str, tokyo_client: tuple[APIClient, User], note_factory: Callable[..., Note]
) -> None:
    client, user = tokyo_client
    # 23:30 in Tokyo on DAY is 14:30 UTC on DAY; 00:30 the next local day is still DAY in UTC.
    late = note_factory(user, "Took the late ferry from the harbour.", created_at=_local(DAY, 23, 30))
    next_day = note_factory(
        user, "Ferry again, the harbour at night.", created_at=_local(DAY + timedelta(days=1), 0, 30)
    )
    early = note_factory(user, "Morning ferry to the harbour.", created_at=_local(DAY, 0, 15))

    assert _ids(client, url, {"until": DAY.isoformat()}) == {str(late.pk), str(early.pk)}
    assert _ids(client, url, {"since": (DAY + timedelta(days=1)).isoformat()}) == {str(next_day.pk)}
    assert _ids(client, url, {"since": DAY.isoformat(), "until": DAY.isoformat()}) == {str(late.pk), str(early.pk)}
    # A date-time without an offset is local too; with one, it is taken as given (and exclusive).
    assert _ids(client, url, {"until": f"{DAY.isoformat()}T23:30:00"}) == {str(early.pk)}
    assert _ids(client, url, {"since": f"{DAY.isoformat()}T14:30:00Z"}) == {str(late.pk), str(next_day.pk)}


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "2026-05-02", "until": "2026-05-01"}, "since"),
        ({"since": "2026-05-01T10:00:00Z", "until": "2026-05-01T10:00:00Z"}, "since"),
        ({"since": "last tuesday"}, "since"),
        ({"until": "2026-13-45"}, "until"),
        ({"until": "2026-02-30"}, "until"),
    ],
)
def test_bad_ranges_are_the_same_400_on_both_endpoints(
    url: str, params: dict[str, str], field: str, tokyo_client: tuple[APIClient, User]
) -> None:
    client, _ = tokyo_client
    response = client.get(url, {"q": "boats", **params} if url == "/api/search/" else params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_filter"
    assert list(body["fields"]) == [field]


def test_the_filter_itself() -> None:
    empty = date_range({}, time_zone="Asia/Tokyo")
    assert (empty.since, empty.until) == (None, None)
    blank = date_range({"since": " ", "until": ""}, time_zone=None)
    assert (blank.since, blank.until) == (None, None)
    window = date_range({"since": "2026-03-10", "until": "2026-03-10"}, time_zone="Asia/Tokyo")
    assert window.since == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert window.until == datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    unknown_zone = date_range({"since": "2026-03-10"}, time_zone="Mars/Olympus")
    assert unknown_zone.since == datetime(2026, 3, 10, tzinfo=UTC)
    with pytest.raises(Invalid) as info:
        date_range({"since": "2026-03-11", "until": "2026-03-10"}, time_zone="UTC")
    assert info.value.code == "invalid_filter"
    assert info.value.fields == {"since": ["`since` must be before `until`."]}


def _local(day: date, hour: int, minute: int) -> Any:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOKYO)
