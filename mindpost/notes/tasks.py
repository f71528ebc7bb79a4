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

import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from procrastinate import JobContext, RetryStrategy

from mindpost.ai.types import TransientAIError
from mindpost.core.jobs import app
from mindpost.notes import services

logger = logging.getLogger(__name__)

QUEUE = "notes"
RETRY = RetryStrategy(
    # Procrastinate counts retries after the first run; the setting counts every run.
    max_attempts=max(settings.NOTE_JOB_MAX_ATTEMPTS - 1, 0),
    exponential_wait=settings.NOTE_JOB_RETRY_BASE_SECONDS,
    retry_exceptions=[TransientAIError, OperationalError, InterfaceError],
)


def _sweep_cron(seconds: int) -> str:
    if seconds < 60:
        return f"* * * * * */{max(seconds, 1)}"  # procrastinate's optional 6th field: seconds
    return f"*/{max(seconds // 60, 1)} * * * *"


@app.task(name="notes.process_note", queue=QUEUE, pass_context=True, retry=RETRY)
def process_note(context: JobContext, note_id: str) -> None:
    close_old_connections()
    try:
        final = context.job.attempts >= settings.NOTE_JOB_MAX_ATTEMPTS - 1
        services.note_process(note_id=note_id, final_attempt=final)
    finally:
        close_old_connections()


@app.task(name="notes.reindex_note", queue=QUEUE, retry=RETRY)
def reindex_note(note_id: str) -> None:
    close_old_connections()
    try:
        services.note_reindex(note_id=note_id)
    finally:
        close_old_connections()


@app.periodic(cron=_sweep_cron(settings.NOTE_STALLED_SWEEP_SECONDS))
@app.task(name="notes.sweep_notes", queue=QUEUE, queueing_lock="notes.sweep_notes", pass_context=True)
async def sweep_notes(context: JobContext, timestamp: int) -> None:
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=settings.NOTE_STALLED_AFTER_SECONDS)
    for job in stalled:
        if job.task_name.startswith("notes.") and job.task_name != "notes.sweep_notes":
            logger.warning("retrying a stalled note job", extra={"job_id": job.id, "task": job.task_name})
            await manager.retry_job(job)
    requeued = await sync_to_async(services.notes_requeue_orphans, thread_sensitive=False)(
        older_than_seconds=settings.NOTE_STALLED_AFTER_SECONDS
    )
    if requeued:
        logger.warning("re-queued notes that had no job", extra={"count": requeued})
