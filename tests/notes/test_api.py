"""The notes API after upload: list and filters, detail, edit, delete, retry, settings, audio, export."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from django.core import signing
from django.utils import timezone
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.billing import metering
from mindpost.notes import services, storage
from mindpost.notes.models import Note, NoteKind, NoteSettings, NoteStatus, Passage
from tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

URL = "/api/brain-dumps/"


def make_note(user: User, **fields: Any) -> Note:
    """A note row (tests/factories.py NoteFactory), a voice note unless `kind=` says otherwise."""
    return NoteFactory.create(user=user, **{"kind": NoteKind.VOICE, **fields})


@pytest.fixture
def other(make_user: Callable[..., User]) -> User:
    return make_user("mallory@example.com")


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    jobs: list[tuple[str, Any]] = []
    monkeypatch.setattr(services, "_enqueue", lambda name, note_id: jobs.append((name, note_id)))
    return jobs


# --- list -------------------------------------------------------------------------------------------


def test_list_is_newest_first_and_paginated(auth_api: APIClient, user: User, other: User) -> None:
    now = timezone.now()
    for i in range(25):
        make_note(user, text=f"Note {i}.", created_at=now - timedelta(minutes=i))
    make_note(other, text="Not yours.")
    response = auth_api.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 25
    assert len(body["results"]) == 20
    assert [n["transcription"] for n in body["results"][:2]] == ["Note 0.", "Note 1."]
    assert body["next"]
    second = auth_api.get(URL, {"page": 2}).json()
    assert [n["transcription"] for n in second["results"]][-1] == "Note 24."
    assert len(auth_api.get(URL, {"page_size": 5}).json()["results"]) == 5
    fields = set(body["results"][0])
    assert {"id", "created_at", "transcription", "edited", "recording"} <= fields  # reference names
    assert {"status", "failure_code", "failure_reason", "language", "duration_seconds", "tags", "title"} <= fields
    assert "segments" in fields


def test_list_filters(auth_api: APIClient, user: User) -> None:
    now = timezone.now()
    travel = make_note(user, text="Trip.", tags=["travel", "greece"], created_at=now - timedelta(days=10))
    make_note(user, text="Work.", tags=["work"], created_at=now - timedelta(days=1))
    failed = make_note(user, text="", status=NoteStatus.FAILED, failure_code="no_speech")

    def ids(**params: str) -> list[str]:
        response = auth_api.get(URL, params)
        assert response.status_code == 200, response.content
        return [n["id"] for n in response.json()["results"]]

    assert ids(tag="travel") == [str(travel.pk)]
    assert ids(tag="#Travel") == [str(travel.pk)]  # normalised like the stored tag
    assert ids(tag="nothing") == []
    assert ids(status="failed") == [str(failed.pk)]
    assert len(ids(status="ready")) == 2
    since = (now - timedelta(days=2)).isoformat()
    assert str(travel.pk) not in ids(since=since)
    assert ids(until=(now - timedelta(days=5)).date().isoformat()) == [str(travel.pk)]
    assert len(ids(since=(now - timedelta(days=30)).date().isoformat(), until=now.date().isoformat())) == 3


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"since": "yesterday"},
        {"until": "2026-13-45"},
        {"since": "2026-02-01", "until": "2026-01-01"},
        {"tag": "#"},
    ],
)
def test_bad_filters_are_400(auth_api: APIClient, params: dict[str, str]) -> None:
    response = auth_api.get(URL, params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filter"


def test_list_query_count_does_not_grow_with_notes(auth_api: APIClient, user: User) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert auth_api.get(URL).status_code == 200
        return len(captured)

    make_note(user, text="Note.")
    one = queries()
    for i in range(15):
        make_note(user, text=f"Note {i}.")
    assert queries() == one


# --- detail, edit ---------------------------------------------------------------------------------------


def test_retrieve(auth_api: APIClient, user: User) -> None:
    note = make_note(user, language="en", duration_seconds=12.5)
    note.segments = [{"start": 0.0, "end": 2.5, "text": "Met Nikos in Athens."}]
    note.save()
    body = auth_api.get(f"{URL}{note.pk}/").json()
    assert body["id"] == str(note.pk)
    assert body["language"] == "en"
    assert body["segments"] == [{"start": 0.0, "end": 2.5, "text": "Met Nikos in Athens."}]
    assert body["failure_code"] is None
    assert body["recording"] is None


def test_patch_transcription_sets_edited_and_reindexes_in_the_background(
    auth_api: APIClient, user: User, queued: list, django_capture_on_commit_callbacks: Any
) -> None:
    note = make_note(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_api.patch(
            f"{URL}{note.pk}/",
            {"transcription": "Met Stavros in Nafplio. #boats", "edited": False, "status": "failed"},
            format="json",
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["transcription"] == "Met Stavros in Nafplio. #boats"
    assert body["edited"] is True
    assert body["status"] == "ready"  # read-only fields are ignored
    assert body["title"] == "Met Stavros in Nafplio"
    assert body["tags"][0] == "boats"
    assert queued == [("reindex", note.pk)]
    # PUT works the same (reference client); an unchanged text does not reindex again.
    assert auth_api.put(f"{URL}{note.pk}/", {"transcription": body["transcription"]}, format="json").status_code == 200
    assert queued == [("reindex", note.pk)]


@pytest.mark.parametrize("payload", [{"transcription": ""}, {"transcription": "   "}, {}])
def test_patch_rejects_empty_or_missing_transcription(auth_api: APIClient, user: User, payload: dict) -> None:
    note = make_note(user)
    response = auth_api.patch(f"{URL}{note.pk}/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] in ("empty_text", "invalid")
    note.refresh_from_db()
    assert note.edited is False


def test_patch_while_processing_is_409(auth_api: APIClient, user: User) -> None:
    note = make_note(user, status=NoteStatus.PROCESSING)
    response = auth_api.patch(f"{URL}{note.pk}/", {"transcription": "new"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "note_not_ready"


# --- delete ---------------------------------------------------------------------------------------------


def test_delete_removes_note_passages_and_audio_after_commit(
    auth_api: APIClient, user: User, media_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    note = make_note(user, audio=b"RIFF....WAVE", media=media_dir)
    Passage.objects.create(note=note, user=user, position=0, text="x", embedding=[0.1] * 384, embedding_model="m")
    path = media_dir / note.audio
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert auth_api.delete(f"{URL}{note.pk}/").status_code == 204
    assert path.exists()  # not before the commit
    for callback in callbacks:
        callback()
    assert not path.exists()
    assert not Note.objects.filter(pk=note.pk).exists()
    assert not Passage.objects.exists()
    assert auth_api.get(f"{URL}{note.pk}/").status_code == 404


# --- retry ---------------------------------------------------------------------------------------------


def test_retry_failed_note(
    auth_api: APIClient,
    user: User,
    media_dir: Path,
    queued: list,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reserved: list[Any] = []
    monkeypatch.setattr(metering, "reserve", lambda *, user, metric: reserved.append(metric))
    note = make_note(
        user,
        text="",
        status=NoteStatus.FAILED,
        failure_code="ai_unavailable",
        failure_reason="Down.",
        audio=b"RIFF",
        media=media_dir,
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_api.post(f"{URL}{note.pk}/retry/")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "processing"
    assert body["failure_code"] is None
    assert queued == [("process", note.pk)]
    assert reserved == [metering.Metric.RECORDINGS]
    note.refresh_from_db()
    assert note.holds_recording_unit is True


def test_retry_rules(auth_api: APIClient, user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    ready = make_note(user)
    response = auth_api.post(f"{URL}{ready.pk}/retry/")
    assert response.status_code == 409
    assert response.json()["code"] == "note_not_failed"
    gone = make_note(user, text="", status=NoteStatus.FAILED, failure_code="audio_missing")
    response = auth_api.post(f"{URL}{gone.pk}/retry/")
    assert response.status_code == 409
    assert response.json()["code"] == "audio_unavailable"

    def refuse(*, user: Any, metric: Any) -> None:
        from mindpost.core.errors import QuotaExceeded

        raise QuotaExceeded("Limit.")

    monkeypatch.setattr(metering, "reserve", refuse)
    text_note = make_note(user, status=NoteStatus.FAILED, kind=NoteKind.TEXT)
    assert auth_api.post(f"{URL}{text_note.pk}/retry/").status_code == 202  # typed notes use no recording unit
    voice = make_note(user, status=NoteStatus.FAILED, transcribed_at=timezone.now())
    response = auth_api.post(f"{URL}{voice.pk}/retry/")
    assert response.status_code == 403
    voice.refresh_from_db()
    assert voice.status == NoteStatus.FAILED


# --- settings --------------------------------------------------------------------------------------------


def test_settings_get_and_patch(auth_api: APIClient, user: User) -> None:
    response = auth_api.get(f"{URL}settings/")
    assert response.status_code == 200
    assert response.json()["keep_audio"] is True
    assert response.json()["transcription_language"] == ""
    response = auth_api.patch(f"{URL}settings/", {"keep_audio": False, "transcription_language": "DE"}, format="json")
    assert response.status_code == 200
    assert response.json()["keep_audio"] is False
    assert NoteSettings.objects.get(user=user).transcription_language == "de"
    bad = auth_api.patch(f"{URL}settings/", {"transcription_language": "not a language"}, format="json")
    assert bad.status_code == 400
    assert auth_api.patch(f"{URL}settings/", {"keep_audio": "maybe"}, format="json").status_code == 400


# --- isolation -----------------------------------------------------------------------------------------------


def test_other_users_notes_are_404_everywhere(
    auth_api: APIClient, other: User, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "_enqueue", lambda *args: None)
    theirs = make_note(other, audio=b"RIFFsecret", media=media_dir, status=NoteStatus.FAILED)
    base = f"{URL}{theirs.pk}/"
    assert auth_api.get(base).status_code == 404
    assert auth_api.patch(base, {"transcription": "mine now"}, format="json").status_code == 404
    assert auth_api.put(base, {"transcription": "mine now"}, format="json").status_code == 404
    assert auth_api.delete(base).status_code == 404
    assert auth_api.post(f"{base}retry/").status_code == 404
    assert auth_api.get(f"{base}recording/").status_code == 404
    assert auth_api.get(URL).json()["count"] == 0
    theirs.refresh_from_db()
    assert theirs.transcription != "mine now"
    assert theirs.status == NoteStatus.FAILED
    body = auth_api.get(URL, {"status": "failed"}).json()
    assert body["count"] == 0


@pytest.mark.parametrize("suffix", ["not-a-uuid/", "12345/", "by_tag/", f"{uuid.uuid4()}/", "not-a-uuid/retry/"])
def test_unknown_and_malformed_ids_are_json_404(auth_api: APIClient, suffix: str) -> None:
    response = auth_api.get(f"{URL}{suffix}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert auth_api.delete(f"{URL}{suffix}").status_code == 404


def test_every_endpoint_needs_authentication(api: APIClient, user: User) -> None:
    note = make_note(user)
    for method, path in [
        ("get", URL),
        ("post", URL),
        ("get", f"{URL}{note.pk}/"),
        ("patch", f"{URL}{note.pk}/"),
        ("delete", f"{URL}{note.pk}/"),
        ("post", f"{URL}{note.pk}/retry/"),
        ("get", f"{URL}settings/"),
        ("patch", f"{URL}settings/"),
        ("get", f"{URL}{note.pk}/recording/"),
    ]:
        assert getattr(api, method)(path).status_code == 401, (method, path)


# --- recording URLs ------------------------------------------------------------------------------------------


def _recording(client: APIClient, url: str, **headers: Any) -> Any:
    return client.get(url.removeprefix("http://testserver"), **headers)


def test_recording_url_streams_with_ranges(api: APIClient, auth_api: APIClient, user: User, media_dir: Path) -> None:
    audio = bytes(range(256)) * 40
    note = make_note(user, audio=audio, media=media_dir)
    url = auth_api.get(f"{URL}{note.pk}/").json()["recording"]
    # The signed link works without any other credentials (an <audio> element can use it).
    whole = _recording(api, url)
    assert whole.status_code == 200
    assert whole["Content-Type"] == "audio/wav"
    assert whole["Accept-Ranges"] == "bytes"
    assert whole["Content-Length"] == str(len(audio))
    assert b"".join(whole.streaming_content) == audio
    part = _recording(api, url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(audio)}"
    assert b"".join(part.streaming_content) == audio[100:200]
    tail = _recording(api, url, HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == audio[-10:]
    open_ended = _recording(api, url, HTTP_RANGE=f"bytes={len(audio) - 5}-")
    assert b"".join(open_ended.streaming_content) == audio[-5:]
    beyond = _recording(api, url, HTTP_RANGE=f"bytes={len(audio) + 10}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(audio)}"
    # The owner, signed in, needs no token.
    assert auth_api.get(f"{URL}{note.pk}/recording/").status_code == 200


def test_recording_links_cannot_be_guessed_or_reused_for_another_note(
    api: APIClient, user: User, other: User, media_dir: Path, settings: Any
) -> None:
    mine = make_note(user, audio=b"RIFFmine", media=media_dir)
    theirs = make_note(other, audio=b"RIFFtheirs", media=media_dir)
    my_token = storage.recording_token(note_id=mine.pk, user_id=user.pk)
    assert api.get(f"{URL}{theirs.pk}/recording/", {"token": my_token}).status_code == 404
    forged = signing.dumps({"n": str(theirs.pk), "u": str(user.pk)}, salt="mindpost.notes.recording", compress=True)
    assert api.get(f"{URL}{theirs.pk}/recording/", {"token": forged}).status_code == 404
    assert api.get(f"{URL}{theirs.pk}/recording/", {"token": "garbage"}).status_code == 404
    tampered = my_token[:-2] + ("A" if my_token[-2] != "A" else "B") + my_token[-1]
    assert api.get(f"{URL}{mine.pk}/recording/", {"token": tampered}).status_code == 404

    settings.NOTE_AUDIO_URL_SECONDS = -1  # every token is already expired
    response = api.get(f"{URL}{mine.pk}/recording/", {"token": my_token})
    assert response.status_code == 403
    assert response.json()["code"] == "recording_link_expired"


def test_discarded_audio_has_no_recording(auth_api: APIClient, user: User) -> None:
    note = make_note(user, audio_discarded=True)
    assert auth_api.get(f"{URL}{note.pk}/").json()["recording"] is None
    assert auth_api.get(f"{URL}{note.pk}/recording/").status_code == 404


# --- export --------------------------------------------------------------------------------------------------


def test_account_export_includes_notes(auth_api: APIClient, user: User, other: User) -> None:
    note = make_note(user, tags=["travel"], language="en")
    note.segments = [{"start": 0.0, "end": 1.0, "text": "Met Nikos in Athens."}]
    note.save()
    make_note(other, text="Other person's secret.")
    response = auth_api.get("/api/me/export/")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(cast(Any, response).streaming_content)))
    data = json.loads(archive.read("notes.json"))
    assert [n["id"] for n in data["notes"]] == [str(note.pk)]
    exported = data["notes"][0]
    assert exported["transcription"] == "Met Nikos in Athens. He builds boats."
    assert exported["tags"] == ["travel"]
    assert exported["segments"][0]["text"] == "Met Nikos in Athens."
    assert data["settings"]["keep_audio"] is True
    assert "secret" not in archive.read("notes.json").decode()


# --- the database never holds plaintext --------------------------------------------------------------------------


def test_transcripts_segments_titles_and_tags_are_encrypted_at_rest(user: User) -> None:
    from django.db import connection

    note = make_note(user, text="Nikos builds boats in Nafplio.", tags=["nafplio"])
    note.segments = [{"start": 0.0, "end": 1.0, "text": "Nikos builds boats in Nafplio."}]
    note.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT transcription, title, segments_data, tags_data, array_to_string(tag_hashes, ' ') "
            "FROM notes_note WHERE id = %s",
            [note.pk],
        )
        row = cursor.fetchone()
    assert row is not None
    for value in row:
        assert "nafplio" not in value.lower()
        assert "nikos" not in value.lower()


def test_recording_streams_chunk_by_chunk_under_asgi(async_client: Any, user: User, media_dir: Path) -> None:
    """Under ASGI (uvicorn in production) the body is an async iterator, not read whole first."""
    from asgiref.sync import async_to_sync

    audio = bytes(range(256)) * 1000
    note = make_note(user, audio=audio, media=media_dir)
    token = storage.recording_token(note_id=note.pk, user_id=user.pk)

    async def fetch() -> tuple[Any, bytes]:
        response = await async_client.get(
            f"{URL}{note.pk}/recording/", {"token": token}, headers={"Range": "bytes=10-"}
        )
        return response, b"".join([chunk async for chunk in response.streaming_content])

    response, body = async_to_sync(fetch)()
    assert response.status_code == 206
    assert response.is_async
    assert body == audio[10:]
