"""Start-up helpers used by config.settings and the entry points (no Django imports: settings are
not ready yet).

Reading settings has no side effects: the functions settings call only read (the environment,
.env, var/dev-secrets.json). Writing the development secrets is `ensure_dev_secrets`, called by
the entry points (manage.py, config/asgi.py, config/wsgi.py) before Django loads settings.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DEV_SECRETS = "dev-secrets.json"


def load_env(base_dir: Path = BASE_DIR) -> environ.Env:
    """The environment, with `base_dir/.env` (git-ignored) filling in what is not set."""
    environ.Env.read_env(base_dir / ".env", overwrite=False)
    return environ.Env()


def var_dir(env: environ.Env, base_dir: Path = BASE_DIR) -> Path:
    """Where local state lives (embedded database, media, models, development secrets)."""
    return Path(env.str("MINDPOST_VAR_DIR", default="") or base_dir / "var")


def read_dev_secrets(directory: Path) -> dict[str, Any]:
    """The development secrets from var/, or {} when no entry point has generated them yet."""
    try:
        data: dict[str, Any] = json.loads((directory / DEV_SECRETS).read_text())
    except FileNotFoundError:
        return {}
    return data


def process_secret_key() -> str:
    """A SECRET_KEY for this process only: signed values (sessions, tokens) die with it."""
    return secrets.token_urlsafe(64)


def ensure_dev_secrets(base_dir: Path = BASE_DIR) -> None:
    """Generate the development secrets once per checkout into var/ (git-ignored), unless the
    environment names them or this is production (DJANGO_DEBUG=false, which must name its own:
    see require_env). Entry points call this before Django loads settings, so that every process
    of a checkout (web, worker, manage.py commands) reads the same keys from the same file."""
    env = load_env(base_dir)
    if not env.bool("DJANGO_DEBUG", default=True):
        return
    if env.str("SECRET_KEY", default="") and env.list("FIELD_ENCRYPTION_KEYS", default=[]):
        return
    directory = var_dir(env, base_dir)
    path = directory / DEV_SECRETS
    if path.exists():
        return
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "SECRET_KEY": process_secret_key(),
        "FIELD_ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
    }
    # Write atomically and privately: two processes may start at once, and the first file
    # linked into place wins (the other process then reads that one).
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


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
