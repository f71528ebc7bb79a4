"""The installable app's server side (issue 12, item 3): manifest, service worker, offline page and
the share target's upload (CSRF, sign-in, quotas, per-user isolation). The browser test is
tests/browser/test_pwa.py."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from mindpost.accounts.models import User
from mindpost.notes.models import Note
from tests.notes import audio_files

pytestmark = pytest.mark.django_db

SHARE = "/share/"


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    return tmp_path


def _audio(seconds: float = 2.0) -> SimpleUploadedFile:
    data = audio_files.wav_bytes(audio_files.tone(seconds))
    return SimpleUploadedFile("memo.wav", data, content_type="audio/wav")


def _csrf_client(user: User | None) -> Client:
    """A client that enforces CSRF, as a browser session does, with its csrftoken cookie set."""
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    client.get("/offline/")  # renders {% csrf_token %}: sets the cookie
    return client


def _share(client: Client, *, token: bool = True, key: str | None = None) -> Any:
    headers: dict[str, str] = {}
    if token:
        headers["X-CSRFToken"] = client.cookies["csrftoken"].value
    if key:
        headers["Idempotency-Key"] = key
    return client.post(SHARE, {"audio": _audio()}, headers=headers)


def test_the_manifest_names_the_app_its_icons_and_the_share_target(client: Client) -> None:
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/manifest+json"
    data = json.loads(response.content)
    assert data["name"] == "MindPost"
    assert data["display"] == "standalone"
    assert data["start_url"] == "/record/"
    assert data["theme_color"] == "#6425f5"
    purposes = {(icon["sizes"], icon["purpose"]) for icon in data["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= purposes
    for icon in data["icons"]:
        # static() may add a hash; the file behind the plain name has the stated size.
        name = icon["src"].removeprefix("/static/")
        found = finders.find(name)
        assert found, icon["src"]
        with Image.open(found) as image:
            assert "{}x{}".format(*image.size) == icon["sizes"]
    target = data["share_target"]
    assert target["action"] == SHARE
    assert target["method"] == "POST"
    assert target["enctype"] == "multipart/form-data"
    assert target["params"]["files"][0]["name"] == "audio"
    assert "audio/*" in target["params"]["files"][0]["accept"]


def test_the_service_worker_is_served_at_the_root_uncached_with_the_app_shell(client: Client) -> None:
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert "no-cache" in response["Cache-Control"]
    body = response.content.decode()
    config = json.loads(body.split("var CONFIG = ", 1)[1].split(";\n", 1)[0])
    assert config["offline"] == "/offline/"
    assert config["share"] == SHARE
    assert any(url.endswith(".js") and "record" in url for url in config["assets"])


def test_every_page_links_the_manifest_and_registers_the_worker(web: Client, user: User, client: Client) -> None:
    html = web.get("/record/").content.decode()
    assert '<link rel="manifest" href="/manifest.webmanifest">' in html
    assert 'data-sw-url="/sw.js"' in html
    assert f'<meta name="mp-user" content="{user.pk}">' in html
    assert '<meta name="mp-user" content="">' in client.get("/").content.decode()


def test_the_offline_page_has_a_queue_only_recorder_and_nobody_s_data(client: Client) -> None:
    response = client.get("/offline/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-queue-only="true"' in html
    assert '<meta name="mp-offline"' in html


def test_a_shared_file_becomes_a_note_of_the_signed_in_user(make_user: Callable[..., User]) -> None:
    alice, bob = make_user("alice@example.com"), make_user("bob@example.com")
    response = _share(_csrf_client(alice), key="share-1")
    assert response.status_code == 303
    note = Note.objects.get(user=alice)
    assert response["Location"] == f"/notes/{note.pk}/"
    # The same key from another account is another note: keys are per user.
    other = _share(_csrf_client(bob), key="share-1")
    assert other.status_code == 303
    assert Note.objects.get(user=bob).pk != note.pk
    # A retry with the same key is the same note.
    again = _share(_csrf_client(alice), key="share-1")
    assert again["Location"] == f"/notes/{note.pk}/"
    assert Note.objects.filter(user=alice).count() == 1


def test_a_share_without_a_csrf_token_stores_nothing(user: User) -> None:
    """What the OS sends when no service worker catches it (or what a forged cross-site form
    sends): no note, and a page that asks to share again."""
    response = _share(_csrf_client(user), token=False)
    assert response.status_code == 303
    assert response["Location"] == "/share/?failed=1"
    assert not Note.objects.exists()
    client = _csrf_client(user)
    bad = client.post(SHARE, {"audio": _audio()}, headers={"X-CSRFToken": "x" * 32})
    assert bad.status_code == 403
    assert not Note.objects.exists()


def test_signed_out_shares_go_to_sign_in_and_back() -> None:
    client = _csrf_client(None)
    page = client.get(SHARE + "?received=1")
    assert page.status_code == 302
    assert page["Location"].startswith("/accounts/login/?next=/share/")
    posted = _share(client)
    assert posted.status_code == 302
    assert posted["Location"].startswith("/accounts/login/?next=/share/")
    assert not Note.objects.exists()


def test_shared_audio_gets_the_upload_limits(user: User, settings: Any) -> None:
    client = _csrf_client(user)
    missing = client.post(SHARE, {}, headers={"X-CSRFToken": client.cookies["csrftoken"].value})
    assert missing.status_code == 400
    assert missing.json()["code"] == "audio_missing"
    settings.NOTE_MAX_UPLOAD_BYTES = 1000
    too_big = _share(client)
    assert too_big.status_code == 413
    assert not Note.objects.exists()


def test_the_share_page_is_for_the_signed_in_user(web: Client) -> None:
    response = web.get(SHARE + "?failed=1")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="share-failed"' in html
    assert "web/share" in html
    assert "web/record" in html  # share.js reads record.js's queue
