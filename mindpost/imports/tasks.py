"""Import jobs. Thin: each one calls a service.

- process_batch: import the pending items of one batch, in order. On the notes queue (an import
  is note creation; the notes worker runs it), retried on transient database errors.
- sweep_imports (periodic): retry import jobs of workers that died mid-job (no heartbeat), and
  re-queue batches left unfinished with no job at all.
"""

from __future__ import annotations

import contextlib
import logging
import uuid

from asgiref.sync import sync_to_async
from django.conf import settings
from procrastinate.exceptions import AlreadyEnqueued

from mindpost.core.jobs import JobContext, app, job, on_commit

logger = logging.getLogger(__name__)

QUEUE = "notes"
RETRY = "notes"


def lock_of(batch_id: uuid.UUID | str) -> str:
    return f"import:{batch_id}"


@job(name="imports.process_batch", queue=QUEUE, retry=RETRY)
def process_batch(batch_id: str) -> None:
    from mindpost.imports import services  # services import this module to defer the job

    services.batch_process(batch_id=batch_id)


def defer_process_batch(*, batch_id: uuid.UUID | str) -> None:
    """Queue a batch once the transaction commits (one job at a time per batch, one waiting)."""

    def enqueue() -> None:
        with contextlib.suppress(AlreadyEnqueued):
            process_batch.configure(lock=lock_of(batch_id), queueing_lock=f"waiting-{lock_of(batch_id)}").defer(
                batch_id=str(batch_id)
            )

    on_commit(enqueue)


def _sweep_cron(seconds: int) -> str:
    if seconds < 60:
        return f"* * * * * */{max(seconds, 1)}"  # procrastinate's optional 6th field: seconds
    return f"*/{max(seconds // 60, 1)} * * * *"


@app.periodic(cron=_sweep_cron(settings.NOTE_STALLED_SWEEP_SECONDS))
@job(name="imports.sweep_imports", queue=QUEUE, queueing_lock="imports.sweep_imports", pass_context=True)
async def sweep_imports(context: JobContext, timestamp: int) -> None:
    from mindpost.imports import services

    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=settings.NOTE_STALLED_AFTER_SECONDS)
    for stalled_job in stalled:
        if stalled_job.task_name == "imports.process_batch":
            logger.warning("retrying a stalled import job", extra={"job_id": stalled_job.id})
            await manager.retry_job(stalled_job)
    requeued = await sync_to_async(services.batch_requeue_orphans, thread_sensitive=False)(
        older_than_seconds=settings.NOTE_STALLED_AFTER_SECONDS
    )
    if requeued:
        logger.warning("re-queued imports that had no job", extra={"count": requeued})
