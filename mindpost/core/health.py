"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving requests; touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """The database answers and at least one job worker has a fresh heartbeat."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError:
        checks["database"] = "unreachable"
        return JsonResponse({"status": "unavailable", "checks": checks}, status=503)

    stale_after = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_workers WHERE last_heartbeat >= %s", [stale_after])
        row = cursor.fetchone()
    workers = int(row[0]) if row else 0
    checks["worker"] = "ok" if workers else "no worker heartbeat"
    ok = workers > 0
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks, "workers": workers},
        status=200 if ok else 503,
    )
