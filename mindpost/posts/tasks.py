"""Jobs: scheduled publishes, retries after rate limits and failures, and crash recovery.

Publishing retries are scheduled by publishing.py itself (its own backoff and retry count,
recorded on the post), so these jobs have no procrastinate retry policy.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from mindpost.core.jobs import app, job, on_commit
from mindpost.posts import publishing


@job(name="posts.publish", queue="posts")
def publish_post(*, post_id: str, token: str) -> None:
    publishing.run_job(post_id=post_id, token=token)


@job(name="posts.publish_delivery", queue="posts")
def publish_delivery(*, delivery_id: str, token: str) -> None:
    # Imported here: crosspost imports this module to defer jobs.
    from mindpost.posts import crosspost

    crosspost.run_job(delivery_id=delivery_id, token=token)


def defer_publish_delivery(*, delivery_id: uuid.UUID, token: uuid.UUID, at: datetime | None) -> None:
    """Queue one cross-post delivery (at `at`, or now) once the transaction commits."""

    def enqueue() -> None:
        task = publish_delivery.configure(schedule_at=at) if at is not None else publish_delivery
        task.defer(delivery_id=str(delivery_id), token=str(token))

    on_commit(enqueue)


@job(name="posts.send_reminder", queue="posts")
def send_reminder(*, reminder_id: str, token: str) -> None:
    # Imported here: reminders imports this module to defer jobs.
    from mindpost.posts import reminders

    reminders.run_job(reminder_id=reminder_id, token=token)


def defer_send_reminder(*, reminder_id: uuid.UUID, token: uuid.UUID, at: datetime) -> None:
    """Queue the reminder at `at` once the transaction commits."""
    on_commit(lambda: send_reminder.configure(schedule_at=at).defer(reminder_id=str(reminder_id), token=str(token)))


@app.periodic(cron="*/2 * * * *", periodic_id="posts-recover")
@job(name="posts.recover_stalled", queue="posts", queueing_lock="posts.recover_stalled")
def recover_stalled(timestamp: int) -> None:
    publishing.recover_stalled()
    # Imported here: services and crosspost import this module to defer jobs.
    from mindpost.posts import crosspost, services

    crosspost.recover_stalled()

    services.draft_requests_fail_stale()


def defer_publish_post(*, post_id: uuid.UUID, token: uuid.UUID, at: datetime | None) -> None:
    """Queue `publish_post` (at `at`, or now) once the transaction commits; the token makes
    older jobs for the post no-ops."""

    def enqueue() -> None:
        task = publish_post.configure(schedule_at=at) if at is not None else publish_post
        task.defer(post_id=str(post_id), token=str(token))

    on_commit(enqueue)


@job(name="posts.generate_drafts", queue="posts")
def generate_drafts(*, request_id: str) -> None:
    # Imported here: services imports this module to defer the job.
    from mindpost.posts import services

    services.draft_request_run(request_id=request_id)


def defer_generate_drafts(*, request_id: uuid.UUID) -> None:
    """Queue the drafts job once the request row is committed (a rollback leaves no job)."""
    on_commit(lambda: generate_drafts.defer(request_id=str(request_id)))
