"""Post text (content and thread parts) is encrypted at rest; the API still speaks plaintext."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from mindpost.core import crypto, filecrypt
from mindpost.core.fields import EncryptedJSONField, EncryptedTextField
from mindpost.posts.models import Post, PostImage
from tests.core.test_filecrypt import encrypted_backend
from tests.posts.conftest import api_for, connect_x, image_bytes, upload

pytestmark = pytest.mark.django_db

SECRET = "Met Nikos in Nafplio; he builds wooden boats and wants to sail to Hydra."


def raw_row(post_id: Any) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT content, parts FROM posts_post WHERE id = %s", [post_id])
        row = cursor.fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def test_post_fields_are_encrypted_fields() -> None:
    assert isinstance(Post._meta.get_field("content"), EncryptedTextField)
    assert isinstance(Post._meta.get_field("parts"), EncryptedJSONField)


def test_single_post_is_stored_encrypted_and_served_in_plaintext(user: Any, media: Any) -> None:
    client = api_for(user)
    created = client.post("/api/posts/", {"content": SECRET}, format="json")
    assert created.status_code == 201, created.content
    post_id = created.json()["id"]

    content, parts = raw_row(post_id)
    assert "Nafplio" not in content
    assert content != SECRET
    assert crypto.decrypt(content) == SECRET
    assert json.loads(crypto.decrypt(parts)) == []

    assert client.get(f"/api/posts/{post_id}/").json()["content"] == SECRET
    assert client.get("/api/posts/").json()["results"][0]["content"] == SECRET
    patched = client.patch(f"/api/posts/{post_id}/", {"content": "Now about Hydra"}, format="json")
    assert patched.json()["content"] == "Now about Hydra"
    assert "Hydra" not in raw_row(post_id)[0]


def test_thread_parts_are_stored_encrypted(user: Any, media: Any) -> None:
    text = " ".join(f"Secret point {i} about Nafplio harbour and its boats." for i in range(20))
    body = api_for(user).post("/api/posts/", {"content": text, "format": "thread"}, format="json").json()
    assert len(body["parts"]) > 1

    content, parts = raw_row(body["id"])
    assert "Nafplio" not in content
    assert "Nafplio" not in parts
    assert json.loads(crypto.decrypt(parts)) == body["parts"]
    post = Post.objects.get(pk=body["id"])
    assert post.parts == body["parts"]
    assert post.texts == body["parts"]
    fetched = api_for(user).get(f"/api/posts/{body['id']}/").json()
    assert fetched["parts"] == body["parts"]


def test_unicode_parts_round_trip(user: Any) -> None:
    post = Post.objects.create(user=user, content="Ελλάδα 🌊", format="thread", parts=["1/2 Ελλάδα 🌊", '2/2 "quoted"'])
    again = Post.objects.get(pk=post.pk)
    assert again.content == "Ελλάδα 🌊"
    assert again.parts == ["1/2 Ελλάδα 🌊", '2/2 "quoted"']


def test_reencrypt_rotates_post_text(user: Any, settings: Any) -> None:
    post = Post.objects.create(user=user, content=SECRET, format="thread", parts=["1/2 a", "2/2 b"])
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    out = io.StringIO()
    call_command("reencrypt", stdout=out)
    assert "posts.Post.content: 1 re-encrypted" in out.getvalue()
    assert "posts.Post.parts: 1 re-encrypted" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new]
    again = Post.objects.get(pk=post.pk)
    assert again.content == SECRET
    assert again.parts == ["1/2 a", "2/2 b"]


@pytest.mark.django_db(transaction=True)
def test_migration_encrypts_existing_rows_and_reverses(make_user: Any) -> None:
    user = make_user()
    executor = MigrationExecutor(connection)
    before = [("posts", "0002_oauthstate_confirmation")]
    after = [("posts", "0003_encrypt_post_text")]
    executor.migrate(before)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO posts_post (id, user_id, network, format, content, parts, status, retry_count, "
                "holds_publish_unit, post_url, external_ids, failure_code, failure_detail, created_at, modified_at) "
                "VALUES (gen_random_uuid(), %s, 'x', 'thread', %s, %s::jsonb, 'draft', 0, false, '', '[]'::jsonb, "
                "'', '', now(), now()) RETURNING id",
                [user.pk, SECRET, json.dumps(["1/2 Nafplio", "2/2 Hydra"])],
            )
            post_id = cursor.fetchone()[0]
        executor = MigrationExecutor(connection)
        executor.migrate(after)

        content, parts = raw_row(post_id)
        assert "Nafplio" not in content + parts
        post = Post.objects.get(pk=post_id)
        assert post.content == SECRET
        assert post.parts == ["1/2 Nafplio", "2/2 Hydra"]

        executor = MigrationExecutor(connection)
        executor.migrate(before)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT content, parts::text, pg_typeof(parts)::text FROM posts_post WHERE id = %s", [post_id]
            )
            plain_content, plain_parts, column_type = cursor.fetchone()
        assert plain_content == SECRET
        assert json.loads(plain_parts) == ["1/2 Nafplio", "2/2 Hydra"]
        assert column_type == "jsonb"
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def encrypted_media(media: Path, settings: Any) -> Path:
    settings.STORAGES = {**settings.STORAGES, "default": encrypted_backend(media)}
    return media


def test_images_are_stored_encrypted_served_and_published_in_plaintext(
    user: Any, encrypted_media: Path, fake_x: Any, x_user: Any
) -> None:
    connect_x(user, fake_x)
    connected = api_for(user)
    png = image_bytes("PNG", size=(300, 200))
    created = connected.post(
        "/api/posts/", {"content": "Harbour", "media_files": [upload("a.png", png)]}, format="multipart"
    )
    assert created.status_code == 201, created.content
    image = PostImage.objects.get()
    assert image.image.name
    raw = (encrypted_media / image.image.name).read_bytes()
    assert raw.startswith(filecrypt.MAGIC)
    assert png[:32] not in raw
    assert image.size == len(png) == image.image.size

    fetched = connected.get(created.json()["images"][0]["image"])
    assert fetched.status_code == 200
    assert fetched["Content-Length"] == str(len(png))
    assert b"".join(fetched.streaming_content) == png  # type: ignore[attr-defined]

    published = connected.post(f"/api/posts/{created.json()['id']}/publish/")
    assert published.status_code == 200, published.content
    tweet = fake_x.tweets_of(x_user.id)[0]
    assert fake_x.media[tweet.media_ids[0]]["content"] == png
