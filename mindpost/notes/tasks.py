"""Note jobs. Thin: each one calls a service.

- process_note: the pipeline of a new (or retried) note; transient AI errors are retried
  with exponential backoff, and the last attempt marks the note failed.
- reindex_note: re-chunk and re-embed after an edit.
- sweep_notes (periodic): re-queue jobs of workers that died mid-job (no heartbeat), and
  notes left `processing` with no job at all.

Jobs of one note never run at the same time (lock "note:<id>"), and a note waits in
the queue at most once per kind (queueing lock), so a burst of edits costs one re-index.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from procrastinate.exceptions import AlreadyEnqueued

from mindpost.core.jobs import JobContext, app, final_attempt, job, on_commit
from mindpost.notes import services

logger = logging.getLogger(__name__)

QUEUE = "notes"
RETRY = "notes"  # settings.JOB_RETRY_POLICIES: NOTE_JOB_MAX_ATTEMPTS runs, on transient errors only


def _sweep_cron(seconds: int) -> str:
    if seconds < 60:
        return f"* * * * * */{max(seconds, 1)}"  # procrastinate's optional 6th field: seconds
    return f"*/{max(seconds // 60, 1)} * * * *"


@job(name="notes.process_note", queue=QUEUE, pass_context=True, retry=RETRY)
def process_note(context: JobContext, note_id: str) -> None:
    services.note_process(note_id=note_id, final_attempt=final_attempt(context, policy=RETRY))


@job(name="notes.reindex_note", queue=QUEUE, retry=RETRY)
def reindex_note(note_id: str) -> None:
    services.note_reindex(note_id=note_id)


@app.periodic(cron=_sweep_cron(settings.NOTE_STALLED_SWEEP_SECONDS))
@job(name="notes.sweep_notes", queue=QUEUE, queueing_lock="notes.sweep_notes", pass_context=True)
async def sweep_notes(context: JobContext, timestamp: int) -> None:
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=settings.NOTE_STALLED_AFTER_SECONDS)
    for stalled_job in stalled:
        if stalled_job.task_name.startswith("notes.") and stalled_job.task_name != "notes.sweep_notes":
            logger.warning(
                "retrying a stalled note job", extra={"job_id": stalled_job.id, "task": stalled_job.task_name}
            )
            await manager.retry_job(stalled_job)
    requeued = await sync_to_async(services.notes_requeue_orphans, thread_sensitive=False)(
        older_than_seconds=settings.NOTE_STALLED_AFTER_SECONDS
    )
    if requeued:
        logger.warning("re-queued notes that had no job", extra={"count": requeued})


# --- enqueueing (services call these) -------------------------------------------------------


def _defer_once(task_name: str, task: Any, note_id: uuid.UUID) -> None:
    # AlreadyEnqueued: the job already waiting in the queue will read the latest state.
    with contextlib.suppress(AlreadyEnqueued):
        task.configure(lock=f"note:{note_id}", queueing_lock=f"{task_name}-note:{note_id}").defer(note_id=str(note_id))


def defer_process_note(*, note_id: uuid.UUID) -> None:
    """Queue the pipeline of a note once the transaction commits (at most one waiting per note)."""
    on_commit(lambda: _defer_once("process", process_note, note_id))


def defer_reindex_note(*, note_id: uuid.UUID) -> None:
    """Queue a re-index of a note once the transaction commits (a burst of edits costs one)."""
    on_commit(lambda: _defer_once("reindex", reindex_note, note_id))


# --- enrichment (titles, summaries, to-dos, tags: enrich.py) --------------------------------
# Its own queue and a lower priority: a worker picks every note pipeline job first, and a
# deployment can give enrichment a worker of its own. Its own lock too: an enrichment waiting for
# the model never holds up the re-index of the same note ("searchable" first).
ENRICH_QUEUE = "enrich"
ENRICH_PRIORITY = -10


@job(name="notes.enrich_note", queue=ENRICH_QUEUE, pass_context=True, retry=RETRY, priority=ENRICH_PRIORITY)
def enrich_note(context: JobContext, note_id: str) -> None:
    from mindpost.notes import enrich  # enrich imports the AI client stack; only the worker needs it

    enrich.note_enrich(note_id=note_id, final_attempt=final_attempt(context, policy=RETRY))


def defer_enrich_note(*, note_id: uuid.UUID) -> None:
    """Queue the enrichment of a note once the transaction commits (at most one waiting per note;
    it reads the latest text when it runs, and skips text it already enriched)."""

    def enqueue() -> None:
        with contextlib.suppress(AlreadyEnqueued):
            enrich_note.configure(
                lock=f"enrich-note:{note_id}", queueing_lock=f"enrich-note:{note_id}", priority=ENRICH_PRIORITY
            ).defer(note_id=str(note_id))

    on_commit(enqueue)


# --- rewrites (rewrites.py) ------------------------------------------------------------------


@job(name="notes.rewrite_note", queue=QUEUE)
def rewrite_note(*, version_id: str) -> None:
    # Not retried: a failure is recorded on the version and the person asks again (as for drafts).
    from mindpost.notes import rewrites  # rewrites imports this module to defer the job

    rewrites.rewrite_run(version_id=version_id)


def defer_rewrite_note(*, version_id: uuid.UUID) -> None:
    """Queue a rewrite once the version row is committed (a rollback leaves no job)."""
    on_commit(lambda: rewrite_note.defer(version_id=str(version_id)))
