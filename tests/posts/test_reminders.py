"""Reminders (posts/reminders.py): scheduling with nothing connected becomes a reminder; at the
time the job emails the text, the open-in links and the post's link (and messages a linked
Telegram chat), exactly once; cancelled by unscheduling or publishing; per-user isolation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from mindpost.channels import base as channel_base
from mindpost.channels.models import ChannelLink
from mindpost.posts import reminders
from mindpost.posts.models import Post, Reminder
from tests.fakes.telegram_server import FakeTelegram
from tests.posts.conftest import api_for, connect_x

pytestmark = pytest.mark.django_db


def later() -> str:
    return (timezone.now() + timedelta(hours=3)).isoformat()


def run_reminder_job(post_id: str) -> None:
    """What the worker does with the newest reminder job of this post."""
    reminder = Reminder.objects.get(post_id=post_id)
    job = (
        ProcrastinateJob.objects.filter(task_name="posts.send_reminder", args__reminder_id=str(reminder.pk))
        .order_by("-id")
        .first()
    )
    assert job is not None
    reminders.run_job(reminder_id=job.args["reminder_id"], token=job.args["token"])


@pytest.fixture
def tg(settings: Any) -> Iterator[FakeTelegram]:
    fake = FakeTelegram().start()
    settings.TELEGRAM_BOT_TOKEN = fake.token
    settings.TELEGRAM_BOT_USERNAME = "MindPostTestBot"
    settings.TELEGRAM_WEBHOOK_SECRET = "tg-secret"
    settings.TELEGRAM_API_URL = fake.base_url
    yield fake
    fake.stop()


def test_scheduling_with_nothing_connected_sends_a_reminder_once(
    user, make_user, media, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    other = make_user()
    client = api_for(user)
    text = "Stavros fixed the nets in Nafplio & we sailed at dawn"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/posts/", {"content": text, "scheduled_at": later()}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["reminder"]["status"] == "queued"
    assert "Reminder scheduled" in body["detail"]
    job = ProcrastinateJob.objects.get(task_name="posts.send_reminder")
    assert job.scheduled_at is not None
    assert job.scheduled_at > timezone.now()
    assert not ProcrastinateJob.objects.filter(task_name="posts.publish").exists()
    assert mailoutbox == []  # not before the time

    run_reminder_job(body["id"])
    run_reminder_job(body["id"])  # a duplicate run of the job sends nothing more
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == [user.email]
    assert other.email not in mail.to
    assert text in mail.body
    assert "https://x.com/intent/post?text=Stavros" in mail.body
    assert "https://bsky.app/intent/compose?text=" in mail.body
    assert f"/posts/{body['id']}/" in mail.body
    after = client.get(f"/api/posts/{body['id']}/").json()
    assert after["reminder"]["status"] == "sent"
    assert after["reminder"]["email_sent"] is True
    assert after["status"] == "draft"  # now the person's to publish


def test_a_linked_telegram_chat_gets_the_reminder_too(
    user, media, mailoutbox, tg, django_capture_on_commit_callbacks
) -> None:
    ChannelLink.objects.create(
        user=user, channel="telegram", address="4242", address_hash=channel_base.lookup_hash("address", "4242")
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_id = api_for(user).post("/api/posts/", {"content": "Boats", "scheduled_at": later()}).json()["id"]
    run_reminder_job(post_id)
    assert len(mailoutbox) == 1
    assert [(str(m["chat_id"]), "Boats" in m["text"]) for m in tg.sent] == [("4242", True)]
    assert Reminder.objects.get(post_id=post_id).channels_sent == ["telegram"]


def test_reminder_by_choice_with_a_connected_network(
    user, fake_x, x_user, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    connect_x(user, fake_x)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_for(user).post(
            "/api/posts/", {"content": "by hand", "scheduled_at": later(), "reminder": True}, format="json"
        )
    assert response.json()["reminder"]["status"] == "queued"
    assert not ProcrastinateJob.objects.filter(task_name="posts.publish").exists()
    run_reminder_job(response.json()["id"])
    assert len(mailoutbox) == 1
    assert fake_x.calls("POST", "/2/tweets") == []


def test_unscheduling_cancels_the_reminder(user, media, mailoutbox, django_capture_on_commit_callbacks) -> None:
    client = api_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        post_id = client.post("/api/posts/", {"content": "never mind", "scheduled_at": later()}).json()["id"]
    assert client.patch(f"/api/posts/{post_id}/", {"status": "draft"}, format="json").json()["reminder"] is None
    run_reminder_job(post_id)
    assert mailoutbox == []
    assert Post.objects.get(pk=post_id).status == "draft"


def test_another_users_reminder_post_is_not_found(user, make_user, media, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        post_id = api_for(user).post("/api/posts/", {"content": "mine", "scheduled_at": later()}).json()["id"]
    other = api_for(make_user())
    assert other.get(f"/api/posts/{post_id}/").status_code == 404
    assert other.patch(f"/api/posts/{post_id}/", {"status": "draft"}, format="json").status_code == 404
    assert Reminder.objects.get(post_id=post_id).status == "queued"


def test_a_reminder_stays_one_when_moved_and_publishing_first_cancels_it(
    user, fake_x, x_user, mailoutbox, django_capture_on_commit_callbacks
) -> None:
    client = api_for(user)
    with django_capture_on_commit_callbacks(execute=True):
        post_id = client.post("/api/posts/", {"content": "moved", "scheduled_at": later()}).json()["id"]
    connect_x(user, fake_x)
    moved = (timezone.now() + timedelta(hours=5)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        body = client.patch(f"/api/posts/{post_id}/", {"scheduled_at": moved}, format="json").json()
    assert body["reminder"]["status"] == "queued"
    assert not ProcrastinateJob.objects.filter(task_name="posts.publish").exists()
    published = client.post(f"/api/posts/{post_id}/publish/")  # published by hand before the time
    assert published.status_code == 200
    assert published.json()["reminder"] is None
    run_reminder_job(post_id)
    assert mailoutbox == []
    assert len(fake_x.tweets_of(x_user.id)) == 1
