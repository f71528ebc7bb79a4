"""POST /api/brain-dumps/: formats, every bad input, metering, idempotency, Prefer: wait, throttling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.billing import metering
from mindpost.core.errors import QuotaExceeded
from mindpost.notes.models import Note, NoteStatus
from tests.notes import audio_files

pytestmark = pytest.mark.django_db

URL = "/api/brain-dumps/"


def upload(client: APIClient, data: bytes, *, name: str = "note.bin", **headers: Any) -> Any:
    return client.post(
        URL,
        {"audio_file": SimpleUploadedFile(name, data, content_type="application/octet-stream")},
        format="multipart",
        **headers,
    )


@pytest.fixture
def meter(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts reserve/release calls on the RECORDINGS metric (billing itself is off in tests)."""
    counts = {"reserve": 0, "release": 0}

    def reserve(*, user: Any, metric: metering.Metric) -> None:
        assert metric == metering.Metric.RECORDINGS
        counts["reserve"] += 1

    def release(*, user: Any, metric: metering.Metric) -> None:
        assert metric == metering.Metric.RECORDINGS
        counts["release"] += 1

    monkeypatch.setattr(metering, "reserve", reserve)
    monkeypatch.setattr(metering, "release", release)
    return counts


def _wav(samples: Any) -> bytes:
    return audio_files.wav_bytes(samples)


@pytest.mark.parametrize("fmt", list(audio_files.FORMATS))
def test_every_accepted_format_makes_a_processing_note(
    fmt: str, auth_api: APIClient, user: User, speech: Callable[[str], bytes], media_dir: Path, meter: dict
) -> None:
    # The name says nothing: the format is detected from the content.
    response = upload(auth_api, speech(fmt), name="recording.bin")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "processing"
    assert body["transcription"] == ""
    assert body["edited"] is False
    assert 2.0 < body["duration_seconds"] < 8.0
    note = Note.objects.get(pk=body["id"])
    assert note.user == user
    assert note.audio.startswith(f"users/{user.pk}/notes/{note.pk}.")
    assert (media_dir / note.audio).read_bytes() == speech(fmt)
    assert body["recording"].startswith(f"http://testserver/api/brain-dumps/{note.pk}/recording/?token=")
    assert meter == {"reserve": 1, "release": 0}


def test_upload_enqueues_the_job_only_after_commit(
    auth_api: APIClient, speech: Callable[[str], bytes], django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from mindpost.notes import services

    queued: list[tuple[str, Any]] = []
    monkeypatch.setattr(services, "_enqueue", lambda name, note_id: queued.append((name, note_id)))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(auth_api, speech("webm"))
    assert response.status_code == 201
    assert len(callbacks) == 1
    assert queued == [("process", Note.objects.get().pk)]


def _code(response: Any) -> str:
    return str(response.json()["code"])


def test_missing_file_is_400(auth_api: APIClient, meter: dict) -> None:
    response = auth_api.post(URL, {}, format="multipart")
    assert response.status_code == 400
    assert _code(response) == "required"
    assert "audio_file" in response.json()["fields"]
    assert auth_api.post(URL, {"audio_file": "not a file"}, format="multipart").status_code == 400
    assert meter == {"reserve": 0, "release": 0}
    assert not Note.objects.exists()


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (b"", 400, "empty_audio"),
        (b"just some text, not audio at all" * 10, 415, "unsupported_format"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 200, 415, "unsupported_format"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\xff" * 64, 422, "corrupt_audio"),
        (b"fLaC" + b"\x00" * 300, 422, "corrupt_audio"),
    ],
)
def test_bad_files_are_4xx_with_a_code_and_leave_nothing_behind(
    auth_api: APIClient, payload: bytes, status: int, code: str, meter: dict, media_dir: Path
) -> None:
    response = upload(auth_api, payload)
    assert response.status_code == status, response.content
    assert _code(response) == code
    assert not Note.objects.exists()
    assert not any(p.is_file() for p in media_dir.rglob("*"))
    assert meter["reserve"] == meter["release"]


@pytest.mark.parametrize("fmt", ["m4a", "mp3", "ogg", "flac"])
def test_truncated_recordings_are_rejected_or_accepted_whole(
    fmt: str, auth_api: APIClient, speech: Callable[[str], bytes], meter: dict
) -> None:
    data = speech(fmt)
    response = upload(auth_api, data[: len(data) // 3] if fmt != "m4a" else data[:2000])
    # A file cut short must never be a 500 or a half-made note: either a 4xx with a code,
    # or (formats that stream, like ogg) a shorter but playable note.
    assert response.status_code in (201, 415, 422), response.content
    if response.status_code != 201:
        assert _code(response) in ("corrupt_audio", "empty_audio", "unsupported_format", "silent_audio")
        assert not Note.objects.exists()
        assert meter["reserve"] == meter["release"]


def test_truncated_m4a_is_corrupt(auth_api: APIClient, speech: Callable[[str], bytes]) -> None:
    response = upload(auth_api, speech("m4a")[:2000])
    assert response.status_code == 422
    assert _code(response) == "corrupt_audio"


def test_silent_recording_is_422(auth_api: APIClient, meter: dict) -> None:
    response = upload(auth_api, _wav(audio_files.silence(3.0)))
    assert response.status_code == 422
    assert _code(response) == "silent_audio"
    assert not Note.objects.exists()
    assert meter == {"reserve": 1, "release": 1}


def test_too_long_recording_uses_the_setting_when_the_plan_has_no_cap(
    auth_api: APIClient, settings: Any, meter: dict
) -> None:
    settings.NOTE_MAX_DURATION_SECONDS = 2
    response = upload(auth_api, _wav(audio_files.tone(5.0)))
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "recording_too_long"
    assert body["max_seconds"] == 2
    assert 4.5 < body["duration_seconds"] < 5.5
    assert meter == {"reserve": 1, "release": 1}


def test_too_long_recording_uses_the_plan_cap(auth_api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metering, "max_recording_seconds", lambda *, user: 3)
    assert upload(auth_api, _wav(audio_files.tone(2.0))).status_code == 201
    response = upload(auth_api, _wav(audio_files.tone(6.0)))
    assert response.status_code == 422
    assert response.json()["max_seconds"] == 3


def test_too_large_by_content_length_is_413_before_reading(auth_api: APIClient, settings: Any) -> None:
    settings.NOTE_MAX_UPLOAD_BYTES = 1000
    response = upload(auth_api, b"\0" * 200_000)
    assert response.status_code == 413
    assert _code(response) == "file_too_large"
    assert response.json()["max_bytes"] == 1000


def test_too_large_file_within_multipart_slack_is_413(auth_api: APIClient, settings: Any, meter: dict) -> None:
    settings.NOTE_MAX_UPLOAD_BYTES = 5000
    response = upload(auth_api, _wav(audio_files.tone(1.0)))  # 32 kB: under the declared-length slack
    assert response.status_code == 413
    assert _code(response) == "file_too_large"
    assert meter["reserve"] == 0
    assert not Note.objects.exists()


def test_limit_reached_is_403_and_nothing_is_stored(
    auth_api: APIClient, monkeypatch: pytest.MonkeyPatch, speech: Callable[[str], bytes], media_dir: Path
) -> None:
    def refuse(*, user: Any, metric: Any) -> None:
        raise QuotaExceeded("Recording limit reached.", extra={"limit": 3})

    monkeypatch.setattr(metering, "reserve", refuse)
    response = upload(auth_api, speech("webm"))
    assert response.status_code == 403
    assert response.json()["code"] == "limit_reached"
    assert not Note.objects.exists()
    assert not any(p.is_file() for p in media_dir.rglob("*"))


def test_storage_failure_rolls_back_and_gives_the_unit_back(
    auth_api: APIClient, monkeypatch: pytest.MonkeyPatch, speech: Callable[[str], bytes], meter: dict
) -> None:
    from mindpost.notes import storage

    def broken(*, name: str, content: Any) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(storage, "save_audio", broken)
    client = auth_api
    client.raise_request_exception = False
    response = upload(client, speech("webm"))
    assert response.status_code == 500
    assert not Note.objects.exists()
    assert meter == {"reserve": 1, "release": 1}


def test_unauthenticated_upload_is_401(api: APIClient, speech: Callable[[str], bytes]) -> None:
    assert upload(api, speech("webm")).status_code == 401


# --- typed notes -----------------------------------------------------------------------------------


def test_text_note_skips_transcription(auth_api: APIClient, meter: dict) -> None:
    response = auth_api.post(URL, {"text": "  Met Nikos in Athens. #travel  "}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "text"
    assert body["status"] == "processing"
    assert body["transcription"] == "Met Nikos in Athens. #travel"
    assert body["title"] == "Met Nikos in Athens"
    assert body["tags"][0] == "travel"
    assert body["recording"] is None
    assert meter == {"reserve": 0, "release": 0}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"text": ""}, "empty_text"),
        ({"text": "   "}, "empty_text"),
        ({"text": 42}, "empty_text"),
        ({"text": "x" * 60}, "text_too_long"),
        ({}, "required"),
    ],
)
def test_bad_text_notes(auth_api: APIClient, settings: Any, payload: dict, code: str) -> None:
    settings.NOTE_MAX_TEXT_CHARS = 50
    response = auth_api.post(URL, payload, format="json")
    assert response.status_code == 400
    assert _code(response) == code
    assert not Note.objects.exists()


def test_both_audio_and_text_is_400(auth_api: APIClient, speech: Callable[[str], bytes]) -> None:
    response = auth_api.post(
        URL, {"audio_file": SimpleUploadedFile("a.webm", speech("webm")), "text": "hello"}, format="multipart"
    )
    assert response.status_code == 400
    assert _code(response) == "conflicting_input"


def test_malformed_json_is_400(auth_api: APIClient) -> None:
    response = auth_api.generic("POST", URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert _code(response) == "malformed_request"


# --- idempotency -----------------------------------------------------------------------------------


def test_same_idempotency_key_returns_the_same_note(
    auth_api: APIClient, speech: Callable[[str], bytes], meter: dict
) -> None:
    first = upload(auth_api, speech("webm"), HTTP_IDEMPOTENCY_KEY="rec-1")
    second = upload(auth_api, speech("webm"), HTTP_IDEMPOTENCY_KEY="rec-1")
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert Note.objects.count() == 1
    assert meter == {"reserve": 1, "release": 0}  # the replay costs nothing


def test_same_key_different_body_is_422(auth_api: APIClient, speech: Callable[[str], bytes]) -> None:
    assert upload(auth_api, speech("webm"), HTTP_IDEMPOTENCY_KEY="rec-1").status_code == 201
    response = upload(auth_api, speech("ogg"), HTTP_IDEMPOTENCY_KEY="rec-1")
    assert response.status_code == 422
    assert _code(response) == "idempotency_key_reused"
    text = auth_api.post(URL, {"text": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="rec-1")
    assert text.status_code == 422
    assert Note.objects.count() == 1


def test_idempotency_keys_are_per_user(make_user: Callable[..., User], speech: Callable[[str], bytes]) -> None:
    ids = []
    for _ in range(2):
        client = APIClient()
        client.force_authenticate(make_user())
        response = upload(client, speech("webm"), HTTP_IDEMPOTENCY_KEY="same-key")
        assert response.status_code == 201
        ids.append(response.json()["id"])
    assert ids[0] != ids[1]


def test_text_note_idempotency(auth_api: APIClient) -> None:
    first = auth_api.post(URL, {"text": "hello"}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    again = auth_api.post(URL, {"text": "hello"}, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    assert first.json()["id"] == again.json()["id"]
    assert Note.objects.count() == 1


def test_bad_idempotency_key_is_400(auth_api: APIClient) -> None:
    response = auth_api.post(URL, {"text": "hello"}, format="json", HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert response.status_code == 400
    assert _code(response) == "invalid_idempotency_key"


def test_idempotent_race_loser_returns_the_winner(
    auth_api: APIClient, user: User, speech: Callable[[str], bytes], monkeypatch: pytest.MonkeyPatch, meter: dict
) -> None:
    """Two requests with one key pass the replay check together; the unique index decides."""
    from mindpost.notes import services

    real_replay = services._replay
    calls = {"n": 0}

    def replay_misses_once(**kwargs: Any) -> Note | None:
        calls["n"] += 1
        if calls["n"] == 1:
            return None  # the check ran before the other request committed
        return real_replay(**kwargs)

    winner = auth_api.post(URL, {"text": "hello"}, format="json", HTTP_IDEMPOTENCY_KEY="race")
    monkeypatch.setattr(services, "_replay", replay_misses_once)
    response = upload(auth_api, speech("webm"), HTTP_IDEMPOTENCY_KEY="race")
    # The loser's body differs from the winner's: refused, and its unit given back.
    assert response.status_code == 422
    assert Note.objects.count() == 1
    assert str(Note.objects.get().pk) == winner.json()["id"]
    assert meter == {"reserve": 1, "release": 1}


# --- Prefer: wait -------------------------------------------------------------------------------------


def test_prefer_wait_returns_processing_when_the_job_is_not_done(auth_api: APIClient) -> None:
    response = auth_api.post(URL, {"text": "hello"}, format="json", HTTP_PREFER="wait=1")
    assert response.status_code == 201
    assert response["Preference-Applied"] == "wait=1"
    assert response.json()["status"] == "processing"


def test_prefer_wait_returns_the_finished_note(auth_api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from mindpost.notes import api as notes_api
    from mindpost.notes import selectors

    real_status = selectors.note_status
    polls = {"n": 0}

    def status_after_two_polls(*, note_id: Any) -> str | None:
        polls["n"] += 1
        if polls["n"] == 2:
            Note.objects.filter(pk=note_id).update(status=NoteStatus.READY)
        return real_status(note_id=note_id)

    monkeypatch.setattr(notes_api.selectors, "note_status", status_after_two_polls)
    response = auth_api.post(URL, {"text": "hello"}, format="json", HTTP_PREFER="wait=30")
    assert response.json()["status"] == "ready"
    assert polls["n"] >= 2


def test_no_prefer_header_means_no_preference_applied(auth_api: APIClient) -> None:
    response = auth_api.post(URL, {"text": "hello"}, format="json")
    assert "Preference-Applied" not in response


# --- throttling --------------------------------------------------------------------------------------


def test_uploads_are_throttled_but_listing_is_not(auth_api: APIClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "upload": "2/min"})
    for _ in range(2):
        assert auth_api.post(URL, {"text": "hello"}, format="json").status_code == 201
    response = auth_api.post(URL, {"text": "hello"}, format="json")
    assert response.status_code == 429
    assert _code(response) == "throttled"
    for _ in range(5):
        assert auth_api.get(URL).status_code == 200


def test_oversized_json_body_is_a_4xx(auth_api: APIClient) -> None:
    response = auth_api.post(URL, {"text": "x" * 3_000_000}, format="json")
    assert 400 <= response.status_code < 500
    assert not Note.objects.exists()
