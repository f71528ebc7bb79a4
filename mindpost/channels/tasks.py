"""Channel jobs. Thin: each one calls a service.

handle_inbound takes one received message as far as it can go (services.inbound_advance). Jobs of
one message never run at the same time (lock "inbound:<id>"): the job queued when the message
arrived and the one queued when its note finished are serialised, so a reply is sent once.
Platform failures (network, 5xx, 429) are retried with backoff by the "channels" policy; the
message and what was decided about it stay in the database meanwhile.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings

from mindpost.channels import services
from mindpost.core.jobs import JobContext, app, final_attempt, job, on_commit

logger = logging.getLogger(__name__)

QUEUE = "channels"
RETRY = "channels"  # settings.JOB_RETRY_POLICIES


@job(name="channels.handle_inbound", queue=QUEUE, pass_context=True, retry=RETRY)
def handle_inbound(context: JobContext, message_id: str) -> None:
    services.inbound_advance(message_id=message_id, final_attempt=final_attempt(context, policy=RETRY))


@app.periodic(cron="*/5 * * * *")
@job(name="channels.sweep_inbound", queue=QUEUE, queueing_lock="channels.sweep_inbound")
def sweep_inbound(timestamp: int) -> None:
    """Messages whose job was never queued (or was lost) are picked up again."""
    requeued = services.inbound_requeue_orphans(older_than_seconds=settings.CHANNELS_STALLED_AFTER_SECONDS)
    if requeued:
        logger.warning("re-queued channel messages that had no job", extra={"count": requeued})


def defer_handle_inbound(*, message_id: uuid.UUID) -> None:
    """Queue the message's job once the transaction that stored it commits."""
    on_commit(lambda: handle_inbound.configure(lock=f"inbound:{message_id}").defer(message_id=str(message_id)))
