"""Mastodon behind the network interface, against the loopback instance fake (tests/fakes/mastodon_server.py):
per-instance app registration, OAuth with PKCE (API and browser flows), the instance's character limit,
Mastodon's length rules, threads, media, 401/429, instance URL checks and per-user isolation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from mindpost.posts import length, networks
from mindpost.posts.models import Connection, MastodonApp, Post
from tests.fakes.mastodon_server import FakeMastodon
from tests.fakes.social_base import Fault
from tests.posts.conftest import api_for, confirm_link, follow_callback, image_bytes, upload
from tests.posts.test_publish import run_queued_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_masto(settings: Any, media: Any) -> Iterator[FakeMastodon]:
    fake = FakeMastodon().start()
    settings.POSTS_ALLOW_PRIVATE_INSTANCES = True  # the fake listens on 127.0.0.1
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 2.0
    yield fake
    fake.stop()


@pytest.fixture
def ada(fake_masto: FakeMastodon) -> Any:
    return fake_masto.add_account("ada", display_name="Ada Lovelace")


def connect(user: Any, fake: FakeMastodon, *, instance: str | None = None) -> Connection:
    """The API-started flow: our endpoint, the instance's consent, our callback, the confirmation page."""
    body = {"instance_url": instance or fake.base_url, "client": "web"}
    response = api_for(user).post("/api/connections/mastodon/connect/", body, format="json")
    assert response.status_code == 200, response.content
    browser = Client()
    page = follow_callback(fake.approve(response.json()["authorize_url"]), client=browser)
    landing = confirm_link(page, client=browser, network="mastodon")
    assert "connection_status=success" in landing["Location"], landing["Location"]
    return Connection.objects.get(user=user, network="mastodon")


@pytest.fixture
def linked(user: Any, fake_masto: FakeMastodon, ada: Any) -> Any:
    connect(user, fake_masto)
    return api_for(user)


def publish(client: Any, **data: Any) -> Any:
    created = client.post("/api/posts/", {"post_type": "mastodon", **data}, format="json")
    assert created.status_code == 201, created.content
    return client.post(f"/api/posts/{created.json()['id']}/publish/")


# --- connecting -------------------------------------------------------------------------------------
def test_connect_registers_the_app_once_per_instance_with_pkce(user, make_user, fake_masto, ada) -> None:
    conn = connect(user, fake_masto)
    assert conn.external_user_id == ada.id
    assert conn.username == "ada@127.0.0.1"
    assert conn.base_url == fake_masto.base_url
    assert conn.access_expires_at is None  # Mastodon tokens don't expire
    app = MastodonApp.objects.get(instance_url=fake_masto.base_url)
    assert app.supports_pkce
    assert app.redirect_uri.endswith("/settings/connections/mastodon/callback/")
    [registration] = fake_masto.calls("POST", "/api/v1/apps")
    assert registration.json()["scopes"] == "read:accounts read:statuses write:statuses write:media"
    token_call = fake_masto.calls("POST", "/oauth/token")[0]
    assert "code_verifier=" in token_call.body.decode()

    fake_masto.login_as = fake_masto.add_account("grace").id
    connect(make_user(), fake_masto)
    assert len(fake_masto.calls("POST", "/api/v1/apps")) == 1  # reused from MastodonApp
    assert MastodonApp.objects.count() == 1


def test_instance_without_pkce_still_connects(user, settings, media) -> None:
    settings.POSTS_ALLOW_PRIVATE_INSTANCES = True
    with FakeMastodon(pkce=False) as fake:
        fake.add_account("old_instance_user")
        conn = connect(user, fake)
        assert conn.username == "old_instance_user@127.0.0.1"
        assert not MastodonApp.objects.get(instance_url=fake.base_url).supports_pkce
        assert "code_verifier" not in fake.calls("POST", "/oauth/token")[0].body.decode()


def test_browser_flow_links_in_the_same_session(user, fake_masto, ada) -> None:
    browser = Client()
    browser.force_login(user)
    response = browser.post("/settings/mastodon/connect/", {"instance_url": fake_masto.base_url})
    assert response.status_code == 200  # the "continue to Mastodon" page (CSP forbids a 302 after a POST)
    authorize_url = response.context["url"]
    assert authorize_url.startswith(f"{fake_masto.base_url}/oauth/authorize?")
    landing = follow_callback(fake_masto.approve(authorize_url), client=browser)
    assert landing.status_code == 302
    assert "connection_status=success" in landing["Location"]
    assert Connection.objects.get(user=user, network="mastodon").external_user_id == ada.id
    settings_page = browser.get("/settings/")
    assert "ada@127.0.0.1" in settings_page.content.decode()


def test_browser_flow_refuses_a_callback_in_another_session(user, make_user, fake_masto, ada) -> None:
    browser = Client()
    browser.force_login(user)
    authorize_url = browser.post("/settings/mastodon/connect/", {"instance_url": fake_masto.base_url}).context["url"]
    attacker = Client()
    attacker.force_login(make_user())
    refused = follow_callback(fake_masto.approve(authorize_url), client=attacker)
    assert refused.status_code == 403
    assert not Connection.objects.exists()


@pytest.mark.parametrize(
    ("instance", "code", "allow_private"),
    [
        ("http://127.0.0.1:9", "invalid_instance_url", False),
        ("https://10.1.2.3", "invalid_instance_url", False),
        ("https://[::1]", "invalid_instance_url", False),
        ("https://mastodon.example/@ada", "invalid_instance_url", True),
        ("ftp://mastodon.example", "invalid_instance_url", True),
        ("", "invalid", True),
    ],
)
def test_instance_urls_are_checked(user, settings, media, instance, code, allow_private) -> None:
    settings.POSTS_ALLOW_PRIVATE_INSTANCES = allow_private
    response = api_for(user).post("/api/connections/mastodon/connect/", {"instance_url": instance}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


def test_a_server_that_is_not_mastodon_is_a_400(user, fake_masto) -> None:
    fake_masto.add_fault(Fault(method="POST", path="/api/v1/apps", status=404, body={"error": "Not found"}))
    body = {"instance_url": fake_masto.base_url}
    response = api_for(user).post("/api/connections/mastodon/connect/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "instance_not_supported"
    assert not MastodonApp.objects.exists()


def test_another_users_connection_is_not_theirs(user, make_user, linked, fake_masto, ada) -> None:
    other = api_for(make_user())
    assert other.delete("/api/connections/mastodon/").status_code == 404
    assert other.get("/api/connections/mastodon/").json()["connected"] is False
    assert Connection.objects.filter(user=user, network="mastodon").exists()
    post_id = linked.post("/api/posts/", {"post_type": "mastodon", "content": "mine"}, format="json").json()["id"]
    assert other.post(f"/api/posts/{post_id}/publish/").status_code == 404


def test_disconnect_revokes_the_token_at_the_instance(user, linked, fake_masto, django_capture_on_commit_callbacks):
    assert fake_masto.tokens
    with django_capture_on_commit_callbacks(execute=True):
        assert linked.delete("/api/connections/mastodon/").status_code == 200
    assert not fake_masto.tokens
    assert not Connection.objects.filter(user=user).exists()


# --- limits ------------------------------------------------------------------------------------------
def test_the_instance_sets_the_limit(user, settings, media) -> None:
    settings.POSTS_ALLOW_PRIVATE_INSTANCES = True
    with FakeMastodon(max_characters=5000) as fake:
        fake.add_account("longform")
        assert connect(user, fake).char_limit == 5000
        assert api_for(user).get("/api/connections/mastodon/").json()["char_limit"] == 5000


def test_limit_falls_back_to_500_without_instance_v2(user, settings, media) -> None:
    settings.POSTS_ALLOW_PRIVATE_INSTANCES = True
    with FakeMastodon(v2_instance=False) as fake:
        fake.add_account("legacy")
        assert connect(user, fake).char_limit == 500


def test_mastodon_length_counts_graphemes_urls_as_23_and_mentions_without_domain() -> None:
    mastodon = networks.get("mastodon")
    assert mastodon.text_length("👨‍👩‍👧‍👦 é") == 3
    assert mastodon.text_length("see https://example.com/" + "a" * 100) == 4 + 23
    assert mastodon.text_length("hi @ada@mastodon.example") == len("hi @ada")
    assert length.mastodon_length("mail me: ada@example.com") == len("mail me: ada@example.com")


def test_limits_are_enforced_the_way_mastodon_counts(user, linked, fake_masto, ada) -> None:
    url = "https://example.com/" + "a" * 200
    fits = "🇬🇷" * 470 + " " + url  # 470 + 1 + 23 = 494 characters for Mastodon
    response = publish(linked, content=fits)
    assert response.status_code == 200, response.content
    [status] = fake_masto.statuses_of(ada.id)
    assert status.text == fits
    too_long = publish(linked, content="e\u0301" * 501)
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "post_too_long"
    assert len(fake_masto.statuses_of(ada.id)) == 1


# --- publishing ----------------------------------------------------------------------------------
def test_thread_replies_with_in_reply_to_id(user, linked, fake_masto, ada) -> None:
    response = publish(linked, parts=["1/3 first", "2/3 second", "3/3 third"], format="thread")
    assert response.status_code == 200, response.content
    first, second, third = fake_masto.statuses_of(ada.id)
    assert first.in_reply_to_id is None
    assert second.in_reply_to_id == first.id
    assert third.in_reply_to_id == second.id
    post = Post.objects.get(pk=response.json()["id"])
    assert post.external_ids == [first.id, second.id, third.id]
    assert post.post_url == first.url
    call = fake_masto.calls("POST", "/api/v1/statuses")[0]
    assert call.headers["authorization"].startswith("Bearer ")


def test_images_wait_for_processing_then_attach(user, settings, media) -> None:
    settings.POSTS_ALLOW_PRIVATE_INSTANCES = True
    with FakeMastodon(processing_polls=2) as fake:
        account = fake.add_account("painter")
        connect(user, fake)
        client = api_for(user)
        png, jpeg = image_bytes("PNG", color="green"), image_bytes("JPEG", color="blue")
        created = client.post(
            "/api/posts/",
            {
                "content": "two pictures",
                "post_type": "mastodon",
                "media_files": [upload("a.png", png), upload("b.jpg", jpeg, "image/jpeg")],
            },
            format="multipart",
        )
        assert created.status_code == 201, created.content
        assert client.post(f"/api/posts/{created.json()['id']}/publish/").status_code == 200
        [status] = fake.statuses_of(account.id)
        assert len(status.media_ids) == 2
        assert len(fake.calls("POST", "/api/v2/media")) == 2
        assert len(fake.calls("GET", r"/api/v1/media/\d+")) >= 2  # polled until processed


def test_too_many_images_are_refused(user, linked) -> None:
    files = [upload(f"{i}.png", image_bytes("PNG")) for i in range(5)]
    response = linked.post(
        "/api/posts/", {"content": "x", "post_type": "mastodon", "media_files": files}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "too_many_images"


def test_revoked_token_needs_reconnect(user, linked, fake_masto, ada) -> None:
    fake_masto.revoke_account(ada.id)
    response = publish(linked, content="anyone there?")
    assert response.status_code == 409
    assert response.json()["code"] == "reauth_required"
    assert Connection.objects.get(user=user, network="mastodon").needs_reauth


def test_rate_limit_retries_at_the_iso_reset(user, linked, fake_masto, ada, django_capture_on_commit_callbacks):
    reset = fake_masto.rate_limit_next("POST", "/api/v1/statuses", reset_in=900)
    with django_capture_on_commit_callbacks(execute=True):
        response = publish(linked, content="later")
    assert response.status_code == 202, response.content
    post = Post.objects.get(pk=response.json()["id"])
    assert post.failure_code == "rate_limited"
    assert post.next_retry_at is not None
    assert abs((post.next_retry_at - reset).total_seconds()) < 2
    run_queued_job(post)
    post.refresh_from_db()
    assert post.status == "published"
    assert len(fake_masto.statuses_of(ada.id)) == 1


def test_timeout_after_the_instance_accepted_does_not_duplicate(
    user, linked, fake_masto, ada, settings, django_capture_on_commit_callbacks
) -> None:
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 0.5
    fake_masto.add_fault(Fault(method="POST", path="/api/v1/statuses", kind="hang_after", delay=1.5))
    text = "Fish & chips <3 at @ada@127.0.0.1\n\nsecond paragraph https://example.org/x"
    with django_capture_on_commit_callbacks(execute=True):
        response = publish(linked, content=text)
    assert response.status_code == 202
    assert len(fake_masto.statuses_of(ada.id)) == 1
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 2.0
    run_queued_job(Post.objects.get(pk=response.json()["id"]))
    post = Post.objects.get(pk=response.json()["id"])
    [status] = fake_masto.statuses_of(ada.id)
    assert post.status == "published"
    assert post.post_id == status.id


def test_host_names_must_resolve_to_public_addresses_only(settings, monkeypatch) -> None:
    from mindpost.core.errors import Invalid
    from mindpost.posts import instances

    settings.POSTS_ALLOW_PRIVATE_INSTANCES = False
    monkeypatch.setattr(instances, "resolve", lambda host, port: ["93.184.215.14"])
    assert instances.normalise("Mastodon.Example:8443") == "https://mastodon.example:8443"
    assert instances.normalise("https://bücher.example/") == "https://xn--bcher-kva.example"
    monkeypatch.setattr(instances, "resolve", lambda host, port: ["93.184.215.14", "10.0.0.7"])
    with pytest.raises(Invalid) as refused:  # DNS pointing inside the operator's network
        instances.normalise("sneaky.example")
    assert refused.value.code == "invalid_instance_url"


@pytest.mark.parametrize("network", ["bluesky", "mastodon"])
def test_the_generic_connect_endpoint_is_not_a_dead_end_for_form_networks(user, network) -> None:
    # /api/connections/{network}/connect/ is replaced for these two; the generic service refuses politely.
    from mindpost.core.errors import Invalid
    from mindpost.posts import connections

    with pytest.raises(Invalid) as refused:
        connections.authorization_start(user=user, network=networks.get(network))
    assert refused.value.code == "connect_with_form"
