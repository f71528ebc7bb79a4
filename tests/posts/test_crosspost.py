# ruff: noqa: F811  (pytest fixtures imported from other test modules)
"""Cross-posting (posts/crosspost.py) against the loopback fakes: one post to X and Mastodon (and
LinkedIn), each fitted to its network; a partial failure retried with no duplicate anywhere;
scheduling one job per network; per-user isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob

from mindpost.posts import crosspost
from mindpost.posts.models import Delivery, Post
from tests.fakes.social_base import Fault
from tests.posts.conftest import api_for, connect_linkedin, connect_x
from tests.posts.test_mastodon import ada, connect, fake_masto  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

LONG = " ".join(f"Sentence number {n} about the harbour in Nafplio and the boats." for n in range(1, 9))


def run_delivery_jobs(post_id: str) -> None:
    """What the worker does with the newest queued job of each delivery of this post."""
    for delivery in Delivery.objects.filter(post_id=post_id):
        job = (
            ProcrastinateJob.objects.filter(task_name="posts.publish_delivery", args__delivery_id=str(delivery.pk))
            .order_by("-id")
            .first()
        )
        if job is not None:
            crosspost.run_job(delivery_id=job.args["delivery_id"], token=job.args["token"])


@pytest.fixture
def both(user: Any, fake_x: Any, x_user: Any, fake_masto: Any, ada: Any) -> Any:
    connect_x(user, fake_x)
    connect(user, fake_masto)
    return api_for(user)


def test_cross_post_retry_after_a_partial_failure_sends_only_the_missing_network(
    user, both, fake_x, x_user, fake_masto, ada, django_capture_on_commit_callbacks
) -> None:
    fake_masto.add_fault(Fault(method="POST", path="/api/v1/statuses", status=500, body={"error": "oops"}))
    with django_capture_on_commit_callbacks(execute=True):
        response = both.post(
            "/api/posts/",
            {"content": "Boats at dawn", "status": "posted", "networks": ["x", "mastodon"]},
            format="json",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    by_network = {row["network"]: row for row in body["deliveries"]}
    assert by_network["x"]["status"] == "published"
    assert by_network["mastodon"]["status"] == "publishing"  # a retry is queued
    assert by_network["mastodon"]["error_code"] in ("outcome_unknown", "network_unavailable")
    assert len(fake_x.tweets_of(x_user.id)) == 1
    assert fake_masto.statuses_of(ada.id) == []

    run_delivery_jobs(body["id"])
    post = both.get(f"/api/posts/{body['id']}/").json()
    assert post["status"] == "published"
    assert {row["network"]: row["status"] for row in post["deliveries"]} == {"x": "published", "mastodon": "published"}
    assert len(fake_x.tweets_of(x_user.id)) == 1  # X was not asked again
    assert len(fake_x.calls("POST", "/2/tweets")) == 1
    assert [s.text for s in fake_masto.statuses_of(ada.id)] == ["Boats at dawn"]
    assert post["post_id"] == fake_x.tweets_of(x_user.id)[0].id

    # Publishing again is refused: everything is out.
    again = both.post(f"/api/posts/{body['id']}/publish/")
    assert again.status_code == 409
    assert again.json()["code"] == "already_published"
    assert len(fake_masto.statuses_of(ada.id)) == 1


def test_manual_retry_after_a_final_failure_publishes_only_the_failed_network(
    user, both, fake_x, x_user, fake_masto, ada, settings
) -> None:
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 0.5
    settings.POSTS_MAX_PUBLISH_RETRIES = 0  # a failure is final: the person retries by hand
    fake_masto.add_fault(Fault(method="POST", path="/api/v1/statuses", kind="hang_before", delay=1.5))
    created = both.post("/api/posts/", {"content": "Nets mended", "networks": ["x", "mastodon"]}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["deliveries"] == []  # a draft: nothing chosen yet
    post_id = created.json()["id"]
    first = both.post(f"/api/posts/{post_id}/publish/", {"networks": ["x", "mastodon"]}, format="json")
    assert first.status_code == 202, first.content
    rows = {row["network"]: row for row in first.json()["deliveries"]}
    assert rows["x"]["status"] == "published"
    assert rows["mastodon"]["status"] == "failed"
    assert first.json()["status"] == "failed"
    assert fake_masto.statuses_of(ada.id) == []  # it hung before doing anything

    retry = both.post(f"/api/posts/{post_id}/publish/")  # no networks: the post's own deliveries
    assert retry.status_code == 200, retry.content
    assert retry.json()["status"] == "published"
    assert len(fake_x.calls("POST", "/2/tweets")) == 1
    assert [s.text for s in fake_masto.statuses_of(ada.id)] == ["Nets mended"]
    mastodon = Delivery.objects.get(post_id=post_id, network="mastodon")
    assert mastodon.attempts == 2
    # Part of it is out: the post can no longer be edited.
    assert both.patch(f"/api/posts/{post_id}/", {"content": "changed"}, format="json").status_code == 409


def test_each_network_gets_its_own_fit(user, fake_x, x_user, fake_linkedin) -> None:
    fake_linkedin.add_member("Grace Hopper")
    connect_x(user, fake_x)
    connect_linkedin(user, fake_linkedin)
    client = api_for(user)
    response = client.post(
        "/api/posts/", {"content": LONG, "status": "posted", "networks": ["x", "linkedin"]}, format="json"
    )
    assert response.status_code == 201, response.content
    rows = {row["network"]: row for row in response.json()["deliveries"]}
    tweets = fake_x.tweets_of(x_user.id)
    assert len(tweets) == len(rows["x"]["parts"]) > 1  # a thread on X past 280
    assert tweets[0].text.startswith("1/")
    assert tweets[1].reply_to == tweets[0].id
    assert all(len(t.text) <= 280 for t in tweets)
    assert rows["linkedin"]["parts"] == [LONG]  # one post on LinkedIn
    assert rows["linkedin"]["status"] == "published"
    assert [item["commentary"] for item in fake_linkedin.posts] == [LONG]


def test_fit_parts_per_network() -> None:
    from mindpost.posts import networks

    post = Post(content=LONG, format="single")
    x_parts = crosspost.fit_parts(post=post, network=networks.get("x"), limit=280)
    assert len(x_parts) > 1
    assert all(networks.get("x").text_length(part) <= 280 for part in x_parts)
    assert crosspost.fit_parts(post=post, network=networks.get("linkedin"), limit=3000) == [LONG]
    bluesky = networks.get("bluesky")
    sky = crosspost.fit_parts(post=post, network=bluesky, limit=300)
    assert all(bluesky.text_length(part) <= 300 for part in sky)
    thread = Post(content="a\n\nb", format="thread", parts=["1/2 Short one.", "2/2 Short two."])
    assert crosspost.fit_parts(post=thread, network=networks.get("x"), limit=280) == thread.parts
    assert crosspost.fit_parts(post=thread, network=networks.get("linkedin"), limit=3000) == [
        "Short one.\n\nShort two."
    ]


def test_unconnected_or_unknown_network_is_refused_before_anything_goes_out(user, fake_x, x_user) -> None:
    connect_x(user, fake_x)
    client = api_for(user)
    response = client.post(
        "/api/posts/", {"content": "hello", "status": "posted", "networks": ["x", "linkedin"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "not_connected"
    assert "networks" in response.json()["fields"]
    assert fake_x.calls("POST", "/2/tweets") == []
    unknown = client.post("/api/posts/", {"content": "hi", "status": "posted", "networks": ["myspace"]}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "unknown_network"


def test_scheduled_cross_post_queues_one_job_per_network(
    user, both, fake_x, x_user, fake_masto, ada, django_capture_on_commit_callbacks
) -> None:
    when = (timezone.now() + timedelta(hours=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = both.post(
            "/api/posts/", {"content": "Later", "scheduled_at": when, "networks": ["x", "mastodon"]}, format="json"
        )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "scheduled"
    assert ProcrastinateJob.objects.filter(task_name="posts.publish_delivery").count() == 2
    assert not ProcrastinateJob.objects.filter(task_name="posts.publish").exists()
    run_delivery_jobs(response.json()["id"])
    run_delivery_jobs(response.json()["id"])  # a duplicate delivery of the jobs does nothing
    assert Post.objects.get(pk=response.json()["id"]).status == "published"
    assert len(fake_x.tweets_of(x_user.id)) == 1
    assert len(fake_masto.statuses_of(ada.id)) == 1


def test_another_users_post_is_not_found(user, make_user, both) -> None:
    post_id = both.post("/api/posts/", {"content": "mine"}, format="json").json()["id"]
    other = api_for(make_user())
    response = other.post(f"/api/posts/{post_id}/publish/", {"networks": ["x", "mastodon"]}, format="json")
    assert response.status_code == 404
    assert other.get(f"/api/posts/{post_id}/").status_code == 404
    assert not Delivery.objects.exists()
