"""No dead ends on the editor: which networks can be used, and Copy / "Open in …" fallbacks."""

from __future__ import annotations

import pytest

from mindpost.posts.models import Connection
from tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def _states(html: str) -> dict[str, str]:
    import re

    return dict(re.findall(r'data-network="([a-z]+)" data-state="([a-z]+)"', html))


def test_compose_says_what_can_be_used_and_offers_the_fallbacks(web, settings) -> None:
    settings.X_CLIENT_ID = ""
    settings.LINKEDIN_CLIENT_ID = ""
    html = web.get("/posts/compose/").content.decode()
    states = _states(html)
    assert states["x"] == "unavailable"
    assert states["linkedin"] == "unavailable"
    assert states["bluesky"] == "connect"
    assert states["mastodon"] == "connect"
    assert "No network is connected" in html
    assert "data-copy-from" in html
    assert "publish_options.js" in html


def test_post_page_links_carry_the_post_text(web, user) -> None:
    post = PostFactory.create(user=user, content="Harbour & lighthouse #1")
    html = web.get(f"/posts/{post.pk}/").content.decode()
    assert "https://x.com/intent/post?text=Harbour%20%26%20lighthouse%20%231" in html
    assert "https://bsky.app/intent/compose?text=Harbour%20%26%20lighthouse%20%231" in html
    assert "https://www.linkedin.com/feed/?shareActive=true&amp;text=Harbour%20%26%20lighthouse%20%231" in html


def test_a_connected_network_is_ready_and_the_fallback_folds_away(web, user, settings) -> None:
    settings.X_CLIENT_ID = "x-client"
    Connection.objects.create(user=user, network="x", external_user_id="1", username="ada", access_token="t")
    html = web.post("/posts/compose/options/", {"content": "Hi", "network": "x"}).content.decode()
    assert _states(html)["x"] == "ready"
    assert "No network is connected" not in html
    assert "Or post it yourself" in html
    assert "publish_options.js" not in html  # an HTMX re-render loads no script (the nonce would differ)


def test_options_follow_the_editor_text_and_use_only_my_connections(web, make_user, settings) -> None:
    settings.X_CLIENT_ID = "x-client"
    bob = make_user("bob@example.com")
    Connection.objects.create(user=bob, network="x", external_user_id="2", username="bob", access_token="t")
    html = web.post("/posts/compose/options/", {"content": "New words here", "network": "x"}).content.decode()
    assert _states(html)["x"] == "connect"  # bob's connection is not mine
    assert "text=New%20words%20here" in html


def test_settings_help_explains_what_the_operator_must_configure(web, settings) -> None:
    from django.template import engines

    settings.X_CLIENT_ID = ""
    settings.LINKEDIN_CLIENT_ID = ""
    html = engines["django"].from_string("{% load network_setup %}{% network_setup_help %}").render({})
    assert "X_CLIENT_ID and X_CLIENT_SECRET" in html
    assert "LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET" in html
    assert "/settings/connections/x/callback/" in html
    assert "/settings/connections/linkedin/callback/" in html
    assert "docs/operations.md" in html


def test_settings_page_includes_the_operator_help(web, settings) -> None:
    settings.LINKEDIN_CLIENT_ID = ""
    html = web.get("/settings/").content.decode()
    assert 'id="network-setup-help"' in html
    assert "LinkedIn: not set up on this server" in html
