"""Shared by the API benchmarks: a user with N notes on a throwaway database, and the app under uvicorn.

The notes are the 50 labelled ones of bench/data plus generated notes of the same kinds
(bench/retrieval_quality.py), indexed through the real pipeline with the local embedder. The
web server is runstack's `web_command` (what `make run` starts: WEB_CONCURRENCY uvicorn processes on
uvloop/httptools) serving config.asgi on 127.0.0.1, in production mode (DEBUG off).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.retrieval_quality import DATA, filler_notes, load_notes

ROOT = Path(__file__).resolve().parent.parent


def seed_user(*, notes: int, email: str = "bench@example.com") -> tuple[Any, str, int]:
    """(user, bearer token, notes indexed): the labelled notes, topped up with generated ones."""
    from django.db import connection

    from mindpost.accounts import services as account_services
    from mindpost.accounts.models import User

    data = json.loads((DATA / "notes.json").read_text())
    data += filler_notes(max(notes - len(data), 0))
    user = User.objects.create_user(email=email, password=None)  # signs in by token only
    started = time.perf_counter()
    load_notes(user, data)
    print(f"{len(data)} notes indexed in {time.perf_counter() - started:.0f} s")
    # Planner statistics, as autovacuum gathers them within a minute of the writes on a real server:
    # measured right after seeding, without them, a search took twice as long (49 vs 22 ms).
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    token = str(account_services.tokens_issue(user=user).access_token)  # as /api/token/ issues them
    return user, token, len(data)


def production_env() -> dict[str, str]:
    """Production mode, as a deployment serves (DEBUG off: no query log, no debug pages), with this
    checkout's development secrets and plain HTTP on loopback."""
    from django.conf import settings

    return {
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
    }


def wrk_closed_loop(*, base: str, token: str, path: str, clients: int, seconds: float) -> dict[str, Any] | None:
    """The same closed loop as bench/search_api.py's, driven by wrk (C, Debian's `wrk` package) when
    it is installed: it takes a fraction of the CPU the Python client takes from the server on the
    same 2 cores. None without wrk. Same keys as closed_loop (codes: 200 and "other")."""
    import re
    import shutil

    if shutil.which("wrk") is None:
        return None
    command = ["wrk", "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency"]
    command += ["-H", f"Authorization: Bearer {token}", f"{base}{path}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if match is None:
            return float("nan")
        return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match[2]]

    total = int(re.search(r"(\d+) requests in", out)[1])  # type: ignore[index]
    other = int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    codes: dict[int | str, int] = {200: total - other}
    if other:
        codes["other"] = other
    if socket_errors:
        codes["socket errors"] = socket_errors
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        "p50": ms("50"),
        "p99": ms("99"),
        "requests": total,
        "codes": codes,
    }


@contextmanager
def app_server(*, connection: Any, port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """uvicorn serving config.asgi on 127.0.0.1:port against the benchmark's database; yields its base URL."""
    from django.conf import settings

    from mindpost.core.management.commands.runstack import web_command

    connection.ensure_connection()
    db = connection.settings_dict
    server_env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}",
        # Rate limits would answer 429 long before the machine is saturated.
        "THROTTLE_USER": "100000000/day",
        "THROTTLE_CHAT": "100000000/day",
        **production_env(),
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    workers = int(server_env.get("WEB_CONCURRENCY") or settings.WEB_CONCURRENCY)
    command = web_command(python=sys.executable, host="127.0.0.1", port=port, workers=workers)
    # `--config "UVICORN_LOOP=asyncio UVICORN_HTTP=h11"` measures uvicorn's pure-Python defaults.
    for flag, variable in (("--loop", "UVICORN_LOOP"), ("--http", "UVICORN_HTTP")):
        if variable in server_env:
            command[command.index(flag) + 1] = server_env[variable]
    command += ["--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(command, cwd=ROOT, env=server_env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_up(base)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_up(base: str, *, path: str = "/healthz", timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}{path}", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{base} did not come up")
