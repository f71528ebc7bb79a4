from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.db import connection
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def test_healthz(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_needs_a_live_worker(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "worker": "no worker heartbeat"}

    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '10 minutes')")
    assert client.get("/readyz").status_code == 503  # a stale heartbeat does not count

    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now())")
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["workers"] == 1


def _django(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET_KEY", "FIELD_", "ALLOWED_"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


PROD = {
    "DJANGO_DEBUG": "false",
    "SECRET_KEY": "x" * 20 + "-production-secret-that-is-long-enough-0123456789",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "mindpost.example.com",
    "MAILGUN_API_KEY": "key-test",
    "MAILGUN_SENDER_DOMAIN": "mg.example.com",
}


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_secrets(missing: str) -> None:
    env = {k: v for k, v in PROD.items() if k != missing}
    result = _django(["check"], **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_production_rejects_a_bad_encryption_key() -> None:
    result = _django(["check"], **{**PROD, "FIELD_ENCRYPTION_KEYS": "not-a-key"})
    assert result.returncode != 0
    assert "not a valid Fernet key" in result.stderr


def test_check_deploy_is_clean_in_production() -> None:
    result = _django(["check", "--deploy", "--fail-level", "WARNING"], **PROD)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_logs_are_json() -> None:
    result = _django(
        ["shell", "-c", "import logging; logging.getLogger('mindpost').warning('hello', extra={'user_id': 'u1'})"],
        **PROD,
    )
    assert result.returncode == 0, result.stderr
    line = [line for line in result.stderr.splitlines() if "hello" in line][-1]
    import json

    record = json.loads(line)
    assert record["message"] == "hello"
    assert record["level"] == "WARNING"
    assert record["user_id"] == "u1"


def test_admin_is_staff_only(client: Client, user, make_user) -> None:
    response = client.get("/admin/")
    assert response.status_code == 302
    client.force_login(user)
    assert client.get("/admin/").status_code == 302  # not staff
    staff = make_user("staff@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff)
    response = client.get("/admin/accounts/user/?q=ada")
    assert response.status_code == 200
    assert b"ada@example.com" in response.content
