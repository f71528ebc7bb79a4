"""Bluesky behind the network interface, against the loopback PDS fake (tests/fakes/bluesky_server.py):
app-password sessions, grapheme limits, facets on UTF-8 byte offsets, threads with reply refs,
image blobs, token refresh, 401/429, and per-user isolation."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db_connection
from django.utils import timezone
from PIL import Image

from mindpost.posts import length, networks
from mindpost.posts.models import AttemptOutcome, Connection, Post, PublishAttempt
from mindpost.posts.networks.bluesky import link_facets, tag_facets
from tests.fakes.bluesky_server import FakeBluesky
from tests.fakes.social_base import Fault
from tests.posts.conftest import api_for, image_bytes, upload
from tests.posts.test_publish import run_queued_job

pytestmark = pytest.mark.django_db
regex = pytest.importorskip("regex")

APP_PASSWORD = "abcd-efgh-ijkl-mnop"


@pytest.fixture
def fake_bsky(settings: Any, media: Any) -> Iterator[FakeBluesky]:
    fake = FakeBluesky().start()
    settings.BLUESKY_SERVICE_URL = fake.base_url
    settings.POSTS_ALLOW_PRIVATE_INSTANCES = True  # the fake listens on 127.0.0.1
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 2.0
    yield fake
    fake.stop()


@pytest.fixture
def alice(fake_bsky: FakeBluesky) -> Any:
    return fake_bsky.add_account("alice.bsky.test")


def connect(user: Any, handle: str = "alice.bsky.test", password: str = APP_PASSWORD, **extra: Any) -> Any:
    body = {"identifier": handle, "app_password": password, **extra}
    return api_for(user).post("/api/connections/bluesky/connect/", body, format="json")


@pytest.fixture
def linked(user: Any, alice: Any) -> Any:
    response = connect(user, "@Alice.bsky.test")
    assert response.status_code == 200, response.content
    return api_for(user)


def publish(client: Any, **data: Any) -> Any:
    created = client.post("/api/posts/", {"post_type": "bluesky", **data}, format="json")
    assert created.status_code == 201, created.content
    return client.post(f"/api/posts/{created.json()['id']}/publish/")


# --- graphemes ----------------------------------------------------------------------------------
GRAPHEME_CASES = [
    "plain ascii",
    "e\u0301 combining accent",
    "👍🏽 skin tone",
    "👨‍👩‍👧‍👦 family",
    "🇩🇪🇫🇷 two flags",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f scotland",
    "❤️ variation selector",
    "1️⃣ keycap",
    "한국어 각 \u1100\u1161\u11a8",
    "क्षि नमस्ते",
    "Z\u0324\u0308\u0301a\u0356l",
    "line\r\nbreak",
]


@pytest.mark.parametrize("text", GRAPHEME_CASES)
def test_graphemes_match_an_independent_segmenter(text: str) -> None:
    assert length.graphemes(text) == regex.findall(r"\X", text)


def test_bluesky_counts_graphemes_not_code_points_or_x_weights() -> None:
    bluesky = networks.get("bluesky")
    family = "👨‍👩‍👧‍👦"
    assert len(family) == 7
    assert length.grapheme_length(family * 300) == 300
    assert bluesky.text_length("👍🏽" * 300) == 300
    assert bluesky.text_length(family * 100) == 250  # 2500 bytes: the 3000-byte cap counts too
    assert length.weighted_length(family * 10) > 10  # X would count these more
    url = "https://example.com/" + "a" * 60
    assert bluesky.text_length(url) == len(url)  # links count in full on Bluesky


def test_300_graphemes_publish_and_301_are_refused(user, linked, fake_bsky, alice) -> None:
    text = "👍🏽" * 300
    response = publish(linked, content=text)
    assert response.status_code == 200, response.content
    [record] = fake_bsky.posts_of(alice.did)
    assert record.value["text"] == text

    too_long = publish(linked, content="é" * 300 + "e\u0301")  # 301 graphemes, 302 code points
    assert too_long.status_code == 400
    assert too_long.json()["code"] == "post_too_long"
    assert "300" in too_long.json()["detail"]
    assert len(fake_bsky.posts_of(alice.did)) == 1
    # Bluesky also caps a post at 3000 UTF-8 bytes: 150 family emoji are 150 graphemes but 3750 bytes.
    too_big = publish(linked, content="👨‍👩‍👧‍👦" * 150)
    assert too_big.status_code == 400
    assert too_big.json()["code"] == "post_too_long"


# --- facets -------------------------------------------------------------------------------------------
def byte_span(text: str, part: str) -> dict[str, int]:
    start = text.encode().index(part.encode())
    return {"byteStart": start, "byteEnd": start + len(part.encode())}


def test_facets_use_utf8_byte_offsets(user, linked, fake_bsky, alice) -> None:
    bob = fake_bsky.add_account("bob.bsky.test")
    text = "Grüße 🇬🇷 from Nafplio @bob.bsky.test! See https://example.com/café?x=1 #Häfen, #2026 and @nobody.bsky.test"
    response = publish(linked, content=text)
    assert response.status_code == 200, response.content
    [record] = fake_bsky.posts_of(alice.did)
    facets = {f["features"][0]["$type"].rsplit("#", 1)[1]: f for f in record.value["facets"]}
    assert set(facets) == {"mention", "link", "tag"}  # no tag for #2026, no mention for an unknown handle
    assert facets["mention"]["index"] == byte_span(text, "@bob.bsky.test")
    assert facets["mention"]["features"][0]["did"] == bob.did
    assert facets["link"]["index"] == byte_span(text, "https://example.com/café?x=1")
    assert facets["link"]["features"][0]["uri"] == "https://example.com/café?x=1"
    assert facets["tag"]["index"] == byte_span(text, "#Häfen")
    assert facets["tag"]["features"][0]["tag"] == "Häfen"
    starts = [f["index"]["byteStart"] for f in record.value["facets"]]
    assert starts == sorted(starts)
    assert fake_bsky.calls("GET", r"/xrpc/com\.atproto\.identity\.resolveHandle")


def test_bare_domains_link_with_https_and_tags_drop_trailing_punctuation() -> None:
    [link] = link_facets("docs at example.org.")
    assert link["features"][0]["uri"] == "https://example.org"
    tags = tag_facets("#one. #two! #3 x#no")
    assert [t["features"][0]["tag"] for t in tags] == ["one", "two"]


# --- connecting -----------------------------------------------------------------------------------------
def test_connect_stores_the_session_encrypted_and_never_the_password(user, fake_bsky, alice) -> None:
    response = connect(user)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["connected"] is True
    assert body["username"] == "alice.bsky.test"
    assert body["char_limit"] == 300
    conn = Connection.objects.get(user=user, network="bluesky")
    assert conn.external_user_id == alice.did
    assert conn.base_url == fake_bsky.base_url
    assert conn.access_expires_at is not None  # read from the JWT's exp
    with db_connection.cursor() as cursor:
        cursor.execute("SELECT access_token, refresh_token FROM posts_connection WHERE id = %s", [conn.pk])
        raw = " ".join(str(value) for value in cursor.fetchone())
    assert conn.access_token not in raw
    assert conn.refresh_token not in raw
    assert APP_PASSWORD not in raw
    login = fake_bsky.calls("POST", r"/xrpc/com\.atproto\.server\.createSession")[0].json()
    assert login == {"identifier": "alice.bsky.test", "password": APP_PASSWORD}


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"password": "wxyz-wxyz-wxyz-wxyz"}, "invalid_credentials"),
        ({"password": "my real password"}, "app_password_required"),
        ({"service_url": "http://10.0.0.8"}, "invalid_instance_url"),
        ({"service_url": "https://bsky.example/path"}, "invalid_instance_url"),
    ],
)
def test_connect_refusals_are_4xx_with_a_code(user, fake_bsky, alice, settings, extra, code) -> None:
    if "service_url" in extra:
        settings.POSTS_ALLOW_PRIVATE_INSTANCES = False
    response = connect(user, **extra)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not Connection.objects.filter(user=user).exists()


def test_custom_service_url_is_kept_per_connection(user, fake_bsky, alice, settings) -> None:
    settings.BLUESKY_SERVICE_URL = "https://bsky.invalid"
    response = connect(user, service_url=fake_bsky.base_url)
    assert response.status_code == 200, response.content
    client = api_for(user)
    assert publish(client, content="from my own PDS").status_code == 200
    assert len(fake_bsky.posts_of(alice.did)) == 1


def test_another_users_connection_is_not_theirs(user, make_user, linked, fake_bsky, alice) -> None:
    other = api_for(make_user())
    assert other.delete("/api/connections/bluesky/").status_code == 404
    assert other.get("/api/connections/bluesky/").json()["connected"] is False
    assert Connection.objects.filter(user=user, network="bluesky").exists()
    post_id = linked.post("/api/posts/", {"post_type": "bluesky", "content": "mine"}, format="json").json()["id"]
    assert other.post(f"/api/posts/{post_id}/publish/").status_code == 404
    refused = publish(other, content="no account")
    assert refused.status_code == 400
    assert refused.json()["code"] == "not_connected"


def test_disconnect_deletes_the_session_at_the_pds(user, linked, fake_bsky, alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert linked.delete("/api/connections/bluesky/").status_code == 200
    assert not Connection.objects.filter(user=user).exists()
    assert fake_bsky.calls("POST", r"/xrpc/com\.atproto\.server\.deleteSession")
    assert not fake_bsky.refresh  # the refresh JWT no longer works


# --- threads ---------------------------------------------------------------------------------------------
def test_thread_parts_reply_to_root_and_parent(user, linked, fake_bsky, alice) -> None:
    parts = ["1/3 Nafplio harbour 🌊", "2/3 met Stavros", "3/3 boats #sailing"]
    response = publish(linked, parts=parts, format="thread")
    assert response.status_code == 200, response.content
    first, second, third = fake_bsky.posts_of(alice.did)
    assert "reply" not in first.value
    assert second.value["reply"] == {
        "root": {"uri": first.uri, "cid": first.cid},
        "parent": {"uri": first.uri, "cid": first.cid},
    }
    assert third.value["reply"] == {
        "root": {"uri": first.uri, "cid": first.cid},
        "parent": {"uri": second.uri, "cid": second.cid},
    }
    post = Post.objects.get(pk=response.json()["id"])
    assert post.external_ids == [first.uri, second.uri, third.uri]
    rkey = first.uri.rsplit("/", 1)[1]
    assert post.post_url == f"https://bsky.app/profile/alice.bsky.test/post/{rkey}"


# --- images ----------------------------------------------------------------------------------------------
def noise_png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_is_uploaded_as_a_blob_with_its_aspect_ratio(user, linked, fake_bsky, alice) -> None:
    png = image_bytes("PNG", size=(40, 30), color="blue")
    created = linked.post(
        "/api/posts/",
        {"content": "a picture", "post_type": "bluesky", "media_files": [upload("p.png", png)]},
        format="multipart",
    )
    assert created.status_code == 201, created.content
    assert linked.post(f"/api/posts/{created.json()['id']}/publish/").status_code == 200
    [record] = fake_bsky.posts_of(alice.did)
    [image] = record.value["embed"]["images"]
    assert image["aspectRatio"] == {"width": 40, "height": 30}
    blob_call = fake_bsky.calls("POST", r"/xrpc/com\.atproto\.repo\.uploadBlob")[0]
    assert blob_call.body == png
    assert blob_call.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("content", "name", "ctype", "code"),
    [
        (lambda: noise_png((700, 700)), "big.png", "image/png", "image_not_accepted"),  # > 1 MB
        (lambda: image_bytes("PNG", size=(2100, 10)), "wide.png", "image/png", "image_not_accepted"),
        (lambda: image_bytes("GIF"), "a.gif", "image/gif", "unsupported_image_type"),
    ],
)
def test_images_are_validated_for_bluesky(user, linked, content, name, ctype, code) -> None:
    data = content()
    response = linked.post(
        "/api/posts/",
        {"content": "x", "post_type": "bluesky", "media_files": [upload(name, data, ctype)]},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code


# --- tokens, 401, 429, timeouts ---------------------------------------------------------------------------
def test_expiring_access_token_is_refreshed_with_rotation(user, linked, fake_bsky, alice) -> None:
    conn = Connection.objects.get(user=user, network="bluesky")
    old_refresh = conn.refresh_token
    fake_bsky.expire_access(alice.did)
    Connection.objects.filter(pk=conn.pk).update(access_expires_at=timezone.now() + timedelta(seconds=5))
    assert publish(linked, content="after refresh").status_code == 200
    conn.refresh_from_db()
    assert conn.refresh_token != old_refresh
    assert len(fake_bsky.calls("POST", r"/xrpc/com\.atproto\.server\.refreshSession")) == 1
    refresh_call = fake_bsky.calls("POST", r"/xrpc/com\.atproto\.server\.refreshSession")[0]
    assert refresh_call.headers["authorization"] == f"Bearer {old_refresh}"
    create_call = fake_bsky.calls("POST", r"/xrpc/com\.atproto\.repo\.createRecord")[-1]
    assert create_call.headers["authorization"] == f"Bearer {conn.access_token}"


def test_revoked_app_password_needs_reconnect(user, linked, fake_bsky, alice) -> None:
    fake_bsky.revoke_account(alice.did)
    response = publish(linked, content="nobody home")
    assert response.status_code == 409
    assert response.json()["code"] == "reauth_required"
    assert Connection.objects.get(user=user, network="bluesky").needs_reauth


def test_rate_limit_queues_a_retry_at_the_reset(
    user, linked, fake_bsky, alice, django_capture_on_commit_callbacks
) -> None:
    reset = fake_bsky.rate_limit_next("POST", r"/xrpc/com\.atproto\.repo\.createRecord", reset_in=600)
    with django_capture_on_commit_callbacks(execute=True):
        response = publish(linked, content="slow down")
    assert response.status_code == 202, response.content
    post = Post.objects.get(pk=response.json()["id"])
    assert post.status == "publishing"
    assert post.failure_code == "rate_limited"
    assert post.next_retry_at is not None
    assert abs(post.next_retry_at.timestamp() - reset) < 2
    run_queued_job(post)
    post.refresh_from_db()
    assert post.status == "published"
    assert len(fake_bsky.posts_of(alice.did)) == 1


def test_timeout_after_the_pds_accepted_does_not_duplicate(
    user, linked, fake_bsky, alice, settings, django_capture_on_commit_callbacks
) -> None:
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 0.5
    fake_bsky.add_fault(
        Fault(method="POST", path=r"/xrpc/com\.atproto\.repo\.createRecord", kind="hang_after", delay=1.5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = publish(linked, content="exactly once, please")
    assert response.status_code == 202
    assert response.json()["failure_code"] == "outcome_unknown"
    assert len(fake_bsky.posts_of(alice.did)) == 1
    settings.POSTS_HTTP_TIMEOUT_SECONDS = 2.0
    run_queued_job(Post.objects.get(pk=response.json()["id"]))
    post = Post.objects.get(pk=response.json()["id"])
    [record] = fake_bsky.posts_of(alice.did)
    assert post.status == "published"
    assert post.post_id == record.uri
    outcomes = list(PublishAttempt.objects.filter(post=post).values_list("outcome", flat=True))
    assert outcomes == [AttemptOutcome.FOUND]


def test_settings_form_connects_and_explains_refusals(user, fake_bsky, alice) -> None:
    from django.test import Client

    browser = Client()
    browser.force_login(user)
    refused = browser.post("/settings/bluesky/connect/", {"identifier": "alice.bsky.test", "app_password": "hunter2"})
    assert refused.status_code == 302
    assert "code=app_password_required" in refused["Location"]
    assert not fake_bsky.calls("POST", r"/xrpc/com\.atproto\.server\.createSession")  # never sent
    done = browser.post("/settings/bluesky/connect/", {"identifier": "@alice.bsky.test", "app_password": APP_PASSWORD})
    assert "connection_status=success" in done["Location"]
    page = browser.get(done["Location"]).content.decode()
    assert "Connected as <strong>@alice.bsky.test</strong>" in page
