"""The test session's environment, set before Django loads settings (tests/conftest.py imports
this module first).

Settings read their secrets from the environment (docs/decisions/0005). The session makes its own
keys and puts them there, so that the test process and every subprocess a test starts (uvicorn,
job workers: they inherit the environment) share them, and no test reads or writes the checkout's
var/dev-secrets.json. pytest's ini names no DJANGO_SETTINGS_MODULE for this reason: with it,
pytest-django would load settings before any conftest runs.
"""

from __future__ import annotations

import os
import secrets

import django
import pytest
from cryptography.fernet import Fernet
from django.conf import settings


def _prepare() -> None:
    if settings.configured:
        # DJANGO_SETTINGS_MODULE came from the shell, so settings were loaded before this file ran:
        # hand their keys down to the subprocesses instead.
        if not settings.FIELD_ENCRYPTION_KEYS:
            raise pytest.UsageError(
                "Settings were loaded without FIELD_ENCRYPTION_KEYS: unset DJANGO_SETTINGS_MODULE "
                "(the test session then makes its own keys) or set FIELD_ENCRYPTION_KEYS."
            )
        os.environ.setdefault("SECRET_KEY", settings.SECRET_KEY)
        os.environ.setdefault("FIELD_ENCRYPTION_KEYS", ",".join(settings.FIELD_ENCRYPTION_KEYS))
    else:
        os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
        os.environ.setdefault("FIELD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()


_prepare()
