"""Note audio is encrypted at rest, streams back decrypted with Range, and still transcribes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from cryptography.fernet import Fernet
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from rest_framework.test import APIClient

from mindpost.accounts import services as account_services
from mindpost.accounts.models import User
from mindpost.ai import audio as ai_audio
from mindpost.core import filecrypt
from mindpost.notes import services, storage
from mindpost.notes.models import Note, NoteStatus
from tests.ai import speech as ai_speech
from tests.core.test_filecrypt import encrypted_backend
from tests.notes.test_pipeline import StubEmbedder

pytestmark = pytest.mark.django_db

URL = "/api/brain-dumps/"


@pytest.fixture
def encrypted_media(settings: Any, media_dir: Path) -> Path:
    """The production shape: the encrypting wrapper around the filesystem backend."""
    settings.STORAGES = {**settings.STORAGES, "default": encrypted_backend(media_dir)}
    return media_dir


@pytest.fixture
def no_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "_enqueue", lambda *args: None)


def _upload(client: APIClient, data: bytes, name: str = "a.webm") -> dict[str, Any]:
    response = client.post(URL, {"audio_file": SimpleUploadedFile(name, data)}, format="multipart")
    assert response.status_code == 201, response.content
    return dict(response.json())


def _body(response: Any) -> bytes:
    return b"".join(cast(Any, response).streaming_content)


def _local(url: str) -> str:
    return url.removeprefix("http://testserver")


@pytest.mark.usefixtures("no_jobs")
def test_upload_is_encrypted_on_disk_and_plays_back_with_ranges(
    encrypted_media: Path, api: APIClient, auth_api: APIClient, speech: Callable[[str], bytes]
) -> None:
    audio = speech("webm")
    body = _upload(auth_api, audio)
    note = Note.objects.get(pk=body["id"])
    raw = (encrypted_media / note.audio).read_bytes()
    assert raw.startswith(filecrypt.MAGIC)
    assert audio[:64] not in raw
    assert audio[1000:1064] not in raw
    assert note.audio_bytes == len(audio)

    whole = api.get(_local(body["recording"]))
    assert whole.status_code == 200
    assert whole["Content-Length"] == str(len(audio))
    assert _body(whole) == audio

    part = api.get(_local(body["recording"]), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(audio)}"
    assert part["Content-Length"] == "100"
    assert _body(part) == audio[100:200]

    tail = api.get(_local(body["recording"]), headers={"Range": "bytes=-50"})
    assert tail.status_code == 206
    assert _body(tail) == audio[-50:]
    refused = api.get(_local(body["recording"]), headers={"Range": f"bytes={len(audio)}-"})
    assert refused.status_code == 416
    assert refused["Content-Range"] == f"bytes */{len(audio)}"


@pytest.mark.usefixtures("no_jobs")
def test_ranges_across_chunk_boundaries(encrypted_media: Path, auth_api: APIClient, api: APIClient) -> None:
    wav = ai_speech.jfk_wav().read_bytes()  # ~350 kB: several 64 KiB chunks
    body = _upload(auth_api, wav, "jfk.wav")
    boundary = filecrypt.CHUNK_SIZE
    for first, last in ((boundary - 10, boundary + 9), (0, 0), (3 * boundary, 3 * boundary + 2 * boundary)):
        response = api.get(_local(body["recording"]), headers={"Range": f"bytes={first}-{last}"})
        assert response.status_code == 206
        assert _body(response) == wav[first : last + 1]


def test_encrypted_files_are_always_streamed(encrypted_media: Path, settings: Any) -> None:
    settings.NOTE_AUDIO_DELIVERY = "redirect"  # a signed URL would serve ciphertext
    assert storage.delivery_mode() == "stream"
    settings.NOTE_AUDIO_DELIVERY = "auto"
    assert storage.delivery_mode() == "stream"


def test_redirect_is_possible_only_with_encryption_off(settings: Any, media_dir: Path) -> None:
    settings.STORAGES = {**settings.STORAGES, "default": encrypted_backend(media_dir, encrypt=False)}
    settings.NOTE_AUDIO_DELIVERY = "redirect"
    assert storage.delivery_mode() == "redirect"
    settings.NOTE_AUDIO_DELIVERY = "auto"
    assert storage.delivery_mode() == "stream"  # the filesystem has no signed URLs


@pytest.mark.usefixtures("no_jobs")
def test_legacy_plaintext_recording_still_plays(
    encrypted_media: Path, settings: Any, api: APIClient, auth_api: APIClient, speech: Callable[[str], bytes]
) -> None:
    audio = speech("webm")
    # Uploaded before encryption was switched on.
    settings.STORAGES = {**settings.STORAGES, "default": encrypted_backend(encrypted_media, encrypt=False)}
    body = _upload(auth_api, audio)
    settings.STORAGES = {**settings.STORAGES, "default": encrypted_backend(encrypted_media)}
    note = Note.objects.get(pk=body["id"])
    assert (encrypted_media / note.audio).read_bytes() == audio
    part = api.get(_local(body["recording"]), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert _body(part) == audio[100:200]


@pytest.mark.usefixtures("no_jobs")
def test_account_export_holds_the_plaintext_audio(
    encrypted_media: Path, auth_api: APIClient, user: User, speech: Callable[[str], bytes]
) -> None:
    audio = speech("webm")
    body = _upload(auth_api, audio)
    note = Note.objects.get(pk=body["id"])
    with zipfile.ZipFile(account_services.account_export(user=user)) as archive:
        name = "files/" + note.audio.removeprefix(f"users/{user.pk}/")
        assert archive.read(name) == audio


def test_real_upload_is_stored_encrypted_and_transcribes(
    encrypted_media: Path,
    auth_api: APIClient,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The real local Whisper reads the decrypted audio; the plaintext copy is removed after."""
    monkeypatch.setattr(services, "_enqueue", lambda *args: None)
    monkeypatch.setattr(services, "get_embedder", StubEmbedder)
    settings.TRANSCRIBE_BACKEND = "local"
    decoded_from: list[Path] = []
    real_decode = ai_audio.decode

    def spy(path: Path | str, **kwargs: Any) -> ai_audio.DecodedAudio:
        decoded_from.append(Path(path))
        assert not Path(path).read_bytes().startswith(filecrypt.MAGIC)  # the decoder sees plaintext
        return real_decode(path, **kwargs)

    monkeypatch.setattr(ai_audio, "decode", spy)
    wav = ai_speech.jfk_wav().read_bytes()
    body = _upload(auth_api, wav, "jfk.wav")
    note = Note.objects.get(pk=body["id"])
    raw = (encrypted_media / note.audio).read_bytes()
    assert raw.startswith(filecrypt.MAGIC)
    assert wav[44:1044] not in raw  # not even the PCM samples

    services.note_process(note_id=note.pk, final_attempt=False)
    note.refresh_from_db()
    assert note.status == NoteStatus.READY, note.failure_reason
    assert "fellow americans" in note.transcription.lower()
    assert decoded_from
    assert all(not path.exists() for path in decoded_from)


def test_a_tampered_recording_is_an_error_not_garbage(
    encrypted_media: Path, no_jobs: None, auth_api: APIClient, speech: Callable[[str], bytes]
) -> None:
    body = _upload(auth_api, speech("webm"))
    path = encrypted_media / Note.objects.get(pk=body["id"]).audio
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    with storage.open_audio(str(path.relative_to(encrypted_media))) as handle:
        handle.seek(cast(Any, handle).size - 1)
        with pytest.raises(filecrypt.FileDecryptionError):
            handle.read(1)


@pytest.mark.usefixtures("no_jobs")
@pytest.mark.parametrize("backend", ["gcs_storage", "s3_storage"])
def test_cloud_buckets_hold_ciphertext_and_rotation_rewrites_objects(
    backend: str,
    request: pytest.FixtureRequest,
    settings: Any,
    api: APIClient,
    auth_api: APIClient,
    speech: Callable[[str], bytes],
) -> None:
    request.getfixturevalue(backend)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "mindpost.core.encrypted_storage.EncryptedStorage",
            "OPTIONS": {"inner": settings.STORAGES["default"]},
        },
    }
    settings.NOTE_AUDIO_DELIVERY = "auto"
    audio = speech("m4a")
    body = _upload(auth_api, audio)
    note = Note.objects.get(pk=body["id"])
    inner = default_storage.inner  # type: ignore[attr-defined]
    with inner.open(note.audio, "rb") as raw:
        stored = raw.read()
    assert stored.startswith(filecrypt.MAGIC)
    assert audio[:64] not in stored

    # Streamed (not redirected to a signed URL that would serve ciphertext), with ranges.
    part = api.get(_local(body["recording"]), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert _body(part) == audio[100:200]

    # Rotation on an object store: the object is rewritten under the same name.
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("reencrypt", "--files-only", stdout=out)
    assert "1 rewrapped" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert _body(api.get(_local(body["recording"]))) == audio
    with inner.open(note.audio, "rb") as raw:
        assert raw.read()[-1000:] == stored[-1000:]  # the same body
