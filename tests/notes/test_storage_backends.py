"""Audio on Google Cloud Storage (gcp-storage-emulator) and S3 (moto server), both on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.notes import services
from mindpost.notes.models import Note

pytestmark = pytest.mark.django_db

URL = "/api/brain-dumps/"


def _upload(client: APIClient, data: bytes) -> dict[str, Any]:
    response = client.post(URL, {"audio_file": SimpleUploadedFile("a.bin", data)}, format="multipart")
    assert response.status_code == 201, response.content
    return dict(response.json())


def _local(url: str) -> str:
    return url.removeprefix("http://testserver")


@pytest.fixture
def no_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "_enqueue", lambda *args: None)


@pytest.mark.usefixtures("no_jobs")
def test_gcs_stores_streams_and_deletes_audio(
    gcs_storage: str,
    api: APIClient,
    auth_api: APIClient,
    user: User,
    speech: Callable[[str], bytes],
    django_capture_on_commit_callbacks: Any,
    make_user: Callable[..., User],
) -> None:
    audio = speech("webm")
    body = _upload(auth_api, audio)
    note = Note.objects.get(pk=body["id"])
    assert note.audio.startswith(f"users/{user.pk}/notes/")
    # The object really is in the emulator's bucket.
    from google.cloud import storage as gcs

    client = gcs.Client(project="test", credentials=default_storage.credentials)  # type: ignore[attr-defined]
    blob = client.bucket("mindpost-test").blob(note.audio)
    assert blob.download_as_bytes() == audio

    # Streamed through our view to the owner (token link), with ranges.
    response = api.get(_local(body["recording"]))
    assert response.status_code == 200
    assert b"".join(cast(Any, response).streaming_content) == audio
    part = api.get(_local(body["recording"]), headers={"Range": "bytes=0-9"})
    assert part.status_code == 206
    assert b"".join(cast(Any, part).streaming_content) == audio[:10]

    # Another user cannot fetch it, even with the id.
    intruder = APIClient()
    intruder.force_authenticate(make_user())
    assert intruder.get(f"{URL}{note.pk}/recording/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        assert auth_api.delete(f"{URL}{note.pk}/").status_code == 204
    assert not blob.exists()


@pytest.mark.usefixtures("no_jobs")
def test_s3_redirects_to_a_short_lived_signed_url(
    s3_storage: str,
    api: APIClient,
    auth_api: APIClient,
    user: User,
    speech: Callable[[str], bytes],
    django_capture_on_commit_callbacks: Any,
    make_user: Callable[..., User],
) -> None:
    audio = speech("m4a")
    body = _upload(auth_api, audio)
    note = Note.objects.get(pk=body["id"])
    assert default_storage.exists(note.audio)

    # The API hands out our own URL; after the ownership check it redirects to S3.
    assert body["recording"].startswith("http://testserver/")
    response = api.get(_local(body["recording"]))
    assert response.status_code == 302
    signed = response["Location"]
    assert signed.startswith(s3_storage)
    query = parse_qs(urlsplit(signed).query)
    assert "X-Amz-Signature" in query or "Signature" in query
    fetched = httpx.get(signed)
    assert fetched.status_code == 200
    assert fetched.content == audio

    # The object is private: without the signature there is no audio. (Checking the
    # signature itself is S3's job; moto does not verify it.)
    parts = urlsplit(signed)
    assert httpx.get(urlunsplit((*parts[:3], "", ""))).status_code == 403
    # Short-lived: the storage's 60 s expiry from the fixture.
    if "X-Amz-Expires" in query:
        assert int(query["X-Amz-Expires"][0]) <= 60
    else:
        assert int(query["Expires"][0]) - time.time() <= 61

    intruder = APIClient()
    intruder.force_authenticate(make_user())
    assert intruder.get(f"{URL}{note.pk}/recording/").status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        assert auth_api.delete(f"{URL}{note.pk}/").status_code == 204
    assert not default_storage.exists(note.audio)
