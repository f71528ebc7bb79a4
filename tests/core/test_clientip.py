"""mindpost.core.clientip: X-Forwarded-For is believed only as far as PROXY_COUNT says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory

from mindpost.core.clientip import client_ip

ROOT = Path(__file__).resolve().parents[2]


def _request(remote: str = "198.51.100.9", xff: str | None = None) -> Any:
    extra: dict[str, Any] = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


def test_no_proxy_ignores_the_header(settings: Any) -> None:
    settings.PROXY_COUNT = 0
    assert client_ip(_request(xff="1.2.3.4")) == "198.51.100.9"
    assert client_ip(_request()) == "198.51.100.9"


def test_one_proxy_takes_the_right_most_entry(settings: Any) -> None:
    settings.PROXY_COUNT = 1
    # The client put "6.6.6.6" there itself; our proxy appended the address it saw.
    assert client_ip(_request(remote="10.0.0.2", xff="6.6.6.6, 203.0.113.7")) == "203.0.113.7"
    assert client_ip(_request(remote="10.0.0.2", xff="203.0.113.7")) == "203.0.113.7"


def test_two_proxies_take_the_second_from_the_right(settings: Any) -> None:
    settings.PROXY_COUNT = 2
    assert client_ip(_request(remote="10.0.0.3", xff="6.6.6.6, 203.0.113.7, 10.0.0.2")) == "203.0.113.7"


def test_fewer_entries_than_proxies_fall_back_to_the_peer(settings: Any) -> None:
    settings.PROXY_COUNT = 2
    assert client_ip(_request(remote="10.0.0.3", xff="203.0.113.7")) == "10.0.0.3"
    assert client_ip(_request(remote="10.0.0.3")) == "10.0.0.3"


def test_garbage_and_ipv6(settings: Any) -> None:
    settings.PROXY_COUNT = 1
    assert client_ip(_request(remote="10.0.0.2", xff="not-an-address")) == "10.0.0.2"
    assert client_ip(_request(remote="10.0.0.2", xff="1.1.1.1, [2001:db8::1]")) == "2001:db8::1"


def test_forwarded_proto_is_ignored_without_proxies() -> None:
    # The test settings run with PROXY_COUNT=0: a client saying "https" does not make it so.
    request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https")
    assert request.is_secure() is False


@pytest.mark.parametrize(("proxies", "expected"), [("0", "None"), ("1", "('HTTP_X_FORWARDED_PROTO', 'https')")])
def test_forwarded_proto_is_trusted_only_behind_a_proxy(proxies: str, expected: str) -> None:
    env = {**os.environ, "PROXY_COUNT": proxies, "DJANGO_DEBUG": "false", "SECRET_KEY": "s" * 60}
    env.setdefault("FIELD_ENCRYPTION_KEYS", "")
    if not env["FIELD_ENCRYPTION_KEYS"]:
        from django.conf import settings

        env["FIELD_ENCRYPTION_KEYS"] = ",".join(settings.FIELD_ENCRYPTION_KEYS)
    env["ALLOWED_HOSTS"] = "example.com"
    code = "import config.settings as s; print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip().splitlines()[-1] == expected
