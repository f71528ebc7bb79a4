"""Note writes: create (voice or typed), edit, delete, retry, settings, and the pipeline steps.

The request does only bounded work (checks, one decode, storing the file and the row);
transcription, tagging, chunking and embedding run in the job (tasks.py), which calls
note_process / note_reindex here. Every step that the job may repeat is safe to repeat:
the transcript is written once, passages are replaced in one transaction, and a note
that was deleted or edited meanwhile is left alone.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Value
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.ai import audio as ai_audio
from mindpost.ai import get_embedder, get_transcriber
from mindpost.ai.types import AIError, TransientAIError
from mindpost.billing import metering
from mindpost.core import metrics
from mindpost.core.errors import Conflict, Invalid
from mindpost.notes import blind_index, idempotency, signals, storage, tagging, tasks, uploads
from mindpost.notes import vocabulary as vocabulary_mod
from mindpost.notes.chunking import chunk_transcript
from mindpost.notes.models import EMBEDDING_DIMENSIONS, Note, NoteKind, NoteSettings, NoteStage, NoteStatus, Passage
from mindpost.notes.tags import auto_candidates
from mindpost.notes.text import derive_title

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreateResult:
    note: Note
    created: bool  # False: an Idempotency-Key replay returned the note made earlier


class NoteFailure(Exception):
    """A permanent failure of the pipeline: the note becomes `failed` with this code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


FAILURE_MESSAGES = {
    "audio_missing": "The audio file of this note is gone, so it cannot be transcribed.",
    "no_speech": "We could not make out any words in this recording.",
    "transcription_failed": "Transcription failed for this recording.",
    "embedding_failed": "The note could not be indexed for search.",
    "ai_unavailable": "The speech or search model was unavailable for too long. Retry the note later.",
    "processing_error": "Something went wrong while processing this note. It has been logged.",
    "unsupported_format": "This file is not a recording we can read.",
    "corrupt_audio": "The recording is damaged or cut off, so it cannot be played.",
    "empty_audio": "The recording contains no audio.",
}


# --- Settings ----------------------------------------------------------------------


def note_settings_update(
    *,
    user: User,
    keep_audio: bool | None = None,
    transcription_language: str | None = None,
    vocabulary: str | None = None,
    save_on_stop: bool | None = None,
) -> NoteSettings:
    note_settings, _ = NoteSettings.objects.get_or_create(user=user)
    if keep_audio is not None:
        note_settings.keep_audio = keep_audio
    if transcription_language is not None:
        note_settings.transcription_language = transcription_language.strip().lower()
    if vocabulary is not None:
        note_settings.vocabulary = vocabulary_mod.validate_vocabulary(vocabulary)
    if save_on_stop is not None:
        note_settings.save_on_stop = save_on_stop
    note_settings.save()
    return note_settings


# --- Creating notes --------------------------------------------------------------------


def _replay(*, user: User, key: str | None, fingerprint: str) -> Note | None:
    if key is None:
        return None
    existing = Note.objects.filter(user=user, idempotency_key=key).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise idempotency.key_reused()
    return existing


def _enqueue(task_name: str, note_id: uuid.UUID) -> None:
    defer = tasks.defer_process_note if task_name == "process" else tasks.defer_reindex_note
    defer(note_id=note_id)


def _on_commit(callback: Callable[[], None]) -> None:
    transaction.on_commit(callback, robust=True)


def note_create_from_audio(*, user: User, upload: UploadedFile, idempotency_key: str | None) -> CreateResult:
    """Check, store and enqueue a recording; an AppError for anything we will not accept."""
    limit = settings.NOTE_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise uploads.file_too_large(limit)
    with uploads.spooled(upload) as (path, size, fingerprint):
        if size > limit:
            raise uploads.file_too_large(limit)
        existing = _replay(user=user, key=idempotency_key, fingerprint=fingerprint)
        if existing is not None:
            return CreateResult(existing, created=False)
        # One RECORDINGS unit, given back if the upload is refused or loses an idempotency race.
        metering.reserve(user=user, metric=metering.Metric.RECORDINGS)
        try:
            checked = uploads.check_audio(
                path=path, size=size, fingerprint=fingerprint, max_seconds=uploads.max_seconds_for(user)
            )
            result = _insert_voice_note(user=user, checked=checked, idempotency_key=idempotency_key)
        except BaseException:
            metering.release(user=user, metric=metering.Metric.RECORDINGS)
            raise
        if not result.created:
            metering.release(user=user, metric=metering.Metric.RECORDINGS)
    return result


def _insert_voice_note(*, user: User, checked: uploads.CheckedAudio, idempotency_key: str | None) -> CreateResult:
    note = Note(
        user=user,
        kind=NoteKind.VOICE,
        status=NoteStatus.PROCESSING,
        duration_seconds=round(checked.duration, 2),
        audio_format=checked.format,
        audio_bytes=checked.size,
        idempotency_key=idempotency_key,
        request_fingerprint=checked.fingerprint,
        holds_recording_unit=True,
    )
    stored = ""
    try:
        with transaction.atomic():
            note.save(force_insert=True)  # the unique (user, key) check happens here, before any upload
            with checked.path.open("rb") as handle:
                stored = storage.save_audio(
                    name=storage.audio_path(user_id=user.pk, note_id=note.pk, audio_format=checked.format),
                    content=handle,
                )
            note.audio = stored
            note.save(update_fields=["audio"])
            _on_commit(lambda: _enqueue("process", note.pk))
    except IntegrityError:
        # Another request with the same key won the race.
        storage.delete_audio(stored)
        existing = _replay(user=user, key=idempotency_key, fingerprint=checked.fingerprint)
        if existing is None:
            raise
        return CreateResult(existing, created=False)
    except BaseException:
        storage.delete_audio(stored)
        raise
    logger.info("note uploaded", extra={"note_id": str(note.pk), "user_id": str(user.pk)})
    return CreateResult(note, created=True)


def _clean_text(text: Any, *, field: str) -> str:
    if not isinstance(text, str) or not text.strip():
        raise Invalid(
            "The text must not be empty.", code="empty_text", fields={field: ["This field may not be blank."]}
        )
    text = text.strip()
    if len(text) > settings.NOTE_MAX_TEXT_CHARS:
        raise Invalid(
            f"The text is longer than {settings.NOTE_MAX_TEXT_CHARS} characters.",
            code="text_too_long",
            fields={field: [f"At most {settings.NOTE_MAX_TEXT_CHARS} characters."]},
        )
    return text


def _apply_text(note: Note, text: str) -> None:
    note.transcription = text
    if not note.title_edited:  # a title the user typed survives transcript edits
        note.title = derive_title(text)


def _apply_auto_tags(note: Note) -> None:
    """The frequency tags, cleaned against the user's vocabulary (a no-op once the user edited
    the tags). Callers take tagging.lock_vocabulary before any note row lock."""
    candidates = auto_candidates(note.transcription, language=note.language)
    tagging.note_apply_tags(note=note, candidates=candidates, source="auto")


def note_create_from_text(*, user: User, text: Any, idempotency_key: str | None) -> CreateResult:
    """A typed note: no transcription, but the same tagging, chunking and embedding."""
    text = _clean_text(text, field="text")
    fingerprint = idempotency.fingerprint(kind="text", chunks=[text.encode()])
    existing = _replay(user=user, key=idempotency_key, fingerprint=fingerprint)
    if existing is not None:
        return CreateResult(existing, created=False)
    note = Note(
        user=user,
        kind=NoteKind.TEXT,
        status=NoteStatus.PROCESSING,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint,
        transcribed_at=timezone.now(),
    )
    _apply_text(note, text)
    try:
        with transaction.atomic():
            note.save(force_insert=True)
            _apply_auto_tags(note)  # same transaction: the job sees the tags
            _on_commit(lambda: _enqueue("process", note.pk))
    except IntegrityError:
        existing = _replay(user=user, key=idempotency_key, fingerprint=fingerprint)
        if existing is None:
            raise
        return CreateResult(existing, created=False)
    return CreateResult(note, created=True)


# --- Changing notes ---------------------------------------------------------------------


def note_update_transcription(*, note: Note, transcription: Any) -> Note:
    """Replace the text (edited=True); title and tags now, passages and vectors in the job."""
    text = _clean_text(transcription, field="transcription")
    if note.status != NoteStatus.READY:
        raise Conflict(
            "This note is still being processed or has failed; edit it once it is ready.", code="note_not_ready"
        )
    if text == note.transcription:
        return note
    before = note.transcription
    _apply_text(note, text)
    note.edited = True
    with transaction.atomic():
        tagging.lock_vocabulary(user_id=note.user_id)  # before the row lock the save takes
        note.save(update_fields=["transcription", "title", "edited", "updated_at"])
        _apply_auto_tags(note)
        # Names the user typed over the machine's guess are spelled right in later recordings.
        vocabulary_mod.vocabulary_learn_from_edit(user=note.user, before=before, after=text)
        _on_commit(lambda: _enqueue("reindex", note.pk))
        tasks.defer_enrich_note(note_id=note.pk)  # the new text gets a new title, summary and to-dos
    return note


def note_delete(*, note: Note) -> None:
    """Delete the note, its passages and vectors now, and its audio once that is committed.

    The row lock first: the indexing job writes passages under the same lock (_index). Without
    it the cascade could delete the passages, the job then insert new ones, and the delete of
    the note row fail on their foreign key (an IntegrityError, a 500) or deadlock with the job.
    """
    with transaction.atomic():
        tagging.lock_vocabulary(user_id=note.user_id)  # before the row lock, as every tag writer
        locked = Note.objects.select_for_update().filter(pk=note.pk).first()
        if locked is None:
            return  # already deleted (a second click, or a second tab)
        audio = locked.audio  # read under the lock: the job may have discarded it meanwhile
        hashes = list(locked.tag_hashes)
        locked.delete()
        tagging.vocabulary_recount(user_id=locked.user_id, hashes=hashes)
        if audio:
            _on_commit(lambda: storage.delete_audio(audio))


def note_retry(*, note: Note) -> Note:
    """Run a failed note through the pipeline again (it takes a recording unit again)."""
    if note.status != NoteStatus.FAILED:
        raise Conflict("Only a failed note can be retried.", code="note_not_failed")
    voice_needs_audio = note.kind == NoteKind.VOICE and note.transcribed_at is None
    if voice_needs_audio and not note.audio:
        raise Conflict("The audio of this note is gone, so it cannot be processed again.", code="audio_unavailable")
    reserve = note.kind == NoteKind.VOICE
    with transaction.atomic():
        locked = Note.objects.select_for_update().get(pk=note.pk)
        if locked.status != NoteStatus.FAILED:
            raise Conflict("Only a failed note can be retried.", code="note_not_failed")
        if reserve:
            metering.reserve(user=note.user, metric=metering.Metric.RECORDINGS)
        locked.status = NoteStatus.PROCESSING
        locked.failure_code = ""
        locked.failure_reason = ""
        locked.holds_recording_unit = reserve
        locked.processed_at = None
        locked.save(update_fields=["status", "failure_code", "failure_reason", "holds_recording_unit", "processed_at"])
        _on_commit(lambda: _enqueue("process", locked.pk))
    return locked


# --- The pipeline (called by the job) --------------------------------------------------


def note_process(*, note_id: str | uuid.UUID, final_attempt: bool) -> None:
    """Transcribe (voice notes), tag, chunk, embed and mark ready, or mark failed.

    Transient AI errors propagate so the job is retried with backoff; on the last
    attempt the note is marked failed first. Permanent errors mark it failed at once.
    """
    note = Note.objects.select_related("user").filter(pk=note_id).first()
    if note is None or note.status != NoteStatus.PROCESSING:
        return  # deleted, or already finished by an earlier run of this job
    try:
        if note.kind == NoteKind.VOICE and note.transcribed_at is None:
            _set_stage(note_id=note.pk, stage=NoteStage.TRANSCRIBING, progress=0)
            _transcribe(note)
        _set_stage(note_id=note.pk, stage=NoteStage.INDEXING, progress=100)
        _index(note_id=note.pk, finish=True)
    except NoteFailure as failure:
        note_fail(note_id=note.pk, code=failure.code, reason=failure.reason)
    except (TransientAIError, OperationalError, InterfaceError) as exc:
        logger.warning("note processing hit a transient error", extra={"note_id": str(note.pk), "error": str(exc)})
        if final_attempt:
            note_fail(note_id=note.pk, code="ai_unavailable", reason=FAILURE_MESSAGES["ai_unavailable"])
        raise
    except AIError as exc:
        logger.warning("note processing failed", extra={"note_id": str(note.pk), "error": str(exc)})
        step = "transcription_failed" if note.transcribed_at is None else "embedding_failed"
        note_fail(note_id=note.pk, code=step, reason=FAILURE_MESSAGES[step])
    except Exception:
        logger.exception("note processing crashed", extra={"note_id": str(note.pk)})
        note_fail(note_id=note.pk, code="processing_error", reason=FAILURE_MESSAGES["processing_error"])
        raise


def note_reindex(*, note_id: str | uuid.UUID) -> None:
    """Re-chunk and re-embed a ready note after its transcript was edited."""
    note = Note.objects.filter(pk=note_id).first()
    if note is None or note.status != NoteStatus.READY:
        return
    _index(note_id=note.pk, finish=False)


def note_fail(*, note_id: uuid.UUID, code: str, reason: str) -> None:
    """Mark a processing note failed and give its recording unit back (once)."""
    with transaction.atomic():
        note = Note.objects.select_for_update().select_related("user").filter(pk=note_id).first()
        if note is None or note.status != NoteStatus.PROCESSING:
            return
        if note.holds_recording_unit:
            metering.release(user=note.user, metric=metering.Metric.RECORDINGS)
        note.status = NoteStatus.FAILED
        note.failure_code = code
        note.failure_reason = reason[:500]
        note.holds_recording_unit = False
        note.processed_at = timezone.now()
        note.save(update_fields=["status", "failure_code", "failure_reason", "holds_recording_unit", "processed_at"])
        transaction.on_commit(
            lambda: signals.note_finished.send(sender=Note, note_id=note_id, status=NoteStatus.FAILED), robust=True
        )
    logger.info("note failed", extra={"note_id": str(note_id), "code": code})


def _download(name: str, destination: Path) -> None:
    try:
        with storage.open_audio(name) as source, destination.open("wb") as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
    except FileNotFoundError as exc:
        raise NoteFailure("audio_missing", FAILURE_MESSAGES["audio_missing"]) from exc


def _set_stage(*, note_id: uuid.UUID, stage: NoteStage, progress: int) -> None:
    # One UPDATE, not a save(): the record page polls these two columns while the job runs.
    Note.objects.filter(pk=note_id, status=NoteStatus.PROCESSING).update(stage=stage, progress=progress)


class _ProgressWriter:
    """Stores transcription progress (percent) every STEP points: at most 100/STEP UPDATEs per
    note however many segments Whisper yields, and none between them."""

    STEP = 5

    def __init__(self, *, note_id: uuid.UUID) -> None:
        self.note_id = note_id
        self.written = 0

    def __call__(self, fraction: float) -> None:
        percent = max(0, min(99, int(fraction * 100)))  # 100 comes with the transcript itself
        if percent - self.written < self.STEP:
            return
        self.written = percent
        Note.objects.filter(pk=self.note_id, status=NoteStatus.PROCESSING).update(progress=percent)


def _transcribe(note: Note) -> None:
    if not note.audio:
        raise NoteFailure("audio_missing", FAILURE_MESSAGES["audio_missing"])
    language = (
        NoteSettings.objects.filter(user_id=note.user_id).values_list("transcription_language", flat=True).first()
    )
    with tempfile.TemporaryDirectory(prefix="mindpost-note-") as directory:
        path = Path(directory) / "audio"
        _download(note.audio, path)
        try:
            with metrics.stage("decode"):  # pipeline stage durations on /metrics
                decoded = ai_audio.decode(path)
        except ai_audio.AudioDecodeError as exc:
            code = str(getattr(exc, "code", "corrupt_audio"))
            raise NoteFailure(code, FAILURE_MESSAGES.get(code, FAILURE_MESSAGES["corrupt_audio"])) from exc
    transcriber = get_transcriber()
    # The user's own words (names, terms) as Whisper's prompt; omitted when there are none.
    prompt = vocabulary_mod.transcription_prompt(user=note.user)
    extra = {"prompt": prompt} if prompt else {}
    with metrics.stage("transcribe"):
        transcript = transcriber.transcribe(
            audio=decoded.samples, language=language or None, on_progress=_ProgressWriter(note_id=note.pk), **extra
        )
    text = " ".join(transcript.text.split())
    if not text:
        raise NoteFailure("no_speech", FAILURE_MESSAGES["no_speech"])
    segments = [
        {"start": round(float(s.start), 2), "end": round(float(s.end), 2), "text": s.text.strip()}
        for s in transcript.segments
        if s.text.strip()
    ]
    with transaction.atomic():
        tagging.lock_vocabulary(user_id=note.user_id)  # before the row lock, as every tag writer
        locked = Note.objects.select_for_update().filter(pk=note.pk, status=NoteStatus.PROCESSING).first()
        if locked is None:
            return
        _apply_text(locked, text)
        locked.segments = segments
        locked.language = (transcript.language or "")[:16]
        locked.duration_seconds = round(float(transcript.duration or decoded.duration), 2)
        locked.transcribe_model = transcriber.model_name[:200]
        locked.transcribed_at = timezone.now()
        locked.save()
        _apply_auto_tags(locked)
    note.transcribed_at = locked.transcribed_at


def _index(*, note_id: uuid.UUID, finish: bool) -> None:
    note = Note.objects.filter(pk=note_id).first()
    if note is None:
        return
    text = note.transcription
    chunks = chunk_transcript(text=text, segments=note.segments)
    if not chunks:
        raise NoteFailure("no_speech", FAILURE_MESSAGES["no_speech"])
    embedder = get_embedder()
    with metrics.stage("embed"):
        vectors = embedder.embed_passages([chunk.text for chunk in chunks])
    if len(vectors) != len(chunks) or any(len(vector) != EMBEDDING_DIMENSIONS for vector in vectors):
        raise AIError("The embedder returned the wrong number or size of vectors.")
    with transaction.atomic():
        locked = Note.objects.select_for_update().filter(pk=note_id).first()
        if locked is None or locked.transcription != text:
            return  # deleted, or edited meanwhile: the job queued by that edit indexes the new text
        if finish and locked.status != NoteStatus.PROCESSING:
            return
        Passage.objects.filter(note=locked).delete()
        Passage.objects.bulk_create(
            Passage(
                note=locked,
                user_id=locked.user_id,
                position=chunk.position,
                text=chunk.text,
                start_seconds=chunk.start,
                end_seconds=chunk.end,
                embedding=vector,
                embedding_model=embedder.model_name,
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        )
        passages_set_keywords(note_id=locked.pk)
        if finish:
            _finish(locked)


def passages_set_keywords(*, note_id: uuid.UUID | None = None, passage_ids: list[int] | None = None) -> int:
    """(Re)write the blind keyword index of some passages; returns how many."""
    queryset = Passage.objects.all()
    if note_id is not None:
        queryset = queryset.filter(note_id=note_id)
    if passage_ids is not None:
        queryset = queryset.filter(pk__in=passage_ids)
    count = 0
    for passage in queryset.only("id", "text"):
        hashed = blind_index.hash_text(passage.text)
        Passage.objects.filter(pk=passage.pk).update(
            keywords=SearchVector(Value(hashed), config=blind_index.SEARCH_CONFIG)
        )
        count += 1
    return count


def _finish(note: Note) -> None:
    keep_audio = NoteSettings.objects.filter(user_id=note.user_id).values_list("keep_audio", flat=True).first()
    note.status = NoteStatus.READY
    note.failure_code = ""
    note.failure_reason = ""
    note.holds_recording_unit = False  # the unit is spent for good
    note.processed_at = timezone.now()
    note.stage = NoteStage.READY
    note.progress = 100
    if keep_audio is False and note.audio:
        discarded = note.audio
        note.audio = ""
        note.audio_discarded = True
        _on_commit(lambda: storage.delete_audio(discarded))
    note.save()
    # After the commit that makes it searchable: titles, summary, to-dos and tags come later.
    tasks.defer_enrich_note(note_id=note.pk)
    transaction.on_commit(
        lambda: signals.note_finished.send(sender=Note, note_id=note.pk, status=NoteStatus.READY), robust=True
    )
    logger.info("note ready", extra={"note_id": str(note.pk)})


def notes_requeue_orphans(*, older_than_seconds: int) -> int:
    """Queue a job again for notes stuck in `processing` with no job waiting or running.

    That happens when enqueueing after commit failed, or when a crash left the job
    finished but the note not updated. Returns how many notes were re-queued.
    """
    from procrastinate.contrib.django.models import ProcrastinateJob

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    candidates = list(
        Note.objects.filter(status=NoteStatus.PROCESSING, updated_at__lt=cutoff).values_list("pk", flat=True)[:500]
    )
    if not candidates:
        return 0
    active = set(
        ProcrastinateJob.objects.filter(
            status__in=("todo", "doing"), lock__in=[f"note:{note_id}" for note_id in candidates]
        ).values_list("lock", flat=True)
    )
    orphans = [note_id for note_id in candidates if f"note:{note_id}" not in active]
    for note_id in orphans:
        # Touch first so one orphan is re-queued at most once per sweep interval.
        Note.objects.filter(pk=note_id).update(updated_at=timezone.now())
        _enqueue("process", note_id)
    return len(orphans)
