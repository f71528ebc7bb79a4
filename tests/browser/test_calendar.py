"""The posts calendar (issue 13, part 5): a week and a month of scheduled and published posts in
the user's zone; a scheduled post is dragged to another day (HTML5 drag and drop), another is
moved with the keyboard ("Move to…"), and a published post can't be dragged. Screenshots:
docs/screenshots/calendar.png (1366 wide) and calendar-phone.png (390 wide)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from mindpost.posts.models import Connection, Post, PostStatus
from tests.browser.conftest import SCREENSHOTS, _shrink_png, assert_axe_clean, assert_fits_phone
from tests.factories import PostFactory

ATHENS = ZoneInfo("Europe/Athens")


def shoot(tab: Any, name: str, *, width: int) -> None:
    page = tab.page
    page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
    page.wait_for_timeout(200)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    _shrink_png(path)


def _local(post: Post) -> datetime:
    post.refresh_from_db()
    assert post.scheduled_at is not None
    return post.scheduled_at.astimezone(ATHENS)


def test_drag_and_keyboard_move_scheduled_posts(alice: Any) -> None:
    page, user = alice.page, alice.user
    user.timezone = "Europe/Athens"
    user.save()
    Connection.objects.create(user=user, network="x", external_user_id="1", username="ada_l", access_token="t")
    # A week two weeks ahead, so that every day in it is in the future whatever today is.
    monday = timezone.now().astimezone(ATHENS).date() + timedelta(days=14)
    monday -= timedelta(days=monday.weekday())

    def at(days: int, hour: int, minute: int) -> datetime:
        day = monday + timedelta(days=days)
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ATHENS)

    dragged = PostFactory.create(
        user=user,
        status=PostStatus.SCHEDULED,
        scheduled_at=at(1, 9, 30),
        content="Harbour walk at dawn, photos inside.",
    )
    keyed = PostFactory.create(
        user=user, status=PostStatus.SCHEDULED, scheduled_at=at(3, 18, 0), content="Tomato and basil pasta recipe."
    )
    # 00:10 in Athens is the previous day in UTC: shown on its Athens day.
    PostFactory.create(
        user=user, status=PostStatus.SCHEDULED, scheduled_at=at(2, 0, 10), content="Midnight thoughts on lighthouses."
    )
    # Published posts are shown but fixed (dated in this week only for the picture).
    published = PostFactory.create(
        user=user, status=PostStatus.PUBLISHED, published_at=at(0, 12, 0), content="Lighthouse budget: the numbers."
    )

    alice.goto(f"/posts/calendar/?view=week&date={monday.isoformat()}")
    day = lambda n: f'[data-day="{(monday + timedelta(days=n)).isoformat()}"]'  # noqa: E731
    assert page.locator(f"{day(2)} [data-post] .cal-time").inner_text() == "00:10"
    assert page.locator(f'[data-post="{published.pk}"]').get_attribute("draggable") is None

    # Drag: Tuesday 09:30 → Friday, same time of day.
    page.drag_and_drop(f'[data-post="{dragged.pk}"]', day(4))
    alice.wait_until(f"() => !!document.querySelector('{day(4)} [data-post=\"{dragged.pk}\"]')")
    assert "Moved to" in page.locator("#calendar-live").inner_text()
    local = _local(dragged)
    assert (local.date(), local.hour, local.minute) == (monday + timedelta(days=4), 9, 30)

    # Keyboard: open "Move to…", pick Saturday 07:45, submit with Enter.
    summary = page.locator(f'[data-post="{keyed.pk}"] summary')
    summary.focus()
    page.keyboard.press("Enter")
    saturday = (monday + timedelta(days=5)).isoformat()
    page.locator(f"#move-date-{keyed.pk}").fill(saturday)
    page.locator(f"#move-time-{keyed.pk}").fill("07:45")
    page.locator(f"#move-time-{keyed.pk}").press("Enter")
    alice.wait_until(f"() => !!document.querySelector('{day(5)} [data-post=\"{keyed.pk}\"]')")
    local = _local(keyed)
    assert (local.date().isoformat(), local.hour, local.minute) == (saturday, 7, 45)
    # The keyboard stays on the moved post.
    focused = page.evaluate("() => document.activeElement.closest('[data-post]')?.dataset.post")
    assert focused == str(keyed.pk)

    # Month view, by HTMX navigation.
    page.get_by_role("link", name="Month").click()
    alice.wait_until("() => document.querySelector('.cal')?.dataset.view === 'month'")
    assert "view=month" in page.url
    assert page.locator(f'[data-post="{keyed.pk}"]').count() == 1
    page.get_by_role("link", name="Week").click()
    alice.wait_until("() => document.querySelector('.cal')?.dataset.view === 'week'")

    assert_axe_clean(alice, "calendar")
    shoot(alice, "calendar.png", width=1366)
    shoot(alice, "calendar-phone.png", width=390)
    assert_fits_phone(alice)
    alice.assert_clean()


def test_a_failed_move_is_said_in_the_live_region(alice: Any) -> None:
    page, user = alice.page, alice.user
    user.timezone = "Europe/Athens"
    user.save()
    Connection.objects.create(user=user, network="x", external_user_id="1", username="ada_l", access_token="t")
    tomorrow = timezone.now().astimezone(ATHENS).date() + timedelta(days=1)
    post = PostFactory.create(
        user=user,
        status=PostStatus.SCHEDULED,
        scheduled_at=datetime(tomorrow.year, tomorrow.month, tomorrow.day, 10, 0, tzinfo=ATHENS),
    )
    alice.goto(f"/posts/calendar/?view=month&date={tomorrow.isoformat()}")
    page.locator(f'[data-post="{post.pk}"] summary').click()
    yesterday = (tomorrow - timedelta(days=2)).isoformat()
    page.locator(f"#move-date-{post.pk}").fill(yesterday)
    page.get_by_role("button", name="Move").click()
    alice.wait_until("() => document.querySelector('#calendar-live')?.textContent.includes('future')")
    assert _local(post).date() == tomorrow
