"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from psycopg_pool import PoolTimeout


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """The database answers and at least one job worker has a fresh heartbeat.

    Under load it still answers: it has its own small lane in the overload limiter (so a flood of
    API requests cannot queue it out), and the lanes together leave pooled connections free for it.
    If the database cannot be reached in time it says so as 503 with Retry-After, never 500.
    """
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            checks["database"] = "ok"
            stale_after = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
            cursor.execute("SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat >= %s", [stale_after])
            row = cursor.fetchone()
    except DatabaseError as exc:
        checks["database"] = "busy" if _pool_exhausted(exc) else "unreachable"
        response = JsonResponse({"status": "unavailable", "checks": checks}, status=503)
        response["Retry-After"] = "5"
        return response

    workers = int(row[0]) if row else 0
    checks["worker"] = "ok" if workers else "no worker heartbeat"
    ok = workers > 0
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks, "workers": workers},
        status=200 if ok else 503,
    )


def _pool_exhausted(exc: BaseException) -> bool:
    return isinstance(exc.__cause__, PoolTimeout)
