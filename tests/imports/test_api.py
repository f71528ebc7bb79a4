"""POST /api/imports/ (many files → 202 and a batch), GET /api/imports/ and /api/imports/{id}/,
and what the job makes of each kind of file (run in-process here; test_worker.py runs a real worker)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.imports.models import ImportBatch, ImportItem
from mindpost.notes.models import Note, NoteKind, NoteStatus
from tests.billing.conftest import billing_on, fake_stripe, make_subscription  # noqa: F401 (fixtures)
from tests.factories import NoteFactory
from tests.imports.conftest import URL, make_zip, post_files, tone_wav
from tests.notes import audio_files

RunJob = Callable[[str], None]


def _run(client: APIClient, run_job: RunJob, files: list[tuple[str, bytes]]) -> dict[str, Any]:
    response = post_files(client, files)
    assert response.status_code == 202, response.content
    run_job(response.json()["id"])
    body = client.get(f"{URL}{response.json()['id']}/").json()
    assert body["status"] == "done", body
    return dict(body)


def _stored_files(media: Path) -> list[Path]:
    return [path for path in media.rglob("*") if path.is_file()]


# --- the request ------------------------------------------------------------------------------


def test_many_recordings_make_a_batch_then_one_processing_note_each(
    auth_api: APIClient, user: User, run_job: RunJob, media_dir: Path
) -> None:
    files = [(f"memo-{n}.wav", tone_wav(300 + 100 * n)) for n in range(4)]
    response = post_files(auth_api, files)
    assert response.status_code == 202, response.content
    batch = response.json()
    assert batch["status"] == "pending"
    assert (batch["total"], batch["done"], batch["percent"]) == (4, 0, 0)
    assert [item["filename"] for item in batch["items"]] == [name for name, _ in files]
    assert {item["kind"] for item in batch["items"]} == {"audio"}
    assert {item["status"] for item in batch["items"]} == {"pending"}
    # Stored before the job runs (files under the user's own folder), and not as notes yet.
    stored = _stored_files(media_dir)
    assert len(stored) == 4
    assert all(f"users/{user.pk}/imports/" in str(path) for path in stored)
    assert not Note.objects.exists()

    run_job(batch["id"])
    done = auth_api.get(f"{URL}{batch['id']}/").json()
    assert (done["status"], done["done"], done["failed"], done["percent"]) == ("done", 4, 0, 100)
    notes = Note.objects.filter(user=user)
    assert notes.count() == 4
    assert {note.kind for note in notes} == {NoteKind.VOICE}
    assert {item["note_status"] for item in done["items"]} == {"processing"}  # the pipeline's job is next
    assert {item["note"] for item in done["items"]} == {str(note.pk) for note in notes}
    # The import's copies are gone; each note keeps its own audio.
    assert not [path for path in _stored_files(media_dir) if "/imports/" in str(path)]
    assert all(note.audio for note in notes)


def test_text_and_markdown_files_become_text_notes_with_title_date_and_tags(
    auth_api: APIClient, user: User, run_job: RunJob
) -> None:
    markdown = (
        "---\ntitle: Harbour walk\ncreated: 2025-04-03T08:15:00+03:00\ntags: [walks, project/alpha]\n---\n"
        "Walked to the harbour in Nafplio and sketched the boats. #sketching\n"
    )
    body = _run(
        auth_api,
        run_job,
        [("harbour.md", markdown.encode()), ("shopping.txt", b"Buy tomatoes, basil and olive oil for Friday.")],
    )
    assert body["done"] == 2
    md_note = Note.objects.get(pk=body["items"][0]["note"])
    assert md_note.kind == NoteKind.TEXT
    assert md_note.transcription == "Walked to the harbour in Nafplio and sketched the boats. #sketching"
    assert md_note.title == "Harbour walk"
    assert md_note.title_edited
    assert md_note.tags == ["walks", "project_alpha", "sketching"]
    assert md_note.tags_edited  # the person's own tags: enrichment leaves them alone
    assert md_note.created_at == datetime(2025, 4, 3, 5, 15, tzinfo=UTC)
    txt_note = Note.objects.get(pk=body["items"][1]["note"])
    assert txt_note.transcription == "Buy tomatoes, basil and olive oil for Friday."
    assert not txt_note.tags_edited  # no tags given: the automatic ones stay
    assert txt_note.created_at.date() == datetime.now(UTC).date()


def test_an_obsidian_vault_zip(auth_api: APIClient, user: User, run_job: RunJob) -> None:
    user.timezone = "Europe/Athens"
    user.save(update_fields=["timezone"])
    vault = make_zip(
        {
            "Vault/.obsidian/app.json": b"{}",
            "Vault/Daily/2025-03-01.md": "---\ndate: 2025-03-01\ntags:\n  - journal\n---\nMet Stavros. #boats\n",
            "Vault/Ideas/Boat workshop.md": "A workshop for wooden boats in #Nafplio.\n",
            "Vault/attachments/photo.png": b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
            "Vault/inbox.txt": "Call the harbour master.",
            "__MACOSX/Vault/._inbox.txt": b"\0\0",
        },
        dates={"Vault/Ideas/Boat workshop.md": (2025, 6, 1, 9, 30, 0)},
    )
    body = _run(auth_api, run_job, [("Vault.zip", vault)])
    assert (body["total"], body["done"], body["skipped"]) == (3, 3, 3)
    assert [item["filename"] for item in body["items"]] == [
        "Vault.zip/Vault/Daily/2025-03-01.md",
        "Vault.zip/Vault/Ideas/Boat workshop.md",
        "Vault.zip/Vault/inbox.txt",
    ]
    athens = ZoneInfo("Europe/Athens")
    daily, idea, inbox = (Note.objects.get(pk=item["note"]) for item in body["items"])
    assert daily.title == "2025-03-01"  # Obsidian's title is the file name
    assert daily.tags == ["journal", "boats"]
    assert daily.created_at == datetime(2025, 3, 1, 12, 0, tzinfo=athens)  # a date: noon, the user's zone
    assert idea.title == "Boat workshop"
    assert "Nafplio" in idea.tags  # no front matter: the automatic tags, written hashtags first
    assert idea.created_at == datetime(2025, 6, 1, 9, 30, tzinfo=athens)  # the zip entry's timestamp
    assert inbox.transcription == "Call the harbour master."


def test_the_markdown_export_imports_back_as_the_same_notes(
    auth_api: APIClient, user: User, make_user: Callable[..., User], run_job: RunJob
) -> None:
    first = NoteFactory.create(
        user=user,
        text="I met Nikos in Athens. He builds wooden boats.",
        tags=["travel", "boats"],
        created_at=datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC),
    )
    second = NoteFactory.create(user=user, text="Budget for the lighthouse restoration: ask the council.")
    export = auth_api.get("/api/me/export/?format=markdown")
    assert export.status_code == 200
    archive = b"".join(export.streaming_content)  # type: ignore[attr-defined]
    assert len(zipfile.ZipFile(io.BytesIO(archive)).namelist()) == 2

    # Into the account it came from: nothing new, two duplicates pointing at the originals.
    body = _run(auth_api, run_job, [("mindpost-notes-markdown.zip", archive)])
    assert (body["total"], body["done"], body["duplicate"]) == (2, 0, 2)
    assert {item["note"] for item in body["items"]} == {str(first.pk), str(second.pk)}
    assert Note.objects.filter(user=user).count() == 2

    # Into another account: the same notes (text, title, tags, date).
    other = make_user("grace@example.com")
    client = APIClient()
    client.force_authenticate(other)
    body = _run(client, run_job, [("mindpost-notes-markdown.zip", archive)])
    assert (body["done"], body["duplicate"]) == (2, 0)
    copies = {note.transcription: note for note in Note.objects.filter(user=other)}
    copy = copies[first.transcription]
    assert copy.title == first.title
    assert copy.tags == ["travel", "boats"]
    assert copy.created_at == first.created_at
    assert second.transcription in copies

    # And once more: nothing new.
    again = _run(client, run_job, [("mindpost-notes-markdown.zip", archive)])
    assert (again["done"], again["duplicate"]) == (0, 2)
    assert Note.objects.filter(user=other).count() == 2


def test_duplicates_by_content_within_a_batch_and_across_batches(
    auth_api: APIClient, user: User, run_job: RunJob
) -> None:
    memo, text = tone_wav(440), b"Remember the boat trip on Sunday."
    body = _run(auth_api, run_job, [("a.wav", memo), ("copy of a.wav", memo), ("trip.txt", text)])
    assert [item["status"] for item in body["items"]] == ["done", "duplicate", "done"]
    assert body["items"][1]["note"] == body["items"][0]["note"]
    assert body["items"][0]["sha256"] == body["items"][1]["sha256"]
    # A typed note with the same text counts too: the content hash is the note's own fingerprint.
    again = _run(auth_api, run_job, [("renamed.wav", memo), ("trip again.txt", text)])
    assert (again["done"], again["duplicate"]) == (0, 2)
    assert Note.objects.filter(user=user).count() == 2
    # Another person importing the same files gets notes of their own.
    assert not Note.objects.exclude(user=user).exists()


def test_quota_applies_per_recording(
    auth_api: APIClient,
    user: User,
    billing_on: Any,  # noqa: F811
    plans: dict[str, Any],
    run_job: RunJob,
) -> None:
    plan = plans["basic"]
    plan.recordings_per_period = 2
    plan.save()
    make_subscription(user, plan)
    files = [(f"memo-{n}.wav", tone_wav(300 + 100 * n)) for n in range(3)] + [("note.txt", b"Typed notes are free.")]
    body = _run(auth_api, run_job, files)
    assert [item["status"] for item in body["items"]] == ["done", "done", "failed", "done"]
    assert body["items"][2]["error_code"] == "limit_reached"
    assert (body["done"], body["failed"]) == (3, 1)
    assert Note.objects.filter(user=user, kind=NoteKind.VOICE).count() == 2


def test_bad_files_fail_alone_with_a_code(auth_api: APIClient, user: User, run_job: RunJob) -> None:
    silent = audio_files.wav_bytes(audio_files.silence(1.0))
    body = _run(
        auth_api,
        run_job,
        [
            ("empty.txt", b"  \n"),
            ("latin1.md", "caf\xe9 cr\xe8me".encode("latin-1")),
            ("quiet.wav", silent),
            ("fine.md", b"A fine note."),
        ],
    )
    assert [(item["status"], item["error_code"]) for item in body["items"]] == [
        ("failed", "empty_text"),
        ("failed", "invalid_text"),
        ("failed", "silent_audio"),
        ("done", ""),
    ]
    assert all(item["error_detail"] for item in body["items"][:3])
    assert Note.objects.filter(user=user).count() == 1


# --- refused requests: 4xx with a code, nothing stored -------------------------------------------


def _refused(client: APIClient, files: list[tuple[str, bytes]], status: int, code: str, media: Path) -> dict[str, Any]:
    response = post_files(client, files)
    assert response.status_code == status, response.content
    body = dict(response.json())
    assert body["code"] == code, body
    assert not ImportBatch.objects.exists()
    assert not _stored_files(media)
    return body


def test_path_traversal_in_zip_names_is_refused(auth_api: APIClient, media_dir: Path) -> None:
    for evil in ("../outside.md", "notes/../../etc/passwd.md", "/etc/cron.md", "C:/Windows/x.md", "a\\..\\b.md"):
        archive = make_zip({"ok.md": "fine", evil: "evil"})
        _refused(auth_api, [("vault.zip", archive)], 400, "unsafe_zip_path", media_dir)


def test_a_zip_bomb_is_refused(auth_api: APIClient, media_dir: Path) -> None:
    bomb = make_zip({"bomb.md": b"\0" * (8 * 1024 * 1024)})  # 8 MB of zeros, ~8 kB packed
    assert len(bomb) < 64 * 1024
    _refused(auth_api, [("bomb.zip", bomb)], 413, "zip_bomb", media_dir)


def test_a_zip_whose_header_lies_about_the_size_is_refused(auth_api: APIClient, media_dir: Path) -> None:
    archive = bytearray(make_zip({"small.md": b"x" * 5000}))
    central = archive.index(b"PK\x01\x02")
    archive[central + 24 : central + 28] = (10).to_bytes(4, "little")  # claims 10 bytes unpacked
    _refused(auth_api, [("liar.zip", bytes(archive))], 400, "invalid_zip", media_dir)


def test_unpacked_size_and_file_count_limits(auth_api: APIClient, settings: Any, media_dir: Path) -> None:
    settings.IMPORT_MAX_BYTES = 10_000
    _refused(
        auth_api,
        [("big.zip", make_zip({"a.md": "x. " * 2000, "b.md": "y. " * 2000}))],
        413,
        "import_too_large",
        media_dir,
    )
    settings.IMPORT_MAX_BYTES = 10_000_000
    settings.IMPORT_MAX_FILES = 2
    body = _refused(auth_api, [(f"{n}.txt", b"note") for n in range(3)], 413, "too_many_files", media_dir)
    assert body["max_files"] == 2
    _refused(auth_api, [("v.zip", make_zip({f"{n}.md": "note" for n in range(3)}))], 413, "too_many_files", media_dir)


def test_unsupported_corrupt_and_missing_files(auth_api: APIClient, media_dir: Path) -> None:
    body = _refused(
        auth_api, [("ok.txt", b"fine"), ("scan.pdf", b"%PDF-1.7 ...")], 415, "unsupported_file_type", media_dir
    )
    assert body["filename"] == "scan.pdf"
    _refused(auth_api, [("photo.wav", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)], 415, "unsupported_file_type", media_dir)
    _refused(auth_api, [("broken.zip", b"PK\x03\x04 not really a zip")], 400, "invalid_zip", media_dir)
    _refused(auth_api, [("pictures.zip", make_zip({"a.png": b"\x89PNG"}))], 400, "nothing_to_import", media_dir)
    response = auth_api.post(URL, {}, format="multipart")
    assert (response.status_code, response.json()["code"]) == (400, "no_files")


def test_an_over_long_text_in_a_zip_fails_alone(auth_api: APIClient, settings: Any, run_job: RunJob) -> None:
    settings.NOTE_MAX_TEXT_CHARS = 100
    body = _run(auth_api, run_job, [("v.zip", make_zip({"long.md": "word " * 200, "short.md": "Short."}))])
    assert [(item["status"], item["error_code"]) for item in body["items"]] == [
        ("failed", "text_too_long"),
        ("done", ""),
    ]


# --- per-user isolation and listing ---------------------------------------------------------------


def test_another_users_batch_is_404_and_lists_are_per_user(
    auth_api: APIClient, make_user: Callable[..., User], run_job: RunJob
) -> None:
    mine = post_files(auth_api, [("mine.txt", b"My note.")]).json()
    other = APIClient()
    other.force_authenticate(make_user("eve@example.com"))
    assert other.get(f"{URL}{mine['id']}/").status_code == 404
    assert other.get(f"{URL}{mine['id']}/").json()["code"] == "not_found"
    assert other.get(URL).json()["count"] == 0
    listed = auth_api.get(URL).json()
    assert [batch["id"] for batch in listed["results"]] == [mine["id"]]
    assert "items" not in listed["results"][0]
    assert APIClient().get(URL).status_code == 401
    assert auth_api.get(f"{URL}not-a-uuid/").status_code == 404


def test_the_job_is_safe_to_run_twice(auth_api: APIClient, user: User, run_job: RunJob) -> None:
    batch = post_files(auth_api, [("a.txt", b"One."), ("b.wav", tone_wav(500))]).json()
    run_job(batch["id"])
    run_job(batch["id"])
    assert Note.objects.filter(user=user).count() == 2
    fresh = ImportBatch.objects.get(pk=batch["id"])
    assert (fresh.done, fresh.duplicate, fresh.failed) == (2, 0, 0)
    assert ImportItem.objects.filter(batch=fresh, stored="").count() == 2
    assert Note.objects.filter(user=user, status=NoteStatus.PROCESSING).count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_job_is_queued_after_commit(auth_api: APIClient) -> None:
    from procrastinate.contrib.django.models import ProcrastinateJob

    batch = post_files(auth_api, [("a.txt", b"One.")]).json()
    job = ProcrastinateJob.objects.get(task_name="imports.process_batch", lock=f"import:{batch['id']}")
    assert job.args == {"batch_id": batch["id"]}
    assert job.queue_name == "notes"
