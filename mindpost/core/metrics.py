"""Prometheus metrics: what /metrics exposes, and the small functions the apps call to record them.

Apps record through this module (core imports no app): `observe_request` (the middleware in
mindpost.core.metrics_middleware), `stage()` (notes pipeline), `model_call()` /
`observe_first_token()` / `observe_queue_wait()` (mindpost.ai). Queue depths are not recorded at
all: `QueueCollector` reads them from PostgreSQL when Prometheus scrapes, so they are right
whichever process (or machine) enqueued or ran the jobs.

Multiprocess mode, and why: `make run` serves the web from WEB_CONCURRENCY uvicorn processes and
runs jobs in separate worker processes, and each has its own memory. An in-memory registry would
show whichever process happened to answer the scrape: a fraction of the requests, and none of the
pipeline stages (they run in the worker). With PROMETHEUS_MULTIPROC_DIR set (runstack sets it and
wipes it at start), prometheus_client writes every sample to a per-process mmap file in that
directory and `render()` sums the files of every process, live or exited. The variable must be in
the environment before prometheus_client is first imported, so it is set by the parent process,
never from settings. Without it (tests, a single process) the default in-memory registry is used.

Label values are bounded by construction: routes are URL patterns, never paths; methods and codes
are folded into short fixed sets (`_method`, `_code`), so no request can create a new series.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.db import DatabaseError, connection
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Fine below 100 ms, where the API's targets are (notes list p99 <= 50 ms), coarse above.
_HTTP_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
_STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
_MODEL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
_WAIT_BUCKETS = (0.01, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)

REQUEST_SECONDS = Histogram(
    "mindpost_http_request_duration_seconds",
    "Time from the request reaching Django to the response (first byte for streams), per URL pattern.",
    ["route", "method", "status"],
    buckets=_HTTP_BUCKETS,
)
FAILURES = Counter(
    "mindpost_failures",
    "Error responses by their API error code (http_<status> when the response has none).",
    ["code", "status"],
)
STAGE_SECONDS = Histogram(
    "mindpost_pipeline_stage_duration_seconds",
    "Duration of a note pipeline stage (decode, transcribe, embed, enrich); outcome ok or error.",
    ["stage", "outcome"],
    buckets=_STAGE_BUCKETS,
)
MODEL_SECONDS = Histogram(
    "mindpost_model_request_duration_seconds",
    "Duration of a chat model call: a whole completion, or a stream from request to its last token.",
    ["operation", "backend", "outcome"],
    buckets=_MODEL_BUCKETS,
)
MODEL_FIRST_TOKEN_SECONDS = Histogram(
    "mindpost_model_first_token_seconds",
    "Time from opening a streamed chat completion to its first token.",
    ["backend"],
    buckets=_MODEL_BUCKETS,
)
MODEL_QUEUE_WAIT_SECONDS = Histogram(
    "mindpost_model_queue_wait_seconds",
    "Time a model call waited for a slot of the shared model (mindpost.ai.queue), per lane.",
    ["lane", "outcome"],
    buckets=_WAIT_BUCKETS,
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# mindpost.ai.queue.Lane by value (core cannot import ai; tests/core/test_metrics.py checks they agree).
LANES = {0: "chat", 1: "draft", 2: "background"}


def _method(method: str | None) -> str:
    return method if method in _METHODS else "other"


def _code(code: str) -> str:
    return code if _CODE.match(code) else "other"


def status_class(status: int) -> str:
    return f"{status // 100}xx"


# --- recording ---------------------------------------------------------------------------------


# Labelled children by label values: labels() validates and locks on every call, a third of the
# cost of recording a request. As bounded as the series themselves.
_request_children: dict[tuple[str, str, str], Any] = {}


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    key = (route, _method(method), status_class(status))
    child = _request_children.get(key)
    if child is None:
        child = _request_children.setdefault(key, REQUEST_SECONDS.labels(*key))
    child.observe(seconds)


def count_failure(*, code: str, status: int) -> None:
    FAILURES.labels(code=_code(code), status=str(status)).inc()


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """`with metrics.stage("transcribe"): ...` records the block's duration, outcome error if it raises."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        STAGE_SECONDS.labels(stage=name, outcome=outcome).observe(time.perf_counter() - started)


@contextlib.contextmanager
def model_call(*, operation: str, backend: str) -> Iterator[None]:
    """Time one model call (`operation` complete or stream; `backend` local or openai). Outcome
    ok, error, or incomplete: a stream its reader closed early (a generator's GeneratorExit)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except GeneratorExit:
        outcome = "incomplete"
        raise
    finally:
        observe_model(operation=operation, backend=backend, outcome=outcome, seconds=time.perf_counter() - started)


def observe_model(*, operation: str, backend: str, outcome: str, seconds: float) -> None:
    MODEL_SECONDS.labels(operation=operation, backend=backend, outcome=outcome).observe(seconds)


def observe_first_token(*, backend: str, seconds: float) -> None:
    MODEL_FIRST_TOKEN_SECONDS.labels(backend=backend).observe(seconds)


def observe_queue_wait(*, lane: int, outcome: str, seconds: float) -> None:
    MODEL_QUEUE_WAIT_SECONDS.labels(lane=LANES.get(int(lane), str(int(lane))), outcome=outcome).observe(seconds)


# --- read at scrape time -----------------------------------------------------------------------

# One pass over the jobs that wait ('todo', through procrastinate's partial index on todo jobs,
# so finished jobs, which stay in the table, cost nothing) and one index lookup per queue for the
# time its oldest job was deferred. A job waits from max(deferred, scheduled_at): a retry or a
# scheduled job starts waiting when it becomes due. Ids grow with arrival, so among jobs without
# scheduled_at the smallest id is the oldest one.
_JOBS_SQL = """
WITH waiting AS (
    SELECT queue_name,
           count(*) FILTER (WHERE status = 'todo') AS todo,
           count(*) FILTER (WHERE status = 'doing') AS doing,
           min(id) FILTER (WHERE status = 'todo' AND scheduled_at IS NULL) AS oldest_id,
           min(scheduled_at) FILTER (WHERE status = 'todo' AND scheduled_at <= now()) AS oldest_due
    FROM procrastinate_jobs
    WHERE status IN ('todo', 'doing')
    GROUP BY queue_name
)
SELECT w.queue_name, w.todo, w.doing,
       coalesce(extract(epoch FROM now() - least(
           (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = w.oldest_id AND e.type = 'deferred'),
           w.oldest_due
       )), 0)
FROM waiting w
"""
_TICKETS_SQL = "SELECT lane, holding, count(*) FROM core_llmticket GROUP BY lane, holding"


def _known_queues() -> set[str]:
    """Every queue a registered job uses, so an empty queue shows 0 instead of no series."""
    from mindpost.core.jobs import app  # procrastinate's app: imported late, it reads settings

    return {str(task.queue) for task in app.tasks.values()}


class QueueCollector(Collector):
    """Job queue depth and oldest age per queue, and the model queue per lane, read from PostgreSQL
    at scrape time: two cheap queries (see _JOBS_SQL), correct for every process and machine."""

    def describe(self) -> Iterable[Any]:
        return []  # nothing is read when the collector is registered, only when it is scraped

    def collect(self) -> Iterator[Any]:
        depth = GaugeMetricFamily("mindpost_job_queue_depth", "Jobs waiting to run (todo).", labels=["queue"])
        running = GaugeMetricFamily("mindpost_job_running", "Jobs running now (doing), per queue.", labels=["queue"])
        oldest = GaugeMetricFamily(
            "mindpost_job_queue_oldest_age_seconds",
            "How long the oldest due job of the queue has been waiting (0 when none waits).",
            labels=["queue"],
        )
        model = GaugeMetricFamily(
            "mindpost_model_queue_requests",
            "Model calls waiting for, or holding, a slot of the shared model, per lane.",
            labels=["lane", "state"],
        )
        up = GaugeMetricFamily("mindpost_queue_metrics_up", "1 when the queue metrics could be read from the database.")
        try:
            with connection.cursor() as cursor:
                cursor.execute(_JOBS_SQL)
                jobs = {str(row[0]): (int(row[1]), int(row[2]), float(row[3])) for row in cursor.fetchall()}
                cursor.execute(_TICKETS_SQL)
                tickets = {(int(lane), bool(holding)): int(count) for lane, holding, count in cursor.fetchall()}
        except DatabaseError as exc:
            logger.warning("queue metrics could not be read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        for queue in sorted(_known_queues() | set(jobs)):
            todo, doing, age = jobs.get(queue, (0, 0, 0.0))
            depth.add_metric([queue], todo)
            running.add_metric([queue], doing)
            oldest.add_metric([queue], max(age, 0.0))
        for lane, name in LANES.items():
            model.add_metric([name, "waiting"], tickets.get((lane, False), 0))
            model.add_metric([name, "running"], tickets.get((lane, True), 0))
        up.add_metric([], 1)
        yield from (depth, running, oldest, model, up)


class _DefaultRegistry(Collector):
    """This process's own metrics (single-process mode): the default registry, passed through."""

    def describe(self) -> Iterable[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def render(*, accept: str = "") -> tuple[bytes, str]:
    """Every process's metrics plus the queue gauges: (body, content type). The format follows the
    scraper's Accept header (OpenMetrics or the text format); without one, text format 0.0.4."""
    registry = CollectorRegistry()
    path = multiprocess_dir()
    if path:
        multiprocess.MultiProcessCollector(registry, path=path)
    else:
        registry.register(_DefaultRegistry())
    registry.register(QueueCollector())
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


def prepare_multiprocess_dir(path: Path) -> Path:
    """Create the multiprocess directory, emptied of sample files: those of a previous run would
    otherwise be summed into this one's counters (and pile up, one set per process ever started).
    Only prometheus_client's *.db files go: the variable may name a directory holding other things."""
    path.mkdir(parents=True, exist_ok=True)
    for sample_file in path.glob("*.db"):
        sample_file.unlink(missing_ok=True)
    return path
