"""Shared by the API benchmarks: a user with N notes on a throwaway database, and the app under uvicorn.

The notes are the 50 labelled ones of bench/data plus generated notes of the same kinds
(bench/retrieval_quality.py), indexed through the real pipeline with the local embedder. One
uvicorn process (what `make run` starts per core) serves config.asgi on 127.0.0.1.
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
    from mindpost.accounts import services as account_services
    from mindpost.accounts.models import User

    data = json.loads((DATA / "notes.json").read_text())
    data += filler_notes(max(notes - len(data), 0))
    user = User.objects.create_user(email=email, password=None)  # signs in by token only
    started = time.perf_counter()
    load_notes(user, data)
    print(f"{len(data)} notes indexed in {time.perf_counter() - started:.0f} s")
    token = str(account_services.tokens_issue(user=user).access_token)  # as /api/token/ issues them
    return user, token, len(data)


@contextmanager
def app_server(*, connection: Any, port: int, env: dict[str, str] | None = None) -> Iterator[str]:
    """uvicorn serving config.asgi on 127.0.0.1:port against the benchmark's database; yields its base URL."""
    connection.ensure_connection()
    db = connection.settings_dict
    server_env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}",
        # Rate limits would answer 429 long before the machine is saturated.
        "THROTTLE_USER": "100000000/day",
        "THROTTLE_CHAT": "100000000/day",
        "DJANGO_DEBUG": "true",
        "LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    command = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
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
