"""The web calendar: week and month pages in the user's zone, and moving a scheduled post."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from mindpost.posts.models import Connection, Post, PostStatus
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def scheduled(post: Post) -> datetime:
    assert post.scheduled_at is not None
    return post.scheduled_at


def _connect(user) -> None:
    Connection.objects.create(user=user, network="x", external_user_id="1", username="ada", access_token="t")


def _scheduled(user, *, days: int, hour: int = 9) -> Post:
    tz = ZoneInfo(user.timezone)
    day = timezone.now().astimezone(tz).date() + timedelta(days=days)
    at = datetime(day.year, day.month, day.day, hour, 15, tzinfo=tz)
    return PostFactory.create(user=user, status=PostStatus.SCHEDULED, scheduled_at=at, content="Harbour at dawn")


@pytest.fixture
def athens(user):
    user.timezone = "Europe/Athens"
    user.save()
    _connect(user)
    return user


def test_week_and_month_pages_show_scheduled_posts_on_their_local_day(web, athens) -> None:
    post = _scheduled(athens, days=3, hour=0)  # 00:15 Athens is the previous day in UTC
    local_day = scheduled(post).astimezone(ZoneInfo("Europe/Athens")).date()
    for view in ("week", "month"):
        page = web.get("/posts/calendar/", {"view": view, "date": local_day.isoformat()})
        assert page.status_code == 200
        html = page.content.decode()
        cell = html.split(f'data-day="{local_day.isoformat()}"', 1)[1].split("data-day=", 1)[0]
        assert str(post.pk) in cell
        assert "00:15" in cell
    partial = web.get("/posts/calendar/", {"view": "month"}, headers={"HX-Request": "true", "HX-Target": "calendar"})
    assert "<html" not in partial.content.decode()


def test_move_keeps_the_local_time_of_day(web, athens) -> None:
    post = _scheduled(athens, days=2, hour=8)
    target = scheduled(post).astimezone(ZoneInfo("Europe/Athens")).date() + timedelta(days=5)
    response = web.post(
        f"/posts/calendar/{post.pk}/move/", {"date": target.isoformat(), "view": "week"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200, response.content
    post.refresh_from_db()
    local = scheduled(post).astimezone(ZoneInfo("Europe/Athens"))
    assert (local.date(), local.hour, local.minute) == (target, 8, 15)
    assert post.status == PostStatus.SCHEDULED
    assert "Moved to" in response.content.decode()


def test_move_with_a_time_from_the_keyboard_form(web, athens) -> None:
    post = _scheduled(athens, days=2)
    target = timezone.now().astimezone(ZoneInfo("Europe/Athens")).date() + timedelta(days=4)
    response = web.post(f"/posts/calendar/{post.pk}/move/", {"date": target.isoformat(), "time": "23:30"})
    assert response.status_code == 302  # without htmx: back to the calendar
    post.refresh_from_db()
    # 23:30 in Athens (UTC+2 in winter, +3 in summer) is 20:30 or 21:30 UTC on the same day.
    assert scheduled(post).astimezone(ZoneInfo("Europe/Athens")).replace(tzinfo=None) == datetime(
        target.year, target.month, target.day, 23, 30
    )
    assert scheduled(post).astimezone(UTC).hour in (20, 21)


def test_another_users_post_is_404(web, athens, make_user) -> None:
    bob = make_user("bob@example.com", timezone="Europe/Athens")
    _connect(bob)
    theirs = _scheduled(bob, days=2)
    before = theirs.scheduled_at
    target = (timezone.now() + timedelta(days=6)).date().isoformat()
    response = web.post(f"/posts/calendar/{theirs.pk}/move/", {"date": target}, headers={"HX-Request": "true"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.scheduled_at == before


def test_published_post_cannot_move(web, athens) -> None:
    post = PostFactory.create(user=athens, status=PostStatus.PUBLISHED, published_at=timezone.now())
    target = (timezone.now() + timedelta(days=3)).date().isoformat()
    response = web.post(f"/posts/calendar/{post.pk}/move/", {"date": target}, headers={"HX-Request": "true"})
    assert response.status_code == 409
    assert 'data-code="post_read_only"' in response.content.decode()
    assert response["HX-Retarget"] == "#calendar-live"
    post.refresh_from_db()
    assert post.status == PostStatus.PUBLISHED
    assert post.scheduled_at is None


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"date": "not-a-date"}, "invalid_date"),
        ({"date": ""}, "calendar_range_required"),
        ({"time": "25:99"}, "invalid_time"),
    ],
)
def test_bad_move_input_is_400_with_a_code(web, athens, values, code) -> None:
    post = _scheduled(athens, days=2)
    data = {"date": (timezone.now() + timedelta(days=3)).date().isoformat(), **values}
    response = web.post(f"/posts/calendar/{post.pk}/move/", data, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert f'data-code="{code}"' in response.content.decode()


def test_moving_into_the_past_is_refused(web, athens) -> None:
    post = _scheduled(athens, days=2)
    yesterday = (timezone.now() - timedelta(days=1)).date().isoformat()
    response = web.post(f"/posts/calendar/{post.pk}/move/", {"date": yesterday}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert 'data-code="scheduled_at_in_past"' in response.content.decode()
