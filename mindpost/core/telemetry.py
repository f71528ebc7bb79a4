"""Sentry error reports (and traces at SENTRY_TRACES_SAMPLE_RATE), switched on only by SENTRY_DSN.

Started once per process when Django loads the core app (CoreConfig.ready): web workers, job
workers and management commands alike. Job failures reach Sentry through the logging integration
(mindpost.core.jobs logs them with logger.exception). Notes are private and encrypted at rest, so
nothing of their content may leave in a report: no request bodies, no local variables of stack
frames (a transcript is a local variable in half the pipeline), no personal data (user, IP, cookies).
"""

from __future__ import annotations

import logging

from django.conf import settings

logger = logging.getLogger(__name__)


def setup() -> bool:
    """Start Sentry if SENTRY_DSN is set; True when it was started."""
    dsn = str(getattr(settings, "SENTRY_DSN", "") or "")
    if not dsn:
        return False
    import sentry_sdk  # only imported when configured: it patches Django when it starts

    sentry_sdk.init(
        dsn=dsn,
        environment=settings.SENTRY_ENVIRONMENT,
        traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
        send_default_pii=False,
        include_local_variables=False,
        max_request_body_size="never",
    )
    logger.info("sentry enabled", extra={"environment": settings.SENTRY_ENVIRONMENT})
    return True
