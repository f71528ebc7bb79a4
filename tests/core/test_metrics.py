"""/metrics (mindpost.core.metrics, metrics_view, metrics_middleware): access, what it exposes, and
that several processes' samples are summed (multiprocess mode, as `make run` runs them)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.ai import get_chat_model
from mindpost.ai.queue import Lane, llm_slot
from mindpost.core import metrics, telemetry
from mindpost.core.management.commands import runstack
from mindpost.core.management.commands.runstack import web_command
from mindpost.notes.models import Note
from tests.conftest import bearer
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests-0123456789"


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def scrape(settings: Any) -> Callable[[], dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    settings.METRICS_TOKEN = TOKEN

    def read() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        response = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200, response.content
        return parse(response.content.decode())

    return read


# --- access -----------------------------------------------------------------------------------


def test_production_without_token_or_networks_refuses_anonymous_access(api: APIClient, settings: Any) -> None:
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_ALLOW_INTERNAL = False
    response = api.get("/metrics")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert b"mindpost_" not in response.content


def test_development_without_configuration_is_open(api: APIClient, settings: Any) -> None:
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    settings.METRICS_ALLOW_INTERNAL = False
    assert api.get("/metrics").status_code == 200


def test_token_is_required_and_checked(api: APIClient, settings: Any) -> None:
    settings.DEBUG = False
    settings.METRICS_TOKEN = TOKEN
    for authorization in ("", "Bearer wrong", f"Bearer {TOKEN}x", f"Basic {TOKEN}"):
        response = api.get("/metrics", HTTP_AUTHORIZATION=authorization)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    response = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert b"mindpost_http_request_duration_seconds" in response.content


def test_a_signed_in_user_is_not_a_scraper(make_user: Callable[..., User], settings: Any) -> None:
    settings.DEBUG = False
    settings.METRICS_TOKEN = TOKEN
    client = APIClient()
    make_user("bob@example.com")
    access = bearer(client, email="bob@example.com")  # a user's JWT is not the metrics token
    assert client.get("/metrics").status_code == 403
    assert APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {access}").status_code == 403


def test_post_is_refused_with_the_error_shape(api: APIClient, settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN
    response = api.post("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_internal_addresses_are_allowed_when_configured(api: APIClient, settings: Any) -> None:
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOW_INTERNAL = True
    settings.PROXY_COUNT = 0
    assert api.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert api.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert api.get("/metrics", REMOTE_ADDR="::ffff:192.168.1.5").status_code == 200
    assert api.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403
    # Without PROXY_COUNT a forwarded request came through a proxy we were not told about: its
    # internal peer address says nothing about the client.
    assert api.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    # With our proxy declared, the client address it saw decides.
    settings.PROXY_COUNT = 1
    assert api.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 403
    assert api.get("/metrics", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="10.0.0.7").status_code == 200


def test_listed_networks_are_allowed(api: APIClient, settings: Any) -> None:
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOW_INTERNAL = False
    settings.METRICS_ALLOWED_NETWORKS = ["198.51.100.0/24"]
    assert api.get("/metrics", REMOTE_ADDR="198.51.100.20").status_code == 200
    assert api.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403  # loopback only with ALLOW_INTERNAL


def test_settings_refuse_a_short_token_and_a_bad_network() -> None:
    code = (
        "import importlib, os\n"
        "from django.core.exceptions import ImproperlyConfigured\n"
        "for name, value in (('METRICS_TOKEN', 'short'), ('METRICS_ALLOWED_NETWORKS', '10.0.0.0/8,nonsense')):\n"
        "    os.environ[name] = value\n"
        "    try:\n"
        "        import config.settings as module; importlib.reload(module)\n"
        "    except ImproperlyConfigured as exc:\n"
        "        print(exc)\n"
        "    del os.environ[name]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "METRICS_"))}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert "METRICS_TOKEN must be at least 16 characters" in out.stdout
    assert "METRICS_ALLOWED_NETWORKS: 'nonsense' is not a network" in out.stdout


# --- what it exposes --------------------------------------------------------------------------


def test_requests_are_labelled_by_route_not_path(
    auth_api: APIClient, user: User, note_factory: Callable[..., Note], scrape: Callable[[], Any]
) -> None:
    note = note_factory(user, "A note to read back.")
    missing = uuid.uuid4()
    before = scrape()
    assert auth_api.get(f"/api/brain-dumps/{note.pk}/").status_code == 200
    assert auth_api.get(f"/api/brain-dumps/{missing}/").status_code == 404
    assert auth_api.get("/api/no-such-thing/").status_code == 404
    after = scrape()

    def count(samples: Any, status: str, route: str = "api/brain-dumps/<uuid:pk>/") -> float:
        name = "mindpost_http_request_duration_seconds_count"
        return value(samples, name, route=route, method="GET", status=status)

    assert count(after, "2xx") - count(before, "2xx") == 1
    assert count(after, "4xx") - count(before, "4xx") == 1
    assert count(after, "4xx", route="^api/") - count(before, "4xx", route="^api/") == 1
    labels = {value for (_, pairs) in after for (_, value) in pairs}
    assert str(note.pk) not in " ".join(labels)
    assert str(missing) not in " ".join(labels)


def test_failures_are_counted_by_code(auth_api: APIClient, scrape: Callable[[], Any]) -> None:
    before = scrape()
    response = auth_api.get("/api/search/", {"q": ""})  # an AppError (Invalid, code empty_query)
    assert response.status_code == 400
    assert response.json()["code"] == "empty_query"
    assert APIClient().get("/api/brain-dumps/").status_code == 401  # a DRF error, by its code too
    after = scrape()

    def failures(samples: Any, code: str, status: str) -> float:
        return value(samples, "mindpost_failures_total", code=code, status=status)

    assert failures(after, "empty_query", "400") - failures(before, "empty_query", "400") == 1
    assert failures(after, "not_authenticated", "401") - failures(before, "not_authenticated", "401") == 1


def test_server_errors_without_a_code_are_counted(rf: Any) -> None:
    from django.http import HttpResponse

    from mindpost.core.metrics_middleware import MetricsMiddleware

    def read() -> float:
        return metrics.FAILURES.labels(code="server_error", status="500")._value.get()

    before = read()
    MetricsMiddleware(lambda request: HttpResponse(status=500))(rf.get("/somewhere"))
    assert read() - before == 1


def _insert_job(cursor: Any, *, queue: str, status: str = "todo", due_in: float | None = None) -> int:
    # due_in None: no scheduled_at (now() + NULL is NULL).
    cursor.execute(
        "INSERT INTO procrastinate_jobs (queue_name, task_name, status, scheduled_at) "
        "VALUES (%s, 'tests.metrics', %s, now() + make_interval(secs => %s)) RETURNING id",
        [queue, status, due_in],
    )
    return int(cursor.fetchone()[0])


def test_job_queue_depth_and_oldest_age(scrape: Callable[[], Any]) -> None:
    queue = "metrics-test"
    with connection.cursor() as cursor:
        oldest = _insert_job(cursor, queue=queue)
        _insert_job(cursor, queue=queue)
        _insert_job(cursor, queue=queue, due_in=3600)  # waits, not yet due
        _insert_job(cursor, queue=queue, due_in=-30)  # a retry, due
        _insert_job(cursor, queue=queue, status="doing")
        # The deferred event is written by procrastinate's trigger; move the first job's back.
        cursor.execute(
            "UPDATE procrastinate_events SET at = now() - interval '120 seconds' WHERE job_id = %s", [oldest]
        )
    samples = scrape()
    assert value(samples, "mindpost_job_queue_depth", queue=queue) == 4
    assert value(samples, "mindpost_job_running", queue=queue) == 1
    assert value(samples, "mindpost_job_queue_oldest_age_seconds", queue=queue) == pytest.approx(120, abs=1)
    # Queues of registered jobs are listed even when empty.
    assert ("mindpost_job_queue_depth", frozenset({("queue", "notes")})) in samples
    assert value(samples, "mindpost_queue_metrics_up") == 1


def test_model_queue_length_per_lane(scrape: Callable[[], Any]) -> None:
    assert {lane.value: lane.name.lower() for lane in Lane} == metrics.LANES
    with connection.cursor() as cursor:
        for lane, holding in ((Lane.CHAT, True), (Lane.BACKGROUND, False), (Lane.BACKGROUND, False)):
            cursor.execute(
                "INSERT INTO core_llmticket (lane, holding, created_at, heartbeat_at) VALUES (%s, %s, now(), now())",
                [int(lane), holding],
            )
    samples = scrape()
    assert value(samples, "mindpost_model_queue_requests", lane="chat", state="running") == 1
    assert value(samples, "mindpost_model_queue_requests", lane="background", state="waiting") == 2
    assert value(samples, "mindpost_model_queue_requests", lane="draft", state="waiting") == 0


def test_model_latency_and_queue_wait(openai_backends: FakeOpenAI, settings: Any, scrape: Callable[[], Any]) -> None:
    settings.LLM_QUEUE_SLOTS = 1
    before = scrape()
    model = get_chat_model()
    with llm_slot(lane=Lane.DRAFT):
        model.complete(messages=[{"role": "user", "content": "Hello"}])

    async def stream() -> str:
        return "".join([delta async for delta in model.astream(messages=[{"role": "user", "content": "Hi"}])])

    assert asyncio.run(stream())
    after = scrape()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    model_seconds = "mindpost_model_request_duration_seconds_count"
    assert delta(model_seconds, operation="complete", backend="openai", outcome="ok") == 1
    assert delta(model_seconds, operation="stream", backend="openai", outcome="ok") == 1
    assert delta("mindpost_model_first_token_seconds_count", backend="openai") == 1
    assert delta("mindpost_model_queue_wait_seconds_count", lane="draft", outcome="granted") == 1


def test_stage_durations_record_the_outcome(scrape: Callable[[], Any]) -> None:
    before = scrape()
    with metrics.stage("decode"):
        pass
    with pytest.raises(ValueError, match="corrupt"), metrics.stage("decode"):
        raise ValueError("corrupt")
    after = scrape()
    name = "mindpost_pipeline_stage_duration_seconds_count"
    for outcome in ("ok", "error"):
        labels = {"stage": "decode", "outcome": outcome}
        assert value(after, name, **labels) - value(before, name, **labels) == 1


def test_label_values_are_bounded() -> None:
    metrics.observe_request(route="x", method="BREW", status=418, seconds=0.01)
    metrics.count_failure(code="Not A Code; DROP TABLE", status=400)
    assert metrics.REQUEST_SECONDS.labels(route="x", method="other", status="4xx")._sum.get() > 0
    assert metrics.FAILURES.labels(code="other", status="400")._value.get() >= 1


# --- several processes ------------------------------------------------------------------------


def _database_url() -> str:
    params = connection.settings_dict
    host = params["HOST"] or (params.get("OPTIONS") or {}).get("host", "")
    user = params["USER"] or "postgres"
    if host.startswith("/"):  # the embedded server listens on a Unix socket
        return f"postgres://{user}@/{params['NAME']}?host={quote(host)}"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgres://{user}:{quote(params['PASSWORD'] or '')}@{host}{port}/{params['NAME']}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str, *, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _production_env(tmp_path: Path) -> dict[str, str]:
    """Child processes of the app in production mode on the test database, sharing one emptied
    PROMETHEUS_MULTIPROC_DIR (as `make run` and a Kubernetes pod give their processes)."""
    metrics_dir = metrics.prepare_multiprocess_dir(tmp_path / "prometheus")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=_database_url(),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        DJANGO_DEBUG="false",
        ALLOWED_HOSTS="127.0.0.1",
        METRICS_TOKEN=TOKEN,
        LOG_JSON="false",
        WEB_CONCURRENCY="1",
    )
    return env


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[list[str]]:
    """Two uvicorn processes of the app in production mode sharing one PROMETHEUS_MULTIPROC_DIR,
    as `make run` starts WEB_CONCURRENCY workers (each its own process, memory and counters)."""
    env = _production_env(tmp_path)
    processes: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for index in range(2):
            port = _free_port()
            log = (tmp_path / f"web-{index}.log").open("wb")
            command = web_command(python=sys.executable, host="127.0.0.1", port=port, workers=1)
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log))
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 180  # generous: Django starts while other tests keep the cores busy
        for index, url in enumerate(urls):
            while True:
                assert processes[index].poll() is None, (tmp_path / f"web-{index}.log").read_text()[-3000:]
                with contextlib.suppress(OSError):
                    if _get(f"{url}/healthz")[0] == 200:
                        break
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.2)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_samples_of_several_processes_are_summed(two_servers: list[str]) -> None:
    first, second = two_servers
    # The readiness polls above already counted some /healthz requests in each process.
    status, text = _get(f"{first}/metrics", token=TOKEN)
    assert status == 200, text
    name = "mindpost_http_request_duration_seconds_count"
    labels = {"route": "healthz", "method": "GET", "status": "2xx"}
    start = value(parse(text), name, **labels)
    for _ in range(3):
        assert _get(f"{first}/healthz")[0] == 200
    for _ in range(4):
        assert _get(f"{second}/healthz")[0] == 200
    assert _get(f"{second}/metrics")[0] == 403  # production mode: no anonymous scrape
    samples = {url: parse(_get(f"{url}/metrics", token=TOKEN)[1]) for url in two_servers}
    # Either process answers with the sum of both.
    for url in two_servers:
        assert value(samples[url], name, **labels) - start == 7
    assert value(samples[first], "mindpost_failures_total", code="permission_denied", status="403") == 1


def test_worker_pods_serve_their_samples_through_metrics_server(tmp_path: Path) -> None:
    """A worker pod serves no HTTP: `manage.py metrics_server` beside it serves what the worker
    recorded in the shared directory, with /metrics' own access rules (production mode here)."""
    env = _production_env(tmp_path)
    # The "worker": another process that records a pipeline stage and exits.
    record = "from mindpost.core import metrics\nwith metrics.stage('transcribe'):\n    pass"
    subprocess.run([sys.executable, "manage.py", "shell", "-c", record], cwd=ROOT, env=env, check=True)
    port = _free_port()
    log = (tmp_path / "metrics-server.log").open("wb")
    command = [sys.executable, "manage.py", "metrics_server", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        status = 0  # until the server answers at all
        while True:
            assert server.poll() is None, (tmp_path / "metrics-server.log").read_text()[-3000:]
            with contextlib.suppress(OSError):
                status, _ = _get(f"{base}/metrics")
                break
            assert time.monotonic() < deadline, "metrics_server did not start"
            time.sleep(0.2)
        assert status == 403  # no anonymous scrape in production
        status, text = _get(f"{base}/metrics", token="wrong-token-0123456789")
        assert status == 403
        assert '"code": "permission_denied"' in text.replace('":"', '": "')
        status, text = _get(f"{base}/metrics", token=TOKEN)
        assert status == 200, text
        samples = parse(text)
        name = "mindpost_pipeline_stage_duration_seconds_count"
        assert value(samples, name, stage="transcribe", outcome="ok") == 1
        assert ("mindpost_queue_metrics_up", frozenset()) in samples
        status, text = _get(f"{base}/api/brain-dumps/", token=TOKEN)
        assert status == 404
        assert "not_found" in text
    finally:
        server.terminate()
        server.wait(timeout=15)


def test_runstack_gives_its_children_an_emptied_multiprocess_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"a previous run's counts")
    (directory / "keep.txt").write_text("not ours")
    # monkeypatch restores the variable after the test: handle() sets it in this process.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    settings.CHAT_BACKEND = "openai"  # no model server to start
    seen: dict[str, Any] = {}

    class FakeSupervisor:
        def __init__(self, *, commands: dict[str, Any], log: Any) -> None:
            seen["commands"] = commands

        def start(self) -> None:
            # What every child inherits when it is started.
            seen["dir"] = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
            seen["files"] = sorted(path.name for path in directory.iterdir())

        def run(self, should_stop: Any) -> None:
            pass

        def stop(self) -> None:
            pass

    monkeypatch.setattr(runstack, "call_command", lambda *args, **kwargs: None)
    monkeypatch.setattr(runstack, "Supervisor", FakeSupervisor)
    monkeypatch.setattr(runstack.signal, "signal", lambda *args: None)
    runstack.Command().handle(host="127.0.0.1", port=0, no_worker=False)
    assert seen["dir"] == str(directory)
    assert seen["files"] == ["keep.txt"]  # only prometheus_client's sample files are deleted
    assert set(seen["commands"]) == {"web", "worker"}


# --- Sentry -----------------------------------------------------------------------------------


def test_sentry_is_off_unless_configured(settings: Any) -> None:
    import sentry_sdk

    settings.SENTRY_DSN = ""
    assert telemetry.setup() is False
    assert not sentry_sdk.get_client().is_active()


def test_sentry_starts_when_configured_and_reports_to_its_dsn(tmp_path: Path) -> None:
    """In a child process (Sentry patches Django for the life of the process), against a loopback
    stand-in for the ingest endpoint: an error logged by the app arrives there."""
    import http.server
    import threading

    received: list[tuple[str, bytes]] = []

    class Ingest(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            received.append((self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ingest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code = (
            "import django, logging; django.setup()\n"
            "import sentry_sdk\n"
            "assert sentry_sdk.get_client().is_active()\n"
            "logging.getLogger('mindpost.test').error('metrics test error report')\n"
            "sentry_sdk.flush(timeout=10)\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            SENTRY_DSN=f"http://publickey@127.0.0.1:{server.server_address[1]}/42",
            LOG_JSON="false",
        )
        subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120, capture_output=True)
    finally:
        server.shutdown()
        server.server_close()
    assert any(path.startswith("/api/42/envelope/") for path, _ in received), received
    assert any(b"metrics test error report" in body for _, body in received)


# --- the dashboard ----------------------------------------------------------------------------


def test_dashboard_uses_only_metrics_that_exist(scrape: Callable[[], Any], settings: Any) -> None:
    import json
    import re

    dashboard = json.loads((ROOT / "docs" / "grafana" / "mindpost-dashboard.json").read_text())
    expressions = [
        target["expr"] for panel in dashboard["panels"] if panel["type"] != "row" for target in panel["targets"]
    ]
    names = {
        re.sub(r"_(bucket|count|sum)$", "", name) for expr in expressions for name in re.findall(r"mindpost_\w+", expr)
    }
    exposed = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    missing = sorted(name for name in names if f"# TYPE {name} " not in exposed and f"# HELP {name} " not in exposed)
    assert not missing
    assert len(names) >= 10
