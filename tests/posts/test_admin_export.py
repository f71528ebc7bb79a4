"""The account export includes posts (never tokens); the admin shows tokens masked only."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.test import Client

from mindpost.posts.models import Connection, OAuthState, Post
from tests.conftest import bearer
from tests.posts.conftest import api_for, connect_x, image_bytes, upload

pytestmark = pytest.mark.django_db


def test_export_has_posts_and_images_but_no_tokens(api, user, media, fake_x, x_user) -> None:
    connection = connect_x(user, fake_x)
    api_for(user).post(
        "/api/posts/", {"content": "exported", "media_files": [upload("a.png", image_bytes())]}, format="multipart"
    )
    bearer(api, email=user.email)
    response = api.get("/api/me/export/")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    exported = json.loads(archive.read("posts.json"))
    assert [post["content"] for post in exported["posts"]] == ["exported"]
    assert exported["connections"][0]["username"] == "ada_l"
    raw = archive.read("posts.json").decode()
    assert connection.access_token not in raw
    assert connection.refresh_token not in raw
    assert any(name.startswith("files/posts/") for name in archive.namelist())


def test_admin_masks_tokens(user, make_user, media, fake_x, x_user) -> None:
    connection = connect_x(user, fake_x)
    api_for(user).post("/api/posts/", {"content": "admin view"}, format="json")
    admin = make_user("root@example.com", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(admin)
    post = Post.objects.get()
    for url in (
        "/admin/posts/post/",
        f"/admin/posts/post/{post.pk}/change/",
        "/admin/posts/connection/",
        f"/admin/posts/connection/{connection.pk}/change/",
        "/admin/posts/publishattempt/",
        "/admin/posts/oauthstate/",
    ):
        response = browser.get(url)
        assert response.status_code == 200, url
        assert connection.access_token not in response.content.decode()
        assert connection.refresh_token not in response.content.decode()
    page = browser.get(f"/admin/posts/connection/{connection.pk}/change/").content.decode()
    assert "characters)" in page
    assert OAuthState.objects.exists()
    assert browser.get("/admin/posts/connection/add/").status_code == 403
    assert Connection.objects.count() == 1
