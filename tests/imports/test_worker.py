"""An import end to end with a real Procrastinate worker process (as tests/notes/test_worker.py):
the batch job makes the notes, and the notes' own pipeline jobs make them ready."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.notes.models import Note, NoteKind, NoteStatus
from tests.fakes.openai_server import FakeOpenAI
from tests.imports.conftest import URL, make_zip, post_files, tone_wav
from tests.notes.test_worker import Worker, fake_ai_env, start_worker, wait_for  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_worker_imports_recordings_and_a_vault(
    auth_api: APIClient,
    user: User,
    openai_fake: FakeOpenAI,
    start_worker: Callable[..., Worker],  # noqa: F811
) -> None:
    openai_fake.transcript = "A voice memo about the harbour. Hashtag boats."
    worker = start_worker(**fake_ai_env(openai_fake))
    vault = make_zip({"Vault/Ideas.md": "---\ntags: [ideas]\n---\nBuild a wooden dinghy this winter.\n"})
    response = post_files(auth_api, [("one.wav", tone_wav(400)), ("two.wav", tone_wav(600)), ("Vault.zip", vault)])
    assert response.status_code == 202, response.content
    batch_id = response.json()["id"]

    def finished() -> dict[str, Any] | None:
        body = dict(auth_api.get(f"{URL}{batch_id}/").json())
        ready = all(item["note_status"] == "ready" for item in body["items"])
        return body if body["status"] == "done" and ready else None

    body = wait_for(finished, timeout=120, worker=worker, what="the import and its notes")
    assert (body["total"], body["done"], body["failed"], body["percent"]) == (3, 3, 0, 100)
    notes = Note.objects.filter(user=user)
    assert notes.count() == 3
    assert all(note.status == NoteStatus.READY for note in notes)
    voice = [note for note in notes if note.kind == NoteKind.VOICE]
    assert [note.transcription for note in voice] == [openai_fake.transcript] * 2
    text = next(note for note in notes if note.kind == NoteKind.TEXT)
    assert text.tags == ["ideas"]
    assert text.passages.exists()  # searchable, like any typed note

    # The same files again: the worker reports duplicates and makes nothing.
    again = post_files(auth_api, [("one.wav", tone_wav(400)), ("Vault.zip", vault)]).json()
    body = wait_for(
        lambda: (b := auth_api.get(f"{URL}{again['id']}/").json())["status"] == "done" and b,
        timeout=60,
        worker=worker,
        what="the second import",
    )
    assert (body["done"], body["duplicate"]) == (0, 2)
    assert Note.objects.filter(user=user).count() == 3
