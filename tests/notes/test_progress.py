"""Processing stages and transcription progress: what the job stores for the record page and the API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mindpost.accounts.models import User
from mindpost.ai.types import AIError, Segment, Transcript
from mindpost.notes import services, storage
from mindpost.notes.models import Note, NoteKind, NoteStage, NoteStatus
from tests.notes import audio_files
from tests.notes.test_pipeline import StubEmbedder

pytestmark = pytest.mark.django_db

SEGMENTS = 60  # many more segments than progress writes


class ProgressTranscriber:
    """Yields SEGMENTS segments of one second, reporting each one as faster-whisper's loop does,
    and records what the note looked like in the database along the way."""

    model_name = "stub-progress"

    def __init__(self, *, note_id: Any, error: Exception | None = None) -> None:
        self.note_id = note_id
        self.error = error
        self.seen: list[tuple[str, int]] = []

    def transcribe(self, *, audio: Any, language: str | None = None, **options: Any) -> Transcript:
        on_progress = options.get("on_progress")
        assert on_progress is not None, "the pipeline asks for progress"
        segments = []
        for i in range(SEGMENTS):
            segments.append(Segment(start=float(i), end=float(i + 1), text=f"Word number {i}."))
            on_progress((i + 1) / SEGMENTS)
            note = Note.objects.values("stage", "progress").get(pk=self.note_id)
            self.seen.append((note["stage"], note["progress"]))
            if self.error is not None and i == SEGMENTS // 2:
                raise self.error
        text = " ".join(s.text for s in segments)
        return Transcript(text=text, language="en", duration=float(SEGMENTS), segments=segments)


@pytest.fixture
def voice_note(user: User, media_dir: Path) -> Note:
    note = Note.objects.create(user=user, kind=NoteKind.VOICE, audio_format="wav", holds_recording_unit=True)
    name = storage.audio_path(user_id=user.pk, note_id=note.pk, audio_format="wav")
    (media_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (media_dir / name).write_bytes(audio_files.wav_bytes(audio_files.tone(2.0)))
    note.audio = name
    note.save()
    return note


def _use(monkeypatch: pytest.MonkeyPatch, transcriber: Any) -> None:
    monkeypatch.setattr(services, "get_transcriber", lambda: transcriber)
    monkeypatch.setattr(services, "get_embedder", lambda: StubEmbedder())


def test_a_new_note_is_uploaded_at_zero_percent(voice_note: Note) -> None:
    assert voice_note.stage == NoteStage.UPLOADED
    assert voice_note.progress == 0


def test_stages_and_progress_move_forward_with_few_writes(
    voice_note: Note, monkeypatch: pytest.MonkeyPatch, metering_noop: None
) -> None:
    transcriber = ProgressTranscriber(note_id=voice_note.pk)
    _use(monkeypatch, transcriber)
    with CaptureQueriesContext(connection) as queries:
        services.note_process(note_id=voice_note.pk, final_attempt=False)
    note = Note.objects.get(pk=voice_note.pk)
    assert note.status == NoteStatus.READY
    assert (note.stage, note.progress) == (NoteStage.READY, 100)

    stages = {stage for stage, _ in transcriber.seen}
    assert stages == {NoteStage.TRANSCRIBING}
    percents = [percent for _, percent in transcriber.seen]
    assert percents == sorted(percents), "progress never goes back"
    assert percents[0] < 10
    assert 90 <= percents[-1] < 100  # 100 comes with the stored transcript
    # One UPDATE per 5 points at most, not one per segment (60 here).
    progress_writes = [
        q for q in queries.captured_queries if q["sql"].startswith("UPDATE") and '"progress"' in q["sql"]
    ]
    assert len(progress_writes) <= 100 // services._ProgressWriter.STEP + 3  # + transcribing, indexing, ready
    assert len(progress_writes) < SEGMENTS // 2


def test_a_failed_note_keeps_the_stage_it_failed_in(
    voice_note: Note, monkeypatch: pytest.MonkeyPatch, metering_noop: None
) -> None:
    _use(monkeypatch, ProgressTranscriber(note_id=voice_note.pk, error=AIError("refused")))
    services.note_process(note_id=voice_note.pk, final_attempt=False)
    note = Note.objects.get(pk=voice_note.pk)
    assert note.status == NoteStatus.FAILED
    assert note.stage == NoteStage.TRANSCRIBING
    assert 40 <= note.progress < 60


def test_a_typed_note_skips_transcribing(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "get_embedder", lambda: StubEmbedder())
    seen: list[str] = []
    real_index = services._index

    def spy(*, note_id: Any, finish: bool) -> None:
        seen.append(Note.objects.values_list("stage", flat=True).get(pk=note_id))
        real_index(note_id=note_id, finish=finish)

    monkeypatch.setattr(services, "_index", spy)
    note = Note.objects.create(user=user, kind=NoteKind.TEXT, transcription="Buy tomatoes for the pasta dinner.")
    services.note_process(note_id=note.pk, final_attempt=False)
    note.refresh_from_db()
    assert seen == [NoteStage.INDEXING]
    assert (note.status, note.stage) == (NoteStatus.READY, NoteStage.READY)


def test_the_writer_stores_every_five_points_and_never_100(voice_note: Note) -> None:
    writer = services._ProgressWriter(note_id=voice_note.pk)
    Note.objects.filter(pk=voice_note.pk).update(stage=NoteStage.TRANSCRIBING)
    stored = []
    for fraction in np.linspace(0, 1, 201):
        writer(float(fraction))
        stored.append(Note.objects.values_list("progress", flat=True).get(pk=voice_note.pk))
    assert sorted(set(stored)) == list(range(0, 100, 5))
    # A note that finished meanwhile (or was failed) is not written to.
    Note.objects.filter(pk=voice_note.pk).update(status=NoteStatus.FAILED, progress=12)
    services._ProgressWriter(note_id=voice_note.pk)(0.5)
    assert Note.objects.values_list("progress", flat=True).get(pk=voice_note.pk) == 12


@pytest.fixture
def metering_noop(monkeypatch: pytest.MonkeyPatch) -> None:
    from mindpost.billing import metering

    monkeypatch.setattr(metering, "release", lambda *, user, metric: None)
