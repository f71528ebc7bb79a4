"""Publishing to the fake X: success, threads with images, 429/5xx retries, timeouts and
crashes after X accepted the post (never a duplicate), revoked tokens, quotas."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from mindpost.billing.models import UsageCounter
from mindpost.posts import connections, publishing
from mindpost.posts.models import AttemptOutcome, Connection, Post, PublishAttempt
from tests.billing.conftest import make_subscription
from tests.posts.conftest import api_for, connect_x, image_bytes, upload

pytestmark = pytest.mark.django_db


def publishes_used(user) -> int:
    counter = UsageCounter.objects.filter(user=user, metric="publishes").first()
    return counter.used if counter else 0


def run_queued_job(post: Post) -> None:
    """What the worker does with the newest queued job for this post."""
    job = ProcrastinateJob.objects.filter(task_name="posts.publish", args__post_id=str(post.pk)).order_by("-id").first()
    assert job is not None
    publishing.run_job(post_id=job.args["post_id"], token=job.args["token"])


@pytest.fixture
def connected(user, fake_x, x_user):
    connect_x(user, fake_x)
    return api_for(user)


def test_create_with_status_posted_publishes_and_says_so(user, connected, fake_x, x_user) -> None:
    response = connected.post("/api/posts/", {"content": "Fresh from the harbour & the sea", "status": "posted"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "published"
    assert body["detail"] == "Successfully published to Twitter."
    tweets = fake_x.tweets_of(x_user.id)
    assert len(tweets) == 1
    assert body["post_id"] == tweets[0].id
    assert body["post_url"] == f"https://x.com/ada_l/status/{tweets[0].id}"
    assert tweets[0].text == "Fresh from the harbour & the sea"
    assert publishes_used(user) == 1
    post = Post.objects.get(pk=body["id"])
    assert post.published_at is not None
    assert list(post.attempts.values_list("outcome", flat=True)) == [AttemptOutcome.SUCCEEDED]


def test_published_post_is_read_only(user, connected, fake_x, x_user) -> None:
    post_id = connected.post("/api/posts/", {"content": "one"}).json()["id"]
    assert connected.post(f"/api/posts/{post_id}/publish/").status_code == 200
    for method, payload in (("patch", {"content": "changed"}), ("put", {"content": "changed"})):
        response = getattr(connected, method)(f"/api/posts/{post_id}/", payload, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "post_read_only"
    image = connected.patch(
        f"/api/posts/{post_id}/", {"media_files": [upload("a.png", image_bytes())]}, format="multipart"
    )
    assert image.status_code == 409
    again = connected.post(f"/api/posts/{post_id}/publish/")
    assert again.status_code == 409
    assert again.json()["code"] == "already_published"
    assert Post.objects.get(pk=post_id).content == "one"
    assert len(fake_x.tweets_of(x_user.id)) == 1


def test_thread_with_images_replies_in_order(user, connected, fake_x, x_user) -> None:
    parts = ["1/3 The harbour at dawn.", "2/3 Stavros fixed the nets.", "3/3 Back home by noon."]
    png, gif = image_bytes("PNG"), image_bytes("GIF", color="green")
    files = [upload("a.png", png), upload("b.gif", gif, "image/gif")]
    created = connected.post(
        "/api/posts/", {"parts": parts, "format": "thread", "media_files": files}, format="multipart"
    )
    assert created.status_code == 201, created.content
    response = connected.post(f"/api/posts/{created.json()['id']}/publish/")
    assert response.status_code == 200, response.content

    tweets = fake_x.tweets_of(x_user.id)
    assert [t.text for t in tweets] == parts
    assert tweets[0].reply_to is None
    assert tweets[1].reply_to == tweets[0].id
    assert tweets[2].reply_to == tweets[1].id
    # Both images went with the first post: the PNG in one request, the GIF in chunks.
    assert len(tweets[0].media_ids) == 2
    assert tweets[1].media_ids == [] == tweets[2].media_ids
    assert fake_x.media[tweets[0].media_ids[0]]["content"] == png
    assert fake_x.media[tweets[0].media_ids[1]]["content"] == gif
    one_shot = fake_x.calls("POST", "/2/media/upload")[0].json()
    assert base64.b64decode(one_shot["media"]) == png
    assert fake_x.calls("POST", r"/2/media/upload/\d+/append")
    assert fake_x.calls("GET", "/2/media/upload")  # waited for GIF processing
    post = Post.objects.get(pk=created.json()["id"])
    assert post.external_ids == [t.id for t in tweets]
    assert post.post_id == tweets[0].id


def test_rate_limit_waits_for_the_reset_then_publishes(
    user, connected, fake_x, x_user, django_capture_on_commit_callbacks
) -> None:
    reset = fake_x.rate_limit_next("POST", "/2/tweets", reset_in=900)
    post_id = connected.post("/api/posts/", {"content": "patience"}).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = connected.post(f"/api/posts/{post_id}/publish/")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "publishing"
    assert body["failure_code"] == "rate_limited"
    expected = datetime.fromtimestamp(reset, tz=UTC)
    assert datetime.fromisoformat(body["next_retry_at"]) == expected
    job = ProcrastinateJob.objects.get(task_name="posts.publish", args__post_id=post_id)
    assert job.scheduled_at == expected
    assert fake_x.tweets_of(x_user.id) == []

    run_queued_job(Post.objects.get(pk=post_id))
    post = Post.objects.get(pk=post_id)
    assert post.status == "published"
    assert len(fake_x.tweets_of(x_user.id)) == 1
    assert publishes_used(user) == 1


def test_server_error_is_retried_once_x_is_back(
    user, connected, fake_x, x_user, django_capture_on_commit_callbacks
) -> None:
    fake_x.fail_next("POST", "/2/tweets", status=503)
    post_id = connected.post("/api/posts/", {"content": "try again"}).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert connected.post(f"/api/posts/{post_id}/publish/").status_code == 202
    run_queued_job(Post.objects.get(pk=post_id))
    assert Post.objects.get(pk=post_id).status == "published"
    assert len(fake_x.tweets_of(x_user.id)) == 1
    # Before posting again it looked at the timeline, because a 503 may hide an accepted post.
    assert fake_x.calls("GET", rf"/2/users/{x_user.id}/tweets")


def test_timeout_after_x_accepted_does_not_duplicate(
    user, connected, fake_x, x_user, settings, django_capture_on_commit_callbacks
) -> None:
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 0.5
    fake_x.accept_then_hang("POST", "/2/tweets", delay=1.5)
    text = "Visiting https://example.org/nafplio with Stavros & friends"
    post_id = connected.post("/api/posts/", {"content": text}).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = connected.post(f"/api/posts/{post_id}/publish/")
    assert response.status_code == 202
    assert response.json()["failure_code"] == "outcome_unknown"
    assert len(fake_x.tweets_of(x_user.id)) == 1  # X did post it

    run_queued_job(Post.objects.get(pk=post_id))
    post = Post.objects.get(pk=post_id)
    tweets = fake_x.tweets_of(x_user.id)
    assert len(tweets) == 1
    assert post.status == "published"
    assert post.post_id == tweets[0].id
    outcomes = list(PublishAttempt.objects.filter(post=post).values_list("outcome", flat=True))
    assert outcomes == [AttemptOutcome.FOUND]


def test_crash_after_x_accepted_does_not_duplicate(
    user, connected, fake_x, x_user, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    post_id = connected.post("/api/posts/", {"content": "survive the crash"}).json()["id"]
    real_record = publishing._record_part

    def crash(**kwargs):
        raise SystemExit("worker killed right after X answered")

    monkeypatch.setattr(publishing, "_record_part", crash)
    with pytest.raises(SystemExit):
        publishing.publish_now(user=user, post_id=post_id)
    monkeypatch.setattr(publishing, "_record_part", real_record)
    assert len(fake_x.tweets_of(x_user.id)) == 1
    post = Post.objects.get(pk=post_id)
    assert post.status == "publishing"
    assert post.post_id is None

    # While the dead worker's lease runs, nobody else publishes it.
    busy = connected.post(f"/api/posts/{post_id}/publish/")
    assert busy.status_code == 409
    assert busy.json()["code"] == "publish_in_progress"

    Post.objects.filter(pk=post_id).update(lease_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert publishing.recover_stalled() == 1
    run_queued_job(post)
    post.refresh_from_db()
    assert post.status == "published"
    assert len(fake_x.tweets_of(x_user.id)) == 1
    assert post.post_id == fake_x.tweets_of(x_user.id)[0].id


def test_crash_in_the_middle_of_a_thread_resumes_without_repeating(
    user, connected, fake_x, x_user, monkeypatch
) -> None:
    parts = ["1/3 One.", "2/3 Two.", "3/3 Three."]
    post_id = connected.post("/api/posts/", {"parts": parts}).json()["id"]
    real_record = publishing._record_part
    calls = {"n": 0}

    def crash_on_second(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("killed")
        return real_record(**kwargs)

    monkeypatch.setattr(publishing, "_record_part", crash_on_second)
    with pytest.raises(SystemExit):
        publishing.publish_now(user=user, post_id=post_id)
    monkeypatch.setattr(publishing, "_record_part", real_record)
    Post.objects.filter(pk=post_id).update(lease_until=timezone.now() - timedelta(seconds=1))

    response = connected.post(f"/api/posts/{post_id}/publish/")
    assert response.status_code == 200, response.content
    tweets = fake_x.tweets_of(x_user.id)
    assert [t.text for t in tweets] == parts
    assert tweets[2].reply_to == tweets[1].id


def test_revoked_access_marks_the_connection_and_gives_the_unit_back(user, connected, fake_x, x_user) -> None:
    fake_x.revoke_user(x_user.id)
    post_id = connected.post("/api/posts/", {"content": "will fail"}).json()["id"]
    response = connected.post(f"/api/posts/{post_id}/publish/")
    assert response.status_code == 409
    assert response.json()["code"] == "reauth_required"
    assert response.json()["post"]["status"] == "failed"
    assert response.json()["post"]["failure_code"] == "reauth_required"
    assert Connection.objects.get(user=user).needs_reauth is True
    status = connected.get("/api/twitter-connection/status/").json()
    assert status["needs_reauth"] is True
    assert status["connected"] is False
    assert publishes_used(user) == 0
    # Publishing again is refused up front until the user reconnects.
    again = connected.post(f"/api/posts/{post_id}/publish/")
    assert again.json()["code"] == "reauth_required"
    connect_x(user, fake_x)
    assert connected.post(f"/api/posts/{post_id}/publish/").status_code == 200


def test_expiring_token_is_refreshed_first_and_rotated(user, connected, fake_x, x_user) -> None:
    connection = Connection.objects.get(user=user)
    old_refresh = connection.refresh_token
    Connection.objects.filter(pk=connection.pk).update(access_expires_at=timezone.now() + timedelta(seconds=30))
    post_id = connected.post("/api/posts/", {"content": "fresh token"}).json()["id"]
    assert connected.post(f"/api/posts/{post_id}/publish/").status_code == 200
    connection.refresh_from_db()
    assert len(fake_x.calls("POST", "/2/oauth2/token")) == 2  # the code exchange and one refresh
    assert connection.refresh_token != old_refresh
    assert connection.access_expires_at is not None
    assert connection.access_expires_at > timezone.now() + timedelta(hours=1)
    assert fake_x.refresh_tokens[old_refresh]["active"] is False


def test_rejected_refresh_means_reauth(user, connected, fake_x, x_user) -> None:
    connection = Connection.objects.get(user=user)
    fake_x.refresh_tokens[connection.refresh_token]["active"] = False
    Connection.objects.filter(pk=connection.pk).update(access_expires_at=timezone.now() - timedelta(seconds=1))
    post_id = connected.post("/api/posts/", {"content": "x"}).json()["id"]
    response = connected.post(f"/api/posts/{post_id}/publish/")
    assert response.json()["code"] == "reauth_required"
    assert Connection.objects.get(pk=connection.pk).needs_reauth is True
    assert fake_x.calls("POST", "/2/tweets") == []


def test_rejection_by_x_fails_with_the_reason_and_gives_the_unit_back(user, connected, fake_x, x_user) -> None:
    first = connected.post("/api/posts/", {"content": "same words", "status": "posted"})
    assert first.status_code == 201
    second = connected.post("/api/posts/", {"content": "same words", "status": "posted"})
    assert second.status_code == 422
    body = second.json()
    assert body["code"] == "rejected_by_network"
    assert "duplicate" in body["detail"]
    assert body["post"]["status"] == "failed"
    assert body["post"]["content"] == "same words"  # the draft is kept
    assert publishes_used(user) == 1


def test_too_long_for_the_account_is_refused_before_x_is_asked(user, connected, fake_x) -> None:
    response = connected.post("/api/posts/", {"content": "😀" * 141, "status": "posted"})
    assert response.status_code == 400
    assert response.json()["code"] == "post_too_long"
    assert response.json()["character_count"] == 282
    assert response.json()["post"]["status"] == "draft"
    assert fake_x.calls("POST", "/2/tweets") == []


def test_publish_quota_at_the_limit(user, connected, fake_x, x_user, settings, plans) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_posts"
    plan = plans["basic"]
    plan.publishes_per_period = 1
    plan.save()
    make_subscription(user, plan)
    ok = connected.post("/api/posts/", {"content": "first", "status": "posted"})
    assert ok.status_code == 201
    refused = connected.post("/api/posts/", {"content": "second", "status": "posted"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "limit_reached"
    assert refused.json()["post"]["status"] == "draft"
    assert len(fake_x.tweets_of(x_user.id)) == 1


def test_a_failed_publish_does_not_use_up_the_quota(user, connected, fake_x, x_user, settings, plans) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_posts"
    plan = plans["basic"]
    plan.publishes_per_period = 1
    plan.save()
    make_subscription(user, plan)
    fake_x.fail_next("POST", "/2/tweets", status=400, body={"title": "Invalid Request", "detail": "nope"})
    failed = connected.post("/api/posts/", {"content": "first", "status": "posted"})
    assert failed.status_code == 422
    assert publishes_used(user) == 0
    assert connected.post(f"/api/posts/{failed.json()['post']['id']}/publish/").status_code == 200


def test_gives_up_after_too_many_retries(user, connected, fake_x, settings, django_capture_on_commit_callbacks) -> None:
    settings.POSTS_MAX_PUBLISH_RETRIES = 1
    fake_x.fail_next("POST", "/2/tweets", status=503, times=5)
    post_id = connected.post("/api/posts/", {"content": "doomed"}).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert connected.post(f"/api/posts/{post_id}/publish/").status_code == 202
    run_queued_job(Post.objects.get(pk=post_id))
    post = Post.objects.get(pk=post_id)
    assert post.status == "failed"
    assert post.failure_code == "outcome_unknown"
    assert publishes_used(user) == 0


def test_stale_job_does_nothing(user, connected, fake_x, x_user, django_capture_on_commit_callbacks) -> None:
    when = (timezone.now() + timedelta(hours=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        post_id = connected.post("/api/posts/", {"content": "scheduled", "scheduled_at": when}).json()["id"]
    job = ProcrastinateJob.objects.get(task_name="posts.publish")
    # Published by hand before the time: the scheduled job must not post it again.
    assert connected.post(f"/api/posts/{post_id}/publish/").status_code == 200
    publishing.run_job(post_id=job.args["post_id"], token=job.args["token"])
    assert len(fake_x.tweets_of(x_user.id)) == 1


def test_scheduled_job_fails_cleanly_when_the_connection_is_gone(
    user, connected, fake_x, django_capture_on_commit_callbacks
) -> None:
    when = (timezone.now() + timedelta(hours=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        post_id = connected.post("/api/posts/", {"content": "scheduled", "scheduled_at": when}).json()["id"]
    Connection.objects.all().delete()
    run_queued_job(Post.objects.get(pk=post_id))
    post = Post.objects.get(pk=post_id)
    assert (post.status, post.failure_code) == ("failed", "not_connected")
    assert publishes_used(user) == 0


def test_access_token_helper_raises_reauth_without_refresh_token(user, connected) -> None:
    connection = Connection.objects.get(user=user)
    Connection.objects.filter(pk=connection.pk).update(
        refresh_token="", access_expires_at=timezone.now() - timedelta(seconds=5)
    )
    from mindpost.core.errors import Conflict

    with pytest.raises(Conflict) as raised:
        connections.access_token(connection_id=connection.pk)
    assert raised.value.code == "reauth_required"
    assert Connection.objects.get(pk=connection.pk).needs_reauth is True


def test_deleting_a_post_waiting_for_a_retry_gives_the_unit_back(
    user, connected, fake_x, django_capture_on_commit_callbacks
) -> None:
    fake_x.rate_limit_next("POST", "/2/tweets", reset_in=900)
    post_id = connected.post("/api/posts/", {"content": "never mind"}).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert connected.post(f"/api/posts/{post_id}/publish/").status_code == 202
    assert publishes_used(user) == 1
    assert connected.delete(f"/api/posts/{post_id}/").status_code == 204
    assert publishes_used(user) == 0
    run_queued_job_for(post_id)  # the queued retry finds nothing to do
    assert len(fake_x.calls("POST", "/2/tweets")) == 1


def run_queued_job_for(post_id: str) -> None:
    job = ProcrastinateJob.objects.filter(task_name="posts.publish", args__post_id=post_id).order_by("-id").first()
    assert job is not None
    publishing.run_job(post_id=job.args["post_id"], token=job.args["token"])
