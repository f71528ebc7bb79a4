"""Deleting a note while its indexing job runs, and two index runs of one note at once.

Real PostgreSQL, two connections (threads). The indexing job is paused inside its transaction
(after it wrote the passages, while it holds the note's row lock) by a hook on
passages_set_keywords; the other side is started and the test waits until PostgreSQL shows it
blocked on a lock before letting the job go on. No sleeps decide the outcome.

Before the fix, DELETE did not lock the note: it cascaded over the passages it could see, the
job committed new ones, and the deferred foreign key check failed at DELETE's commit
(IntegrityError, a 500).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from django.db import connection, connections
from procrastinate.contrib.django.models import ProcrastinateJob
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.notes import services
from mindpost.notes.chunking import chunk_transcript
from mindpost.notes.models import Note, NoteKind, NoteStatus, Passage

TEXT = " ".join(f"Sentence {i} is about the boats and the harbour in Nafplio." for i in range(60))
EDITED = " ".join(f"Edited line {i} talks about the workshop and the sea." for i in range(50))
WAIT = 30.0  # seconds; only a safety net against hanging, never part of an assertion


class StubEmbedder:
    model_name = "stub-e5"
    dimensions = 384

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    @staticmethod
    def _vector(text: str) -> list[float]:
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        values = np.random.default_rng(seed).normal(size=384)
        return list((values / np.linalg.norm(values)).astype(float))


class Pause:
    """Holds the first caller of passages_set_keywords (inside _index's transaction) until released."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()
        self.calls = 0
        self._lock = threading.Lock()

    def wrap(self, real: Callable[..., int]) -> Callable[..., int]:
        def hook(**kwargs: Any) -> int:
            with self._lock:
                self.calls += 1
                first = self.calls == 1
            if first:
                self.inside.set()
                assert self.release.wait(WAIT), "the test never released the job"
            return real(**kwargs)

        return hook


class Runner(threading.Thread):
    """Runs `target` on its own database connection and keeps its result or exception."""

    def __init__(self, target: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.target()
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connections.close_all()

    def finish(self) -> Any:
        self.join(WAIT)
        assert not self.is_alive(), "thread hung"
        if self.error is not None:
            raise self.error
        return self.result


def wait_until_blocked_on_a_lock(count: int = 1) -> None:
    """Wait until `count` other sessions of this test database wait for a lock."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.02)
    raise AssertionError("the other session never blocked on the note's lock")


@pytest.fixture
def stub_embedder(monkeypatch: pytest.MonkeyPatch) -> StubEmbedder:
    embedder = StubEmbedder()
    monkeypatch.setattr(services, "get_embedder", lambda: embedder)
    return embedder


@pytest.fixture
def pause(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pause]:
    pause = Pause()
    monkeypatch.setattr(services, "passages_set_keywords", pause.wrap(services.passages_set_keywords))
    yield pause
    pause.release.set()  # never leave a thread waiting


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def expected_passages(text: str) -> list[str]:
    return [chunk.text for chunk in chunk_transcript(text=text, segments=[])]


@pytest.mark.django_db(transaction=True)
def test_delete_while_the_job_writes_passages_is_204_and_leaves_nothing(
    user: User, stub_embedder: StubEmbedder, pause: Pause
) -> None:
    note = Note.objects.create(user=user, kind=NoteKind.TEXT, status=NoteStatus.PROCESSING, transcription=TEXT)
    job = Runner(lambda: services.note_process(note_id=note.pk, final_attempt=True))
    job.start()
    assert pause.inside.wait(WAIT)  # passages inserted, transaction open, note row locked

    delete = Runner(lambda: client_for(user).delete(f"/api/brain-dumps/{note.pk}/"))
    delete.start()
    wait_until_blocked_on_a_lock()
    pause.release.set()

    job.finish()
    response = delete.finish()
    assert response.status_code == 204, response.content
    assert not Note.objects.filter(pk=note.pk).exists()
    assert not Passage.objects.filter(note_id=note.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_reindex_of_a_note_deleted_meanwhile_is_a_clean_no_op(
    user: User, stub_embedder: StubEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = Note.objects.create(user=user, kind=NoteKind.TEXT, status=NoteStatus.PROCESSING, transcription=TEXT)
    services.note_process(note_id=note.pk, final_attempt=True)
    assert Note.objects.get(pk=note.pk).status == NoteStatus.READY
    Note.objects.filter(pk=note.pk).update(transcription=EDITED)

    embedding, go_on = threading.Event(), threading.Event()
    real = stub_embedder.embed_passages

    def slow_embed(texts: list[str]) -> list[list[float]]:
        embedding.set()
        assert go_on.wait(WAIT)
        return real(texts)

    monkeypatch.setattr(stub_embedder, "embed_passages", slow_embed)
    job = Runner(lambda: services.note_reindex(note_id=note.pk))
    job.start()
    assert embedding.wait(WAIT)  # the job read the note and is embedding, outside any transaction
    response = client_for(user).delete(f"/api/brain-dumps/{note.pk}/")
    assert response.status_code == 204
    go_on.set()
    job.finish()  # no exception: the job finds the note gone and writes nothing
    assert not Passage.objects.filter(note_id=note.pk).exists()
    # Deleting twice (a second tab) is a 404 from the API, and a no-op in the service.
    assert client_for(user).delete(f"/api/brain-dumps/{note.pk}/").status_code == 404
    services.note_delete(note=note)


@pytest.mark.django_db(transaction=True)
def test_two_reindex_runs_of_one_note_at_once_are_serialised(
    user: User, stub_embedder: StubEmbedder, pause: Pause
) -> None:
    note = Note.objects.create(user=user, kind=NoteKind.TEXT, status=NoteStatus.PROCESSING, transcription=TEXT)
    pause.release.set()
    services.note_process(note_id=note.pk, final_attempt=True)  # first call passes straight through
    assert Note.objects.get(pk=note.pk).status == NoteStatus.READY
    Note.objects.filter(pk=note.pk).update(transcription=EDITED)
    pause.calls, pause.release = 0, threading.Event()
    pause.inside.clear()

    first = Runner(lambda: services.note_reindex(note_id=note.pk))
    first.start()
    assert pause.inside.wait(WAIT)
    second = Runner(lambda: services.note_reindex(note_id=note.pk))
    second.start()
    wait_until_blocked_on_a_lock()  # the second run waits for the first one's row lock
    pause.release.set()
    first.finish()
    second.finish()

    passages = list(Passage.objects.filter(note_id=note.pk).order_by("position"))
    assert [p.text for p in passages] == expected_passages(EDITED)
    assert [p.position for p in passages] == list(range(len(passages)))
    assert all(p.keywords is not None for p in passages)


@pytest.mark.django_db(transaction=True)  # jobs are deferred on commit, outside any transaction
def test_jobs_of_one_note_share_a_lock_and_queue_once(user: User) -> None:
    note = Note.objects.create(user=user, kind=NoteKind.TEXT, status=NoteStatus.READY, transcription=TEXT)
    services._enqueue("reindex", note.pk)
    services._enqueue("reindex", note.pk)  # a burst of edits: one waiting job
    services._enqueue("process", note.pk)
    jobs = list(ProcrastinateJob.objects.filter(args__note_id=str(note.pk)).values_list("task_name", "lock"))
    assert sorted(jobs) == [("notes.process_note", f"note:{note.pk}"), ("notes.reindex_note", f"note:{note.pk}")]
