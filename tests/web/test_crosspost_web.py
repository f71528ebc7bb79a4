# ruff: noqa: F811  (pytest fixtures imported from other test modules)
"""The post page's cross-post box: tick X and Mastodon, publish to both, see the status per network,
retry the one that failed (only it is sent again); another user's post is a 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from mindpost.posts.models import Delivery
from tests.fakes.social_base import Fault
from tests.posts.conftest import api_for, connect_x, fake_x, media, x_user  # noqa: F401 (fixtures)
from tests.posts.test_mastodon import ada, connect, fake_masto  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def post_id(user: Any, fake_x: Any, x_user: Any, fake_masto: Any, ada: Any) -> str:
    connect_x(user, fake_x)
    connect(user, fake_masto)
    return str(api_for(user).post("/api/posts/", {"content": "From the harbour"}, format="json").json()["id"])


def test_tick_two_networks_publish_and_retry_the_failed_one(
    web, post_id, settings, fake_x, x_user, fake_masto, ada
) -> None:
    page = web.get(f"/posts/{post_id}/")
    html = page.content.decode()
    assert 'name="networks" value="x" checked' in html
    assert 'name="networks" value="mastodon"' in html

    settings.POSTS_MAX_PUBLISH_RETRIES = 0
    fake_masto.add_fault(Fault(method="POST", path="/api/v1/statuses", status=422, body={"error": "nope"}))
    response = web.post(f"/posts/{post_id}/crosspost/", {"networks": ["x", "mastodon"], "action": "publish"})
    assert response.status_code in (200, 302)
    html = web.get(f"/posts/{post_id}/").content.decode()
    assert 'data-network="x" data-status="published"' in html
    assert 'data-network="mastodon" data-status="failed"' in html
    assert f"/posts/{post_id}/crosspost/mastodon/retry/" in html

    web.post(f"/posts/{post_id}/crosspost/mastodon/retry/")
    statuses = dict(Delivery.objects.filter(post_id=post_id).values_list("network", "status"))
    assert statuses == {"x": "published", "mastodon": "published"}
    assert len(fake_x.calls("POST", "/2/tweets")) == 1
    assert len(fake_masto.statuses_of(ada.id)) == 1


def test_another_users_post_is_not_found(post_id, make_user) -> None:
    other = Client()
    other.force_login(make_user())
    assert other.post(f"/posts/{post_id}/crosspost/", {"networks": ["x"], "action": "publish"}).status_code == 404
    assert other.post(f"/posts/{post_id}/crosspost/x/retry/").status_code == 404
    assert not Delivery.objects.exists()
