"""Overload protection (mindpost/core/overload.py): the per-process request limiter and the
mapping of database saturation to 503 + Retry-After instead of 500.

The limiter is driven directly as an ASGI callable around small fake apps (each test makes its
own, so its semaphores belong to that test's event loop). The mapping is checked through Django's
test client on views that raise what Django raises when the pool or the server refuses a connection.
At the end, a real burst of HTTP requests against uvicorn on the test database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import psycopg
import pytest
from django.conf import global_settings
from django.conf import settings as django_settings
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import path
from psycopg_pool import PoolTimeout
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config import urls as project_urls
from mindpost.core import overload
from mindpost.core.management.commands.runstack import web_command
from mindpost.core.overload import ConcurrencyLimit, Lane
from tests.conftest import PASSWORD

# --- The ASGI limiter -----------------------------------------------------------------------


class Gate:
    """A fake app whose requests stay in flight until released, recording what ran."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.release = asyncio.Event()
        self.inside = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.entered.append(scope["path"])
        self.inside.set()
        if scope["path"] != "/healthz":
            await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope(path: str = "/api/brain-dumps/", method: str = "GET", accept: str = "") -> dict[str, Any]:
    headers = [(b"host", b"testserver")]
    if accept:
        headers.append((b"accept", accept.encode()))
    return {"type": "http", "method": method, "path": path, "headers": headers}


async def call(app: Any, request_scope: dict[str, Any]) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.Event().wait()  # the client stays connected
        return {}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(request_scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def limiter(app: Any, *, limit: int = 1, queue: int = 0, timeout: float = 0.0, long: int = 1) -> ConcurrencyLimit:
    return ConcurrencyLimit(
        app,
        general=Lane("general", limit=limit, queue=queue, timeout=timeout),
        long=Lane("long", limit=long),
        probes=Lane("probes", limit=1),
    )


def test_a_full_lane_answers_503_overloaded_with_retry_after_at_once() -> None:
    async def scenario() -> None:
        gate = Gate()
        app = limiter(gate, limit=1)
        first = asyncio.create_task(call(app, scope()))
        await gate.inside.wait()

        status, headers, body = await call(app, scope())
        assert status == 503
        assert int(headers[b"retry-after"]) > 0
        assert headers[b"content-type"] == b"application/json"
        data = json.loads(body)
        assert data["code"] == "overloaded"
        assert data["fields"] == {}
        assert data["detail"]
        assert gate.entered == ["/api/brain-dumps/"]  # the refused request never reached the app

        gate.release.set()
        assert (await first)[0] == 200

    asyncio.run(scenario())


def test_a_queued_request_runs_when_a_slot_frees() -> None:
    async def scenario() -> None:
        gate = Gate()
        app = limiter(gate, limit=1, queue=1, timeout=60)
        first = asyncio.create_task(call(app, scope()))
        await gate.inside.wait()
        second = asyncio.create_task(call(app, scope()))
        while app.general.waiting == 0:
            await asyncio.sleep(0)
        # The queue holds one: the next one is refused at once.
        assert (await call(app, scope()))[0] == 503
        gate.release.set()
        assert (await first)[0] == 200
        assert (await second)[0] == 200
        assert app.general.in_flight == 0

    asyncio.run(scenario())


def test_a_queued_request_gives_up_after_the_queue_timeout() -> None:
    async def scenario() -> None:
        gate = Gate()
        app = limiter(gate, limit=1, queue=5, timeout=0.05)
        first = asyncio.create_task(call(app, scope()))
        await gate.inside.wait()
        status, headers, _ = await call(app, scope())
        assert status == 503
        assert b"retry-after" in headers
        assert app.general.waiting == 0
        gate.release.set()
        await first

    asyncio.run(scenario())


def test_healthz_bypasses_a_full_limiter() -> None:
    async def scenario() -> None:
        gate = Gate()
        app = limiter(gate, limit=1)
        first = asyncio.create_task(call(app, scope()))
        await gate.inside.wait()
        assert (await call(app, scope("/healthz")))[0] == 200
        gate.release.set()
        await first

    asyncio.run(scenario())


def test_readyz_has_its_own_lane() -> None:
    async def scenario() -> None:
        gate = Gate()
        app = limiter(gate, limit=1)
        first = asyncio.create_task(call(app, scope()))
        await gate.inside.wait()
        probe = asyncio.create_task(call(app, scope("/readyz")))
        while "/readyz" not in gate.entered:
            await asyncio.sleep(0)
        gate.release.set()
        assert (await probe)[0] == 200
        await first

    asyncio.run(scenario())


def test_streams_have_their_own_lane_and_cannot_starve_quick_requests() -> None:
    async def scenario() -> None:
        gate = Gate()
        app = limiter(gate, limit=1, long=1)
        chat = asyncio.create_task(call(app, scope("/api/brain-dumps/chat/", "POST", accept="text/event-stream")))
        await gate.inside.wait()
        # The chat holds the only long slot; a quick request still gets the general slot.
        quick = asyncio.create_task(call(app, scope("/api/brain-dumps/")))
        while "/api/brain-dumps/" not in gate.entered:
            await asyncio.sleep(0)
        # A second stream (here the web chat) is refused at once, as JSON for its event-stream client.
        status, headers, body = await call(app, scope("/chat/send/", "POST", accept="text/event-stream"))
        assert status == 503
        assert json.loads(body)["code"] == "overloaded"
        assert b"retry-after" in headers
        gate.release.set()
        assert (await chat)[0] == 200
        assert (await quick)[0] == 200

    asyncio.run(scenario())


def test_web_pages_get_an_html_503_page() -> None:
    async def scenario() -> None:
        gate = Gate()
        app = limiter(gate, limit=1)
        first = asyncio.create_task(call(app, scope()))
        await gate.inside.wait()
        status, headers, body = await call(app, scope("/notes/", accept="text/html,application/xhtml+xml"))
        assert status == 503
        assert headers[b"content-type"].startswith(b"text/html")
        assert b"retry-after" in headers
        assert b"busy" in body
        gate.release.set()
        await first

    asyncio.run(scenario())


def test_a_slot_is_released_after_an_exception() -> None:
    async def boom(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("view blew up")

    async def scenario() -> None:
        app = limiter(boom, limit=1)
        with pytest.raises(RuntimeError):
            await call(app, scope())
        assert app.general.in_flight == 0
        with pytest.raises(RuntimeError):  # reached the app again: the slot was free
            await call(app, scope())

    asyncio.run(scenario())


def test_a_slot_is_released_after_a_client_disconnect() -> None:
    """Like Django's handler: the app sees http.disconnect and returns without responding."""

    async def scenario() -> None:
        finished = asyncio.Event()

        async def app_until_disconnect(scope: Any, receive: Any, send: Any) -> None:
            message = await receive()
            assert message["type"] == "http.disconnect"
            finished.set()

        app = limiter(app_until_disconnect, limit=1)

        async def disconnect() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            raise AssertionError("nothing is sent to a gone client")

        await app(scope(), disconnect, send)
        assert finished.is_set()
        assert app.general.in_flight == 0
        assert not app.general._slots.locked()

    asyncio.run(scenario())


def test_a_slot_is_released_when_the_server_cancels_the_request() -> None:
    async def scenario() -> None:
        gate = Gate()
        app = limiter(gate, limit=1)
        first = asyncio.create_task(call(app, scope()))
        await gate.inside.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert app.general.in_flight == 0
        gate.release.set()
        assert (await call(app, scope()))[0] == 200

    asyncio.run(scenario())


def test_lifespan_and_other_scopes_pass_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(limiter(app, limit=1)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]


def test_the_served_application_is_limited_with_the_settings() -> None:
    from config.asgi import application

    inner = application.app  # BodySizeLimit(ConcurrencyLimit(django))
    assert isinstance(inner, ConcurrencyLimit)
    assert inner.general.limit >= 1
    assert inner.lane_for(scope("/healthz")) is None
    assert inner.lane_for(scope("/readyz")) is inner.probes
    assert inner.lane_for(scope("/metrics")) is inner.probes  # a scrape still works when overloaded
    assert inner.lane_for(scope("/api/brain-dumps/chat/", "POST")) is inner.long
    assert inner.lane_for(scope("/api/chat/conversations/abc/messages/", "POST")) is inner.long
    assert inner.lane_for(scope("/api/chat/conversations/abc/messages/", "GET")) is inner.general


# --- Database saturation → 503 -------------------------------------------------------------


def pool_timeout() -> OperationalError:
    """What Django raises when the pool has no connection for DB_POOL_TIMEOUT seconds."""
    try:
        try:
            raise PoolTimeout("couldn't get a connection after 5.00 sec")
        except PoolTimeout as exc:
            raise OperationalError(str(exc)) from exc
    except OperationalError as wrapped:
        return wrapped


def too_many_clients() -> OperationalError:
    """What Django raises when PostgreSQL refuses a new connection (no pool, or pgbouncer full)."""
    error = psycopg.errors.TooManyConnections("FATAL:  sorry, too many clients already")
    wrapped = OperationalError(str(error))
    wrapped.__cause__ = error
    return wrapped


def connection_refused() -> OperationalError:
    error = psycopg.OperationalError("connection failed: Connection refused")
    wrapped = OperationalError(str(error))
    wrapped.__cause__ = error
    return wrapped


def query_cancelled() -> OperationalError:
    """A statement timeout is not overload of the connection kind: it stays a logged 500."""
    error = psycopg.errors.QueryCanceled("canceling statement due to statement timeout")
    wrapped = OperationalError(str(error))
    wrapped.__cause__ = error
    return wrapped


ERRORS: dict[str, Callable[[], OperationalError]] = {
    "pool": pool_timeout,
    "clients": too_many_clients,
    "refused": connection_refused,
    "cancelled": query_cancelled,
}


class RaisingApiView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []

    def get(self, request: Request, kind: str) -> Response:
        raise ERRORS[kind]()


def raising_page(request: HttpRequest, kind: str) -> HttpResponse:
    raise ERRORS[kind]()


class RaisingMiddleware:
    """Stands for a middleware that touches the database (sessions, the user's time zone)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        kind = request.headers.get("X-Raise")
        if kind:
            raise ERRORS[kind]()
        return self.get_response(request)


urlpatterns = [
    path("api/boom/<str:kind>/", RaisingApiView.as_view()),
    path("boom/<str:kind>/", raising_page),
]
handler500 = project_urls.handler500


@pytest.fixture
def boom_client(settings: Any) -> Client:
    settings.ROOT_URLCONF = __name__
    return Client(raise_request_exception=False)


@pytest.mark.parametrize("kind", ["pool", "clients", "refused"])
@pytest.mark.parametrize("debug", [False, True])
def test_an_api_view_out_of_connections_gives_503_json(
    boom_client: Client, settings: Any, kind: str, debug: bool
) -> None:
    settings.DEBUG = debug  # with DEBUG on Django would show its technical 500 page
    response = boom_client.get(f"/api/boom/{kind}/")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "database_unavailable"
    assert body["fields"] == {}
    assert body["detail"]


@pytest.mark.parametrize("kind", ["pool", "clients"])
def test_a_web_page_out_of_connections_gives_the_503_page(boom_client: Client, kind: str) -> None:
    response = boom_client.get(f"/boom/{kind}/", HTTP_ACCEPT="text/html")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response["Content-Type"].startswith("text/html")
    assert "MindPost is busy" in response.content.decode()


@pytest.mark.parametrize("kind", ["pool", "clients"])
def test_a_middleware_out_of_connections_goes_through_handler500_as_503(
    boom_client: Client, settings: Any, kind: str
) -> None:
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.RaisingMiddleware"]
    api = boom_client.get("/api/boom/pool/", HTTP_X_RAISE=kind)
    assert api.status_code == 503
    assert api.json()["code"] == "database_unavailable"
    assert "Retry-After" in api
    page = boom_client.get("/boom/pool/", HTTP_X_RAISE=kind, HTTP_ACCEPT="text/html")
    assert page.status_code == 503
    assert "MindPost is busy" in page.content.decode()


def test_other_database_errors_stay_500(boom_client: Client) -> None:
    response = boom_client.get("/api/boom/cancelled/")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"


def test_handler500_maps_only_the_exception_being_handled() -> None:
    request = RequestFactory().get("/api/anything/")
    try:
        raise pool_timeout()
    except OperationalError:
        assert sys.exc_info()[0] is OperationalError
        response = project_urls.handler500(request)
    assert response.status_code == 503
    assert project_urls.handler500(request).status_code == 500  # no exception at hand


def test_the_503_page_needs_no_request_or_database() -> None:
    overload._page_cache.clear()
    page = overload.unavailable_page()
    assert "MindPost is busy" in page
    assert "503" in page


# --- Real HTTP: a burst against uvicorn ------------------------------------------------------

BURST = 200
ROOT = Path(__file__).resolve().parents[2]
APP_NAME = "mindpost-overload-test"  # tags the server's connections in pg_stat_activity


def _database_url() -> str:
    params = connection.settings_dict
    assert str(params["NAME"]).startswith("test_"), params["NAME"]
    host = params["HOST"] or ""
    user = params["USER"] or "postgres"
    query = f"application_name={APP_NAME}"
    if host.startswith("/"):  # the embedded server listens on a Unix socket
        return f"postgres://{user}@/{params['NAME']}?host={quote(host)}&{query}"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgres://{user}:{quote(params['PASSWORD'] or '')}@{host}{port}/{params['NAME']}?{query}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(tmp_path: Path, **extra: str) -> Iterator[str]:
    """uvicorn serving config.asgi:application in production mode, on the test database."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "DATABASE_URL": _database_url(),
            "DJANGO_DEBUG": "false",
            "SECRET_KEY": django_settings.SECRET_KEY,
            "FIELD_ENCRYPTION_KEYS": ",".join(django_settings.FIELD_ENCRYPTION_KEYS),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "MINDPOST_VAR_DIR": str(tmp_path / "var"),
            "LOG_JSON": "false",
            "LOG_LEVEL": "ERROR",
            "DB_POOL_MIN_SIZE": "1",
            **extra,
        }
    )
    log = tmp_path / "web.log"
    with log.open("wb") as handle:
        proc = subprocess.Popen(
            web_command(python=sys.executable, host="127.0.0.1", port=port, workers=1),
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, f"uvicorn exited early:\n{log.read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"uvicorn did not listen:\n{log.read_text()[-4000:]}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        # Otherwise a crash in the burst would show only as a count.
        print(log.read_text()[-3000:])


def _server_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", [APP_NAME])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("pool_max", "limits"),
    [
        # The request limiter is the bottleneck: the excess is refused as `overloaded`.
        ("6", {"WEB_MAX_CONCURRENT_REQUESTS": "4", "WEB_MAX_QUEUED_REQUESTS": "8", "WEB_QUEUE_TIMEOUT_SECONDS": "1"}),
        # A limiter set looser than the pool: requests wait for a pooled connection and, past
        # DB_POOL_TIMEOUT, get `database_unavailable`; PostgreSQL never sees more than the pool.
        # (24, not 200: should the pool ever regress, this test must not exhaust a shared server.)
        (
            "2",
            {
                "WEB_MAX_CONCURRENT_REQUESTS": "24",
                "WEB_MAX_QUEUED_REQUESTS": "200",
                "WEB_QUEUE_TIMEOUT_SECONDS": "20",
                "DB_POOL_TIMEOUT": "0.3",
            },
        ),
    ],
    ids=["limiter", "pool"],
)
def test_a_burst_of_requests_from_one_user_takes_nobody_else_down(
    make_user: Callable[..., Any], settings: Any, tmp_path: Path, pool_max: str, limits: dict[str, str]
) -> None:
    # The server checks passwords with the production hashers, not the suite's fast MD5.
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    make_user("flood@example.com")
    make_user("other@example.com")
    with connection.cursor() as cursor:  # a live worker, so /readyz can say ready
        cursor.execute("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() + interval '1 hour')")

    with served(tmp_path, DB_POOL_MAX_SIZE=pool_max, **limits) as url:
        limits_http = httpx.Limits(max_connections=BURST + 10, max_keepalive_connections=BURST + 10)
        with httpx.Client(base_url=url, timeout=120, limits=limits_http) as http:

            def token(email: str) -> str:
                response = http.post("/api/token/", json={"email": email, "password": PASSWORD})
                assert response.status_code == 200, response.text
                return str(response.json()["access"])

            flood = {"Authorization": f"Bearer {token('flood@example.com')}"}
            other = {"Authorization": f"Bearer {token('other@example.com')}"}
            start = threading.Barrier(BURST)

            def get(_: int) -> httpx.Response:
                start.wait()
                return http.get("/api/brain-dumps/", headers=flood)

            peak = 0
            with ThreadPoolExecutor(max_workers=BURST) as pool:
                futures = [pool.submit(get, n) for n in range(BURST)]
                while not all(f.done() for f in futures):
                    peak = max(peak, _server_connections())
                    time.sleep(0.02)
                responses = [f.result() for f in futures]

            statuses = Counter(r.status_code for r in responses)
            codes = Counter(r.json().get("code") for r in responses if r.status_code == 503)
            print(f"burst: {dict(statuses)} {dict(codes)}; peak server connections {peak}")
            assert statuses[500] == 0, statuses
            assert set(statuses) <= {200, 503}, statuses
            assert statuses[200] > 0, statuses
            for response in responses:
                if response.status_code == 503:
                    assert response.json()["code"] in {"overloaded", "database_unavailable"}, response.text
                    assert int(response.headers["Retry-After"]) > 0
            # The pool caps what one process takes from PostgreSQL, whatever the burst.
            assert peak <= int(pool_max), (peak, statuses)

            # Everyone else is still served right after.
            assert http.get("/api/brain-dumps/", headers=other).status_code == 200
            ready = http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert http.get("/healthz").status_code == 200
