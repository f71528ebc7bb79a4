"""GET /api/posts/calendar/: scheduled and published posts by the user's local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mindpost.posts import calendar
from mindpost.posts.models import PostStatus
from tests.factories import PostFactory
from tests.posts.conftest import api_for

pytestmark = pytest.mark.django_db

URL = "/api/posts/calendar/"


def _at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_lists_scheduled_and_published_posts_by_local_day(make_user) -> None:
    athens = make_user("athens@example.com", timezone="Europe/Athens")  # UTC+2 in March
    # 22:30 UTC on the 9th is 00:30 on the 10th in Athens; 21:30 UTC on the 10th is 23:30 there.
    early = PostFactory.create(
        user=athens, status=PostStatus.SCHEDULED, scheduled_at=_at(2030, 3, 9, 22, 30), content="Just after midnight"
    )
    late = PostFactory.create(
        user=athens, status=PostStatus.PUBLISHED, published_at=_at(2030, 3, 10, 21, 30), content="Late one"
    )
    # 22:30 UTC on the 10th is already the 11th in Athens: outside a one-day range.
    PostFactory.create(user=athens, status=PostStatus.SCHEDULED, scheduled_at=_at(2030, 3, 10, 22, 30))
    # 21:59 UTC on the 9th is 23:59 on the 9th in Athens: outside too.
    PostFactory.create(user=athens, status=PostStatus.SCHEDULED, scheduled_at=_at(2030, 3, 9, 21, 59))
    PostFactory.create(user=athens, status=PostStatus.DRAFT)  # drafts have no date

    response = api_for(athens).get(URL, {"start": "2030-03-10", "end": "2030-03-10"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["time_zone"] == "Europe/Athens"
    assert [post["id"] for post in body["posts"]] == [str(early.pk), str(late.pk)]
    assert [post["date"] for post in body["posts"]] == ["2030-03-10", "2030-03-10"]
    assert body["posts"][0]["movable"] is True
    assert body["posts"][1]["movable"] is False  # published: history
    assert body["posts"][0]["excerpt"] == "Just after midnight"


def test_the_same_instant_is_on_another_day_in_another_zone(make_user) -> None:
    tokyo = make_user("tokyo@example.com", timezone="Asia/Tokyo")  # UTC+9
    post = PostFactory.create(user=tokyo, status=PostStatus.SCHEDULED, scheduled_at=_at(2030, 3, 9, 16, 0))
    response = api_for(tokyo).get(URL, {"start": "2030-03-10", "end": "2030-03-10"})
    assert [p["id"] for p in response.json()["posts"]] == [str(post.pk)]
    assert api_for(tokyo).get(URL, {"start": "2030-03-09", "end": "2030-03-09"}).json()["posts"] == []


def test_dst_day_is_23_hours_long(make_user) -> None:
    """Europe/Athens springs forward on 2030-03-31 (03:00 → 04:00): the day is 21:00 UTC on the
    30th to 21:00 UTC on the 31st (23 hours), not 24 hours from midnight UTC+2."""
    athens = make_user("dst@example.com", timezone="Europe/Athens")
    last = PostFactory.create(user=athens, status=PostStatus.SCHEDULED, scheduled_at=_at(2030, 3, 31, 20, 59))
    next_day = PostFactory.create(user=athens, status=PostStatus.SCHEDULED, scheduled_at=_at(2030, 3, 31, 21, 0))
    ids = [p["id"] for p in api_for(athens).get(URL, {"start": "2030-03-31", "end": "2030-03-31"}).json()["posts"]]
    assert ids == [str(last.pk)]
    ids = [p["id"] for p in api_for(athens).get(URL, {"start": "2030-04-01", "end": "2030-04-01"}).json()["posts"]]
    assert ids == [str(next_day.pk)]


def test_another_users_posts_are_never_listed(make_user) -> None:
    ada, bob = make_user("ada2@example.com"), make_user("bob@example.com")
    PostFactory.create(user=bob, status=PostStatus.SCHEDULED, scheduled_at=_at(2030, 5, 5, 9, 0))
    PostFactory.create(user=bob, status=PostStatus.PUBLISHED, published_at=_at(2030, 5, 5, 10, 0))
    mine = PostFactory.create(user=ada, status=PostStatus.SCHEDULED, scheduled_at=_at(2030, 5, 5, 11, 0))
    body = api_for(ada).get(URL, {"start": "2030-05-01", "end": "2030-05-31"}).json()
    assert [p["id"] for p in body["posts"]] == [str(mine.pk)]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "calendar_range_required"),
        ({"start": "2030-01-01"}, "calendar_range_required"),
        ({"start": "2030-13-01", "end": "2030-01-02"}, "invalid_date"),
        ({"start": "yesterday", "end": "2030-01-02"}, "invalid_date"),
        ({"start": "2030-01-10", "end": "2030-01-09"}, "calendar_range_invalid"),
        ({"start": "2030-01-01", "end": "2030-03-04"}, "calendar_range_too_long"),  # 63 days
    ],
)
def test_bad_ranges_are_400_with_a_code(user, params, code) -> None:
    response = api_for(user).get(URL, params)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


def test_62_days_is_allowed_and_anonymous_is_refused(user, api) -> None:
    assert api_for(user).get(URL, {"start": "2030-01-01", "end": "2030-03-03"}).status_code == 200
    assert api.get(URL, {"start": "2030-01-01", "end": "2030-01-02"}).status_code == 401


def test_local_moment_keeps_the_wall_clock_across_dst() -> None:
    tz = calendar.user_zone(type("U", (), {"timezone": "Europe/Athens"})())
    before = calendar.local_moment(date(2030, 3, 30), datetime(2000, 1, 1, 9, 0).time(), tz)
    after = calendar.local_moment(date(2030, 3, 31) + timedelta(days=1), before.timetz(), tz)
    assert before.astimezone(UTC).hour == 7  # UTC+2
    assert after.astimezone(UTC).hour == 6  # UTC+3 after the change
