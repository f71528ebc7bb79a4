"""LinkedIn behind the same interface: member posts with an optional image."""

from __future__ import annotations

import pytest

from mindpost.posts import networks
from mindpost.posts.models import Connection, Post
from mindpost.posts.networks.linkedin import escape_commentary
from tests.posts.conftest import api_for, connect_linkedin, image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(fake_linkedin) -> str:
    return fake_linkedin.add_member("Grace Hopper")


@pytest.fixture
def linked(user, fake_linkedin, member):
    connect_linkedin(user, fake_linkedin)
    return api_for(user)


def test_networks_are_discovered_from_their_modules() -> None:
    assert set(networks.all_networks()) == {"x", "linkedin", "bluesky", "mastodon"}
    assert networks.for_post_type("twitter").slug == "x"
    assert networks.for_post_type("LinkedIn").slug == "linkedin"


def test_text_post(user, linked, fake_linkedin, member) -> None:
    text = "Shipping day (finally) #launch — thanks @team_a!"
    response = linked.post("/api/posts/", {"content": text, "post_type": "linkedin", "status": "posted"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["post_type"] == "linkedin"
    assert body["detail"] == "Successfully published to LinkedIn."
    [sent] = fake_linkedin.posts
    assert sent["author"] == f"urn:li:person:{member}"
    assert sent["commentary"] == escape_commentary(text)
    assert sent["commentary"].startswith("Shipping day \\(finally\\) \\#launch")
    assert body["post_id"] == sent["id"]
    assert body["post_url"] == f"https://www.linkedin.com/feed/update/{sent['id']}/"
    call = fake_linkedin.calls("POST", "/rest/posts")[0]
    assert call.headers["x-restli-protocol-version"] == "2.0.0"
    assert call.headers["linkedin-version"] == "202605"


def test_post_with_an_image(user, linked, fake_linkedin, member) -> None:
    png = image_bytes("PNG", color="purple")
    created = linked.post(
        "/api/posts/",
        {"content": "With a picture", "post_type": "linkedin", "media_files": [upload("p.png", png)]},
        format="multipart",
    )
    assert linked.post(f"/api/posts/{created.json()['id']}/publish/").status_code == 200
    [sent] = fake_linkedin.posts
    image_urn = sent["content"]["media"]["id"]
    assert fake_linkedin.images[image_urn.removeprefix("urn:li:image:")]["content"] == png


def test_linkedin_limits_are_enforced_before_sending(user, linked, fake_linkedin) -> None:
    two = [upload("a.png", image_bytes()), upload("b.png", image_bytes())]
    response = linked.post(
        "/api/posts/", {"content": "x", "post_type": "linkedin", "media_files": two}, format="multipart"
    )
    assert response.json()["code"] == "too_many_images"
    webp = [upload("a.webp", image_bytes("WEBP"), "image/webp")]
    response = linked.post(
        "/api/posts/", {"content": "x", "post_type": "linkedin", "media_files": webp}, format="multipart"
    )
    assert response.json()["code"] == "unsupported_image_type"
    too_long = linked.post("/api/posts/", {"content": "y" * 3001, "post_type": "linkedin", "status": "posted"})
    assert too_long.json()["code"] == "post_too_long"
    assert fake_linkedin.posts == []


def test_revoked_member_needs_reauth(user, linked, fake_linkedin, member) -> None:
    fake_linkedin.revoke_member(member)
    response = linked.post("/api/posts/", {"content": "x", "post_type": "linkedin", "status": "posted"})
    assert response.status_code == 409
    assert response.json()["code"] == "reauth_required"
    assert Connection.objects.get(user=user, network="linkedin").needs_reauth is True
    assert linked.get("/api/connections/linkedin/").json()["needs_reauth"] is True


def test_timeout_after_accepting_is_not_retried_blindly(user, linked, fake_linkedin, settings) -> None:
    """LinkedIn can't be asked whether the post went out (that needs a restricted scope), so
    the post fails with outcome_unknown instead of being posted again automatically."""
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 0.5
    from tests.fakes.social_base import Fault

    fake_linkedin.add_fault(Fault(method="POST", path="/rest/posts", kind="hang_after", delay=1.5))
    response = linked.post("/api/posts/", {"content": "maybe", "post_type": "linkedin", "status": "posted"})
    assert response.status_code == 502
    assert response.json()["code"] == "outcome_unknown"
    post = Post.objects.get()
    assert post.status == "failed"
    assert len(fake_linkedin.posts) == 1
    # The user checked their profile and publishes again on purpose.
    assert linked.post(f"/api/posts/{post.pk}/publish/").status_code == 200


def test_rate_limit_uses_retry_after(user, linked, fake_linkedin, django_capture_on_commit_callbacks) -> None:
    fake_linkedin.rate_limit_next("POST", "/rest/posts", retry_after=120)
    with django_capture_on_commit_callbacks(execute=True):
        response = linked.post("/api/posts/", {"content": "soon", "post_type": "linkedin", "status": "posted"})
    assert response.status_code == 202
    assert response.json()["failure_code"] == "rate_limited"
    assert response.json()["next_retry_at"]


def test_disconnect_linkedin(user, linked, django_capture_on_commit_callbacks, fake_linkedin) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = linked.delete("/api/connections/linkedin/")
    assert response.status_code == 200
    assert response.json()["message"] == "LinkedIn account disconnected"
    assert not Connection.objects.filter(network="linkedin").exists()
    assert fake_linkedin.calls("POST", "/oauth/v2/revoke")


def test_commentary_escaping() -> None:
    assert escape_commentary("a_b*c (d) [e] {f} <g> @h #i ~j |k \\l") == (
        "a\\_b\\*c \\(d\\) \\[e\\] \\{f\\} \\<g\\> \\@h \\#i \\~j \\|k \\\\l"
    )
