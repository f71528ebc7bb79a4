"""Overload protection: a bounded number of requests per web process, and 503 (never 500) when
the process or the database is saturated.

Two layers:

- `ConcurrencyLimit`, an ASGI wrapper around Django's application (config/asgi.py). Each request
  takes a slot in a lane before Django sees it; a full lane with a full wait queue answers 503
  `overloaded` with Retry-After at once, costing no thread and no database connection. Without it
  one client firing 200 requests made 200 threads each open a PostgreSQL connection, and everyone
  (other users, the worker, /readyz) got "too many clients". uvicorn's `--limit-concurrency`
  counts connections, not requests, and answers a bare 503 with no Retry-After, so it is no substitute.
- `DatabaseUnavailableMiddleware` + `database_unavailable_response`: a pool timeout or a refused
  connection becomes 503 `database_unavailable` with Retry-After, as JSON for the API and a page
  for the web, whether it is raised in a view (process_exception) or in a middleware (handler500).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import OperationalError as DjangoOperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from psycopg import OperationalError as PsycopgOperationalError
from psycopg_pool import PoolTimeout, TooManyRequests

from mindpost.core.errors import error_body, is_api_request

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]

OVERLOADED_RETRY_AFTER = 2
DATABASE_RETRY_AFTER = 5

OVERLOADED_DETAIL = "The server is busy right now. Please try again in a few seconds."
DATABASE_DETAIL = "The database is busy or unreachable right now. Please try again in a few seconds."

# The liveness probe touches nothing, so it is never limited: a saturated process is still alive.
BYPASS_PATHS = frozenset({"/healthz"})
# Readiness and the metrics scrape: small, and most needed when the general lane is full (an
# overloaded process must still say so, and still show why).
PROBE_PATHS = frozenset({"/readyz", "/metrics"})
# Long-lived requests: chat answers (streamed over SSE or not), post generation (both wait for the
# model, often for tens of seconds) and audio playback (streams a file to a possibly slow client).
# Each holds its thread and its pooled database connection until the response is fully sent
# (Django returns the connection at request_finished), so they cannot be left uncounted. But in
# the general lane a handful of chats would starve every quick request for their whole duration,
# so they get their own lane with its own limit and no wait queue (waiting for a slot that is held
# for a minute is pointless): past the limit they get 503 + Retry-After at once.
LONG_REQUESTS = (
    ("POST", re.compile(r"^/api/brain-dumps/chat/$")),
    ("POST", re.compile(r"^/api/chat/conversations/[^/]+/messages/$")),
    ("POST", re.compile(r"^/chat/send/(plain/)?$")),
    ("POST", re.compile(r"^/api/posts/generate_from_dumps/$")),
    ("POST", re.compile(r"^/posts/compose/generate/$")),
    ("GET", re.compile(r"^/api/brain-dumps/[0-9a-fA-F-]+/recording/$")),
)


@dataclass
class Lane:
    """At most `limit` requests at once; up to `queue` more wait at most `timeout` seconds for a slot.

    `limit` 0 turns the lane's limit off. Counts are per process (each uvicorn worker has its own).
    """

    name: str
    limit: int
    queue: int = 0
    timeout: float = 0.0

    def __post_init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(max(self.limit, 1))
        self.in_flight = 0
        self.waiting = 0
        self.refused = 0
        self._logged_at = -1.0

    def _bind(self) -> None:
        # An asyncio.Semaphore belongs to one event loop. A server has one; tests that call the
        # module-level application under several asyncio.run() loops get fresh counts per loop.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._slots = asyncio.Semaphore(max(self.limit, 1))
            self.in_flight = 0
            self.waiting = 0

    async def acquire(self) -> bool:
        self._bind()
        if self.limit <= 0:
            self.in_flight += 1
            return True
        if self._slots.locked():
            if self.waiting >= self.queue or self.timeout <= 0:
                return False
            self.waiting += 1
            try:
                async with asyncio.timeout(self.timeout):
                    await self._slots.acquire()
            except TimeoutError:
                return False
            finally:
                self.waiting -= 1
        else:
            await self._slots.acquire()  # a free slot: returns at once
        self.in_flight += 1
        return True

    def note_refusal(self) -> None:
        # One warning per second at most: a flood must not turn into a flood of log lines.
        self.refused += 1
        now = time.monotonic()
        if now - self._logged_at >= 1.0:
            logger.warning(
                "Overloaded: refused %d request(s) in the %s lane (%d running, %d waiting)",
                self.refused,
                self.name,
                self.in_flight,
                self.waiting,
            )
            self.refused = 0
            self._logged_at = now

    def release(self) -> None:
        self.in_flight -= 1
        if self.limit > 0:
            self._slots.release()


def _wants_json(scope: Scope) -> bool:
    path = str(scope.get("path", ""))
    if path.startswith("/api/") or path.startswith("/subscriptions/"):
        return True
    headers = dict(scope.get("headers", []))
    accept = headers.get(b"accept", b"").decode("latin-1")
    return ("application/json" in accept or "text/event-stream" in accept) and "text/html" not in accept


class ConcurrencyLimit:
    """The ASGI wrapper: general requests, long requests and the readiness probe each get a lane."""

    def __init__(self, app: ASGIApp, *, general: Lane, long: Lane, probes: Lane) -> None:
        self.app = app
        self.general = general
        self.long = long
        self.probes = probes

    @classmethod
    def from_settings(cls, app: ASGIApp) -> ConcurrencyLimit:
        return cls(
            app,
            general=Lane(
                "general",
                limit=int(settings.WEB_MAX_CONCURRENT_REQUESTS),
                queue=int(settings.WEB_MAX_QUEUED_REQUESTS),
                timeout=float(settings.WEB_QUEUE_TIMEOUT_SECONDS),
            ),
            long=Lane("long", limit=int(settings.WEB_MAX_CONCURRENT_STREAMS)),
            # Probes are quick; two at once is plenty, and a flood of them cannot take more.
            probes=Lane("probes", limit=2, queue=4, timeout=1.0),
        )

    def lane_for(self, scope: Scope) -> Lane | None:
        path = str(scope.get("path", ""))
        if path in BYPASS_PATHS:
            return None
        if path in PROBE_PATHS:
            return self.probes
        method = str(scope.get("method", "GET")).upper()
        for long_method, pattern in LONG_REQUESTS:
            if method == long_method and pattern.match(path):
                return self.long
        return self.general

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        lane = self.lane_for(scope)
        if lane is None:
            await self.app(scope, receive, send)
            return
        if not await lane.acquire():
            lane.note_refusal()
            await _send_503(
                scope, send, code="overloaded", detail=OVERLOADED_DETAIL, retry_after=OVERLOADED_RETRY_AFTER
            )
            return
        # Released however the request ends: response sent, exception, client gone or task cancelled.
        # Django's handler returns only after the request's sync thread has finished (asgiref joins
        # it), so a client that hangs up cannot leave a thread running past its slot.
        try:
            await self.app(scope, receive, send)
        finally:
            lane.release()


async def _send_503(scope: Scope, send: Send, *, code: str, detail: str, retry_after: int) -> None:
    if _wants_json(scope):
        body = json.dumps(error_body(code=code, detail=detail, retry_after=retry_after)).encode()
        content_type = b"application/json"
    else:
        body = unavailable_page().encode()
        content_type = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- Database saturation → 503 -----------------------------------------------------------------

_FALLBACK_PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Busy · MindPost</title></head>"
    "<body><h1>MindPost is busy</h1><p>Please try again in a few seconds.</p></body></html>"
)
_page_cache: dict[str, str] = {}


def unavailable_page() -> str:
    """The 503 page, rendered once per process without a request: it must not need the database
    (no user, no session) because it is shown exactly when the database or the process is saturated."""
    if "page" not in _page_cache:
        try:
            _page_cache["page"] = render_to_string("errors/503.html")
        except Exception:  # a missing static manifest must not turn a 503 into a 500
            logger.exception("Could not render errors/503.html; using the plain fallback")
            return _FALLBACK_PAGE
    return _page_cache["page"]


# SQLSTATEs meaning "no connection for you now": too many connections and other insufficient
# resources (53xxx), the server shutting down or starting (57P01-57P03), connection failures (08xxx).
_UNAVAILABLE_SQLSTATE = re.compile(r"^(53|08|57P0[123])")


def is_database_unavailable(exc: BaseException | None) -> bool:
    """A pool timeout or a refused/failed connection, not a bug (a syntax error, a deadlock, a
    cancelled statement still go to the 500 path and get logged as errors)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, PoolTimeout | TooManyRequests):
            return True
        if isinstance(exc, PsycopgOperationalError):
            sqlstate = getattr(exc, "sqlstate", None)
            # Failures to connect carry no SQLSTATE ("connection refused", "server closed the connection").
            return sqlstate is None or bool(_UNAVAILABLE_SQLSTATE.match(sqlstate))
        if isinstance(exc, DjangoOperationalError) and "too many clients" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    response: HttpResponse
    if _is_api_request(request):
        response = JsonResponse(
            error_body(code="database_unavailable", detail=DATABASE_DETAIL, retry_after=DATABASE_RETRY_AFTER),
            status=503,
        )
    else:
        response = HttpResponse(unavailable_page(), status=503, content_type="text/html; charset=utf-8")
    response["Retry-After"] = str(DATABASE_RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    # Logged once as a warning by the caller; Django would add an ERROR line for every 5xx.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _is_api_request(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return is_api_request(request) or ("application/json" in accept and "text/html" not in accept)


_db_warnings = {"count": 0, "logged_at": -1.0}


def _warn_database_unavailable(request: HttpRequest, exc: BaseException | None) -> None:
    # At most one warning per second per process, with the count since the last one.
    _db_warnings["count"] += 1
    now = time.monotonic()
    if now - _db_warnings["logged_at"] >= 1.0:
        logger.warning(
            "Database unavailable: answered 503 to %d request(s), latest %s %s: %s",
            _db_warnings["count"],
            request.method,
            request.path,
            exc,
        )
        _db_warnings["count"] = 0
        _db_warnings["logged_at"] = now


def response_for_current_exception(request: HttpRequest) -> HttpResponse | None:
    """For handler500: Django calls it inside its `except` block, so the exception is at hand."""
    exc = sys.exc_info()[1]
    if is_database_unavailable(exc):
        _warn_database_unavailable(request, exc)
        return database_unavailable_response(request)
    return None


class DatabaseUnavailableMiddleware:
    """Turns a database-unavailable exception raised by a view into 503 + Retry-After (also with
    DEBUG on, where Django would show its technical 500 page instead of calling handler500)."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            _warn_database_unavailable(request, exception)
            return database_unavailable_response(request)
        return None
