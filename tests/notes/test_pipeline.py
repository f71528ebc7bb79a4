"""The processing job's steps (services.note_process / note_reindex), run in-process.

The transcriber and embedder here are small deterministic stand-ins for the AI
interfaces, so every branch (transient and permanent errors, deletion and edits during
the job, the last attempt) can be driven exactly. The real backends are exercised through
the fake OpenAI server and the local models in test_worker.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
from django.contrib.postgres.search import SearchRank
from django.core.management import call_command
from django.db.models import F
from pgvector.django import CosineDistance

from mindpost.accounts.models import User
from mindpost.ai.types import AIError, Segment, Transcript, TransientAIError
from mindpost.billing import metering
from mindpost.notes import blind_index, services, storage
from mindpost.notes.models import Note, NoteKind, NoteSettings, NoteStatus, Passage
from tests.notes import audio_files

pytestmark = pytest.mark.django_db

LONG_TEXT = " ".join(f"Sentence {i} talks about boats and the sea near Nafplio." for i in range(40))


class StubTranscriber:
    model_name = "stub-whisper"

    def __init__(self, text: str = LONG_TEXT, *, language: str = "en", error: Exception | None = None) -> None:
        self.text = text
        self.language = language
        self.error = error
        self.calls: list[Any] = []

    def transcribe(self, *, audio: Any, language: str | None = None, on_progress: Any = None) -> Transcript:
        self.calls.append((audio, language))
        if self.error:
            raise self.error
        assert isinstance(audio, np.ndarray)
        assert audio.dtype == np.float32
        sentences = [s.strip() + "." for s in self.text.split(".") if s.strip()]
        segments = [Segment(start=i * 3.0, end=i * 3.0 + 3.0, text=" " + s) for i, s in enumerate(sentences)]
        return Transcript(text=self.text, language=self.language, duration=len(sentences) * 3.0, segments=segments)


class StubEmbedder:
    dimensions = 384

    def __init__(self, model_name: str = "stub-e5", *, error: Exception | None = None) -> None:
        self.model_name = model_name
        self.error = error
        self.calls = 0

    @staticmethod
    def vector(text: str) -> list[float]:
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        values = np.random.default_rng(seed).normal(size=384)
        return list((values / np.linalg.norm(values)).astype(float))

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.error:
            raise self.error
        return [self.vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vector(text)


@pytest.fixture
def ai(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    stubs: dict[str, Any] = {"transcriber": StubTranscriber(), "embedder": StubEmbedder()}
    monkeypatch.setattr(services, "get_transcriber", lambda: stubs["transcriber"])
    monkeypatch.setattr(services, "get_embedder", lambda: stubs["embedder"])
    return stubs


@pytest.fixture
def released(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    monkeypatch.setattr(metering, "release", lambda *, user, metric: calls.append(metric))
    return calls


@pytest.fixture
def voice_note(user: User, media_dir: Path) -> Note:
    note = Note.objects.create(user=user, kind=NoteKind.VOICE, audio_format="wav", holds_recording_unit=True)
    name = storage.audio_path(user_id=user.pk, note_id=note.pk, audio_format="wav")
    (media_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (media_dir / name).write_bytes(audio_files.wav_bytes(audio_files.tone(2.0)))
    note.audio = name
    note.save()
    return note


def test_voice_note_becomes_ready_with_passages_vectors_and_keywords(
    voice_note: Note, ai: dict[str, Any], released: list
) -> None:
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    note = Note.objects.get(pk=voice_note.pk)
    assert note.status == NoteStatus.READY
    assert note.transcription == LONG_TEXT
    assert note.language == "en"
    assert note.transcribe_model == "stub-whisper"
    assert note.title == "Sentence 0 talks about boats and the sea near Nafplio"
    assert {"boats", "Nafplio"} <= set(note.tags)  # a name keeps its capital (tags.py)
    assert len(note.segments) == 40
    first = {"start": 0.0, "end": 3.0, "text": "Sentence 0 talks about boats and the sea near Nafplio."}
    assert note.segments[0] == first
    assert note.holds_recording_unit is False
    assert released == []  # a finished note keeps its unit spent

    passages = list(Passage.objects.filter(note=note).order_by("position"))
    assert len(passages) >= 3
    assert all(p.embedding_model == "stub-e5" for p in passages)
    assert all(p.user_id == note.user_id for p in passages)
    assert passages[0].start_seconds == 0.0
    assert passages[-1].end_seconds == 120.0
    # Nearest-neighbour search in pgvector finds the passage from its own vector.
    target = passages[1]
    nearest = (
        Passage.objects.filter(user=note.user)
        .annotate(distance=CosineDistance("embedding", StubEmbedder.vector(target.text)))
        .order_by("distance")
        .first()
    )
    assert nearest is not None
    assert nearest.pk == target.pk
    # And keyword search through the blind index.
    query = blind_index.keyword_query(blind_index.hash_words(["sentence", "39"]))
    assert query is not None
    hits = Passage.objects.filter(keywords=query).annotate(rank=SearchRank(F("keywords"), query)).order_by("-rank")
    assert hits.first() == passages[-1]


def test_running_the_job_twice_is_harmless(voice_note: Note, ai: dict[str, Any]) -> None:
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    count = Passage.objects.count()
    services.note_process(note_id=voice_note.pk, final_attempt=False)  # already ready: no-op
    assert Passage.objects.count() == count
    assert len(ai["transcriber"].calls) == 1


def test_transcript_is_kept_when_embedding_fails_transiently(
    voice_note: Note, ai: dict[str, Any], released: list
) -> None:
    ai["embedder"].error = TransientAIError("embedder down")
    with pytest.raises(TransientAIError):
        services.note_process(note_id=voice_note.pk, final_attempt=False)
    note = Note.objects.get(pk=voice_note.pk)
    assert note.status == NoteStatus.PROCESSING
    assert note.transcribed_at is not None
    assert not Passage.objects.exists()
    # The retry does not transcribe again.
    ai["embedder"].error = None
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    assert Note.objects.get(pk=voice_note.pk).status == NoteStatus.READY
    assert len(ai["transcriber"].calls) == 1
    assert released == []


def test_last_attempt_marks_failed_and_gives_the_unit_back(
    voice_note: Note, ai: dict[str, Any], released: list
) -> None:
    ai["transcriber"].error = TransientAIError("model server down")
    with pytest.raises(TransientAIError):
        services.note_process(note_id=voice_note.pk, final_attempt=True)
    note = Note.objects.get(pk=voice_note.pk)
    assert note.status == NoteStatus.FAILED
    assert note.failure_code == "ai_unavailable"
    assert note.failure_reason
    assert released == [metering.Metric.RECORDINGS]
    # A second failure path cannot release twice.
    services.note_fail(note_id=note.pk, code="x", reason="y")
    assert released == [metering.Metric.RECORDINGS]


@pytest.mark.parametrize(
    ("transcriber", "code"),
    [
        (StubTranscriber(error=AIError("bad request")), "transcription_failed"),
        (StubTranscriber(text="   "), "no_speech"),
    ],
)
def test_permanent_failures(voice_note: Note, ai: dict, released: list, transcriber: Any, code: str) -> None:
    ai["transcriber"] = transcriber
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    note = Note.objects.get(pk=voice_note.pk)
    assert note.status == NoteStatus.FAILED
    assert note.failure_code == code
    assert released == [metering.Metric.RECORDINGS]


def test_permanent_embedding_failure(voice_note: Note, ai: dict, released: list) -> None:
    ai["embedder"].error = AIError("bad input")
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    assert Note.objects.get(pk=voice_note.pk).failure_code == "embedding_failed"


def test_wrong_vector_size_is_a_failure(voice_note: Note, ai: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ai["embedder"], "embed_passages", lambda texts: [[0.0] * 3 for _ in texts])
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    assert Note.objects.get(pk=voice_note.pk).failure_code == "embedding_failed"


def test_missing_or_corrupt_audio(voice_note: Note, ai: dict, media_dir: Path) -> None:
    (media_dir / voice_note.audio).write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\xff" * 64)
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    assert Note.objects.get(pk=voice_note.pk).failure_code == "corrupt_audio"

    Note.objects.filter(pk=voice_note.pk).update(status=NoteStatus.PROCESSING, holds_recording_unit=True)
    (media_dir / voice_note.audio).unlink()
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    assert Note.objects.get(pk=voice_note.pk).failure_code == "audio_missing"


def test_unexpected_crash_marks_failed_and_propagates(voice_note: Note, ai: dict, released: list) -> None:
    ai["transcriber"].error = RuntimeError("bug")
    with pytest.raises(RuntimeError):
        services.note_process(note_id=voice_note.pk, final_attempt=False)
    assert Note.objects.get(pk=voice_note.pk).failure_code == "processing_error"
    assert released == [metering.Metric.RECORDINGS]


def test_deleted_while_processing_leaves_nothing(voice_note: Note, ai: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    real = ai["embedder"].embed_passages

    def delete_then_embed(texts: list[str]) -> list[list[float]]:
        Note.objects.filter(pk=voice_note.pk).delete()
        return real(texts)

    monkeypatch.setattr(ai["embedder"], "embed_passages", delete_then_embed)
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    assert not Note.objects.exists()
    assert not Passage.objects.exists()
    services.note_process(note_id=voice_note.pk, final_attempt=False)  # a late rerun is a no-op


def test_edit_during_reindex_keeps_the_newest_text(user: User, ai: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    note = Note.objects.create(user=user, kind=NoteKind.TEXT, transcription="First version.")
    services.note_process(note_id=note.pk, final_attempt=False)
    note.refresh_from_db()
    assert note.status == NoteStatus.READY
    real = ai["embedder"].embed_passages

    def edit_then_embed(texts: list[str]) -> list[list[float]]:
        Note.objects.filter(pk=note.pk).update(transcription="Third version.")
        return real(texts)

    services.note_update_transcription(note=note, transcription="Second version.")
    monkeypatch.setattr(ai["embedder"], "embed_passages", edit_then_embed)
    services.note_reindex(note_id=note.pk)
    # The stale run wrote nothing; the run queued by the newer edit indexes it.
    assert [p.text for p in Passage.objects.filter(note=note)] == ["First version."]
    monkeypatch.setattr(ai["embedder"], "embed_passages", real)
    services.note_reindex(note_id=note.pk)
    assert [p.text for p in Passage.objects.filter(note=note)] == ["Third version."]


def test_edited_voice_note_keeps_audio_times(voice_note: Note, ai: dict) -> None:
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    note = Note.objects.get(pk=voice_note.pk)
    edited = note.transcription.replace("Sentence 39", "The final sentence")
    services.note_update_transcription(note=note, transcription=edited)
    services.note_reindex(note_id=note.pk)
    passages = list(Passage.objects.filter(note=note).order_by("position"))
    assert "The final sentence" in passages[-1].text
    assert passages[-1].end_seconds == 120.0
    assert Note.objects.get(pk=note.pk).edited is True


def test_text_note_goes_straight_to_indexing(user: User, ai: dict) -> None:
    result = services.note_create_from_text(user=user, text="Call the bank about policy 4471.", idempotency_key=None)
    services.note_process(note_id=result.note.pk, final_attempt=False)
    note = Note.objects.get(pk=result.note.pk)
    assert note.status == NoteStatus.READY
    assert ai["transcriber"].calls == []
    assert Passage.objects.get(note=note).start_seconds is None


def test_audio_is_discarded_after_transcription_when_the_user_asks(
    voice_note: Note, ai: dict, media_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    NoteSettings.objects.create(user=voice_note.user, keep_audio=False, transcription_language="el")
    path = media_dir / voice_note.audio
    with django_capture_on_commit_callbacks(execute=True):
        services.note_process(note_id=voice_note.pk, final_attempt=False)
    note = Note.objects.get(pk=voice_note.pk)
    assert note.status == NoteStatus.READY
    assert note.audio == ""
    assert note.audio_discarded is True
    assert not path.exists()
    assert ai["transcriber"].calls[0][1] == "el"  # the user's language goes to the transcriber


def test_orphaned_processing_notes_are_requeued(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[Any] = []
    monkeypatch.setattr(services, "_enqueue", lambda name, note_id: queued.append((name, note_id)))
    stuck = Note.objects.create(user=user, kind=NoteKind.TEXT, transcription="x")
    Note.objects.create(user=user, kind=NoteKind.TEXT, transcription="y", status=NoteStatus.READY)
    from datetime import timedelta

    from django.utils import timezone

    Note.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    assert services.notes_requeue_orphans(older_than_seconds=60) == 1
    assert queued == [("process", stuck.pk)]
    assert services.notes_requeue_orphans(older_than_seconds=60) == 0  # touched: not again right away


# --- manage.py reembed --------------------------------------------------------------------------------------


def test_reembed_updates_only_stale_passages_and_resumes(
    user: User, ai: dict, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from mindpost.notes.management.commands import reembed

    note = Note.objects.create(user=user, status=NoteStatus.READY, transcription="x")
    for i in range(7):
        Passage.objects.create(
            note=note, user=user, position=i, text=f"passage {i}", embedding=[0.1] * 384, embedding_model="old-model"
        )
    Passage.objects.filter(position=6).update(embedding_model="new-model")
    embedder = StubEmbedder("new-model")
    calls = {"n": 0}
    real = embedder.embed_passages

    def fail_on_third_batch(texts: list[str]) -> list[list[float]]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise TransientAIError("down")
        return real(texts)

    monkeypatch.setattr(embedder, "embed_passages", fail_on_third_batch)
    monkeypatch.setattr(reembed, "get_embedder", lambda: embedder)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="run again to resume"):
        call_command("reembed", "--batch-size", "2", "--no-progress")
    assert Passage.objects.filter(embedding_model="new-model").count() == 5  # two batches committed

    monkeypatch.setattr(embedder, "embed_passages", real)
    call_command("reembed", "--batch-size", "2", "--no-progress")
    assert "Re-embedded 2 passages with new-model" in capsys.readouterr().out
    assert not Passage.objects.exclude(embedding_model="new-model").exists()
    passage = Passage.objects.get(position=0)
    assert list(passage.embedding) == pytest.approx(StubEmbedder.vector("passage 0"), abs=1e-6)


def test_reembed_can_rebuild_the_keyword_index(user: User, ai: dict, monkeypatch: Any, settings: Any) -> None:
    from mindpost.notes.management.commands import reembed

    monkeypatch.setattr(reembed, "get_embedder", lambda: StubEmbedder())
    note = Note.objects.create(user=user, status=NoteStatus.READY, transcription="x")
    Passage.objects.create(note=note, user=user, position=0, text="boats", embedding=[0.1] * 384, embedding_model="m")
    settings.SEARCH_INDEX_KEY = "rotated"
    call_command("reembed", "--keywords", "--no-progress")
    query = blind_index.keyword_query(blind_index.hash_words(["boats"]))
    assert query is not None
    assert Passage.objects.filter(keywords=query).count() == 1


# --- the task functions (thin wrappers; the worker tests run them for real) ----------------------


def test_sweep_cron() -> None:
    from mindpost.notes.tasks import _sweep_cron

    assert _sweep_cron(2) == "* * * * * */2"
    assert _sweep_cron(60) == "*/1 * * * *"
    assert _sweep_cron(300) == "*/5 * * * *"


def test_process_task_passes_the_last_attempt(user: User, monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    from types import SimpleNamespace

    from mindpost.notes import tasks

    seen: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        services, "note_process", lambda *, note_id, final_attempt: seen.append((note_id, final_attempt))
    )
    monkeypatch.setattr(services, "note_reindex", lambda *, note_id: seen.append((note_id, False)))
    settings.NOTE_JOB_MAX_ATTEMPTS = 3
    for attempts in (0, 1, 2):
        tasks.process_note(cast(Any, SimpleNamespace(job=SimpleNamespace(attempts=attempts))), note_id="n")
    tasks.reindex_note(note_id="r")
    assert seen == [("n", False), ("n", False), ("n", True), ("r", False)]


def test_sweep_retries_only_stalled_note_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from asgiref.sync import async_to_sync

    from mindpost.notes import tasks

    retried: list[str] = []

    class Manager:
        async def get_stalled_jobs(self, *, seconds_since_heartbeat: float) -> list[Any]:
            return [
                SimpleNamespace(id=1, task_name="notes.process_note"),
                SimpleNamespace(id=2, task_name="posts.publish_post"),
                SimpleNamespace(id=3, task_name="notes.sweep_notes"),
                SimpleNamespace(id=4, task_name="notes.reindex_note"),
            ]

        async def retry_job(self, job: Any) -> None:
            retried.append(job.task_name)

    monkeypatch.setattr(services, "notes_requeue_orphans", lambda *, older_than_seconds: 2)
    context = cast(Any, SimpleNamespace(app=SimpleNamespace(job_manager=Manager())))
    async_to_sync(tasks.sweep_notes.func)(context, timestamp=0)
    assert retried == ["notes.process_note", "notes.reindex_note"]
