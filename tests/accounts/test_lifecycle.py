from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.core import userdata
from tests.conftest import bearer

pytestmark = pytest.mark.django_db


def zip_bytes(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.fixture
def media(tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    return tmp_path


def test_export_contains_profile_and_files(api: APIClient, user: User, media) -> None:
    default_storage.save(userdata.user_file_path(user.pk, "notes", "a.webm"), ContentFile(b"audio-bytes"))
    bearer(api, email=user.email)
    response = api.get("/api/me/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes(response)))
    profile = json.loads(archive.read("profile.json"))
    assert profile["email"] == user.email
    assert archive.read("files/notes/a.webm") == b"audio-bytes"
    assert json.loads(archive.read("manifest.json"))["files"] == ["notes/a.webm"]


def test_export_is_per_user(api: APIClient, make_user, media) -> None:
    alice = make_user("alice@example.com")
    bob = make_user("bob@example.com")
    default_storage.save(userdata.user_file_path(bob.pk, "secret.txt"), ContentFile(b"bob"))
    bearer(api, email=alice.email)
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes(api.get("/api/me/export/"))))
    assert json.loads(archive.read("profile.json"))["email"] == alice.email
    assert not [name for name in archive.namelist() if name.startswith("files/")]
    assert "bob" not in archive.read("profile.json").decode()


@pytest.mark.parametrize("method", ["post", "delete"])
def test_account_delete_removes_everything(
    api: APIClient, make_user, media, method: str, django_capture_on_commit_callbacks
) -> None:
    doomed = make_user("doomed@example.com")
    keeper = make_user("keeper@example.com")
    default_storage.save(userdata.user_file_path(doomed.pk, "notes", "x.wav"), ContentFile(b"x"))
    default_storage.save(userdata.user_file_path(keeper.pk, "notes", "y.wav"), ContentFile(b"y"))
    tokens = api.post("/api/token/", {"email": doomed.email, "password": "a-Long-and-unusual-passphrase-42"}).json()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

    with django_capture_on_commit_callbacks(execute=True):
        response = getattr(api, method)(
            "/api/account/delete/",
            {"password": "a-Long-and-unusual-passphrase-42", "refresh_token": tokens["refresh"]},
            format="json",
        )
    assert response.status_code == 200
    assert response.json()["status"] == "success"

    assert not User.objects.filter(pk=doomed.pk).exists()
    assert list(userdata.iter_user_files(doomed.pk)) == []
    assert list(userdata.iter_user_files(keeper.pk)) == [userdata.user_file_path(keeper.pk, "notes", "y.wav")]
    # Its tokens are dead.
    assert api.get("/api/me/").status_code == 401
    assert api.post("/api/token/refresh/", {"refresh": tokens["refresh"]}, format="json").status_code == 401


def test_profile_isolation(api: APIClient, make_user) -> None:
    alice = make_user("alice@example.com")
    make_user("bob@example.com")
    bearer(api, email=alice.email)
    assert api.get("/api/me/").json()["email"] == alice.email
    # There is no way to address another profile: ids in the path are not routes.
    assert api.get(f"/api/me/{User.objects.get(email='bob@example.com').pk}/").status_code == 404
