"""With real commits and several database connections: a refresh raced by two workers,
and a scheduled post published by a real Procrastinate worker."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from mindpost.core.jobs import app
from mindpost.posts import connections
from mindpost.posts.models import Connection, Post
from tests.posts.conftest import api_for, connect_x

pytestmark = pytest.mark.django_db(transaction=True)


def run_worker() -> None:
    """A real worker (its own async connection to the test database) until the queue is empty."""
    with app.replace_connector(app.connector.get_worker_connector()):  # type: ignore[attr-defined]
        app.run_worker(queues=["posts"], wait=False, install_signal_handlers=False, listen_notify=False)


def test_two_workers_refreshing_at_once_spend_the_refresh_token_once(user, fake_x, x_user) -> None:
    connection = connect_x(user, fake_x)
    first_refresh = connection.refresh_token
    Connection.objects.filter(pk=connection.pk).update(access_expires_at=timezone.now() - timedelta(seconds=1))
    # X takes a moment to answer, so both workers are inside the refresh at the same time.
    fake_x.refresh_delay = 0.5
    barrier = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            _, token = connections.access_token(connection_id=connection.pk)
            results.append(token)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(results) == 2
    assert results[0] == results[1]  # the second worker used the token the first one got
    refreshes = [r for r in fake_x.calls("POST", "/2/oauth2/token") if b"grant_type=refresh_token" in r.body]
    assert len(refreshes) == 1
    connection.refresh_from_db()
    assert connection.needs_reauth is False
    assert connection.access_token == results[0]
    assert connection.refresh_token != first_refresh
    assert fake_x.refresh_tokens[connection.refresh_token]["active"] is True


def test_without_the_lock_the_race_would_burn_the_connection(user, fake_x, x_user) -> None:
    """The fake really rotates: spending one refresh token twice fails the second time."""
    connection = connect_x(user, fake_x)
    from mindpost.posts.networks.base import AuthRevoked
    from mindpost.posts.networks.x import NETWORK

    NETWORK.refresh(refresh_token=connection.refresh_token)
    with pytest.raises(AuthRevoked):
        NETWORK.refresh(refresh_token=connection.refresh_token)


def test_scheduled_post_is_published_by_the_worker(user, fake_x, x_user) -> None:
    connect_x(user, fake_x)
    client = api_for(user)
    when = (timezone.now() + timedelta(hours=1)).isoformat()
    post_id = client.post("/api/posts/", {"content": "Scheduled hello", "scheduled_at": when}).json()["id"]
    # Rescheduling leaves the first job in the queue; it must not publish a second time.
    later = (timezone.now() + timedelta(hours=2)).isoformat()
    client.patch(f"/api/posts/{post_id}/", {"scheduled_at": later, "content": "Scheduled hello, edited"})
    # (Procrastinate's tables are not flushed between tests: look at this post's jobs only.)
    jobs = ProcrastinateJob.objects.filter(task_name="posts.publish", args__post_id=post_id)
    assert jobs.count() == 2

    run_worker()  # nothing is due yet
    assert fake_x.tweets_of(x_user.id) == []
    assert Post.objects.get(pk=post_id).status == "scheduled"

    # The clock reaches the scheduled time (both jobs become due).
    jobs.update(scheduled_at=timezone.now() - timedelta(seconds=1))
    run_worker()

    post = Post.objects.get(pk=post_id)
    tweets = fake_x.tweets_of(x_user.id)
    assert [t.text for t in tweets] == ["Scheduled hello, edited"]
    assert post.status == "published"
    assert post.post_id == tweets[0].id
    assert set(jobs.values_list("status", flat=True)) == {"succeeded"}


def test_rate_limited_publish_is_retried_by_the_worker(user, fake_x, x_user) -> None:
    connect_x(user, fake_x)
    fake_x.rate_limit_next("POST", "/2/tweets", reset_in=600)
    client = api_for(user)
    post_id = client.post("/api/posts/", {"content": "Later, please"}).json()["id"]
    assert client.post(f"/api/posts/{post_id}/publish/").status_code == 202
    job = ProcrastinateJob.objects.get(task_name="posts.publish", args__post_id=post_id)
    assert job.scheduled_at is not None
    assert job.scheduled_at > timezone.now() + timedelta(minutes=5)
    ProcrastinateJob.objects.filter(pk=job.pk).update(scheduled_at=timezone.now())
    run_worker()
    assert Post.objects.get(pk=post_id).status == "published"
    assert len(fake_x.tweets_of(x_user.id)) == 1
