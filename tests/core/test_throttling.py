"""mindpost.core.throttling: atomic fixed-window counters in PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from mindpost.core import throttling
from mindpost.core.models import ThrottleCounter

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(1_800_000_000.0)  # a multiple of 60 and of 3600: windows start here
    monkeypatch.setattr(throttling, "_clock", fake)
    return fake


@pytest.mark.parametrize(
    ("rate", "limit", "seconds"),
    [("10/min", 10, 60), ("100/hour", 100, 3600), ("5000/day", 5000, 86400), ("10/15min", 10, 900), ("2/30s", 2, 30)],
)
def test_parse_rate(rate: str, limit: int, seconds: int) -> None:
    assert throttling.parse_rate(rate) == throttling.Rate(limit=limit, seconds=seconds)


@pytest.mark.parametrize("rate", ["10", "ten/min", "10/fortnight", "10/0m"])
def test_parse_rate_rejects_nonsense(rate: str) -> None:
    with pytest.raises(ValueError, match="Invalid rate"):
        throttling.parse_rate(rate)


def test_limit_retry_after_and_window_reset(clock: Clock) -> None:
    results = [throttling.hit(key="t|ip:1.2.3.4", rate="3/min") for _ in range(4)]
    assert [allowed for allowed, _ in results] == [True, True, True, False]
    assert results[-1][1] == 60
    clock.now += 45
    allowed, retry_after = throttling.hit(key="t|ip:1.2.3.4", rate="3/min")
    assert (allowed, retry_after) == (False, 15)
    # Another key has its own budget.
    assert throttling.hit(key="t|ip:5.6.7.8", rate="3/min")[0] is True
    # The next window starts from zero.
    clock.now += 15
    assert throttling.hit(key="t|ip:1.2.3.4", rate="3/min") == (True, 60)
    # One row per key and window, not one per request.
    assert ThrottleCounter.objects.filter(key="t|ip:1.2.3.4").count() == 2
    counts = list(
        ThrottleCounter.objects.filter(key="t|ip:1.2.3.4").order_by("window_start").values_list("count", flat=True)
    )
    assert counts == [5, 1]


def test_expired_windows_are_deleted(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    throttling.hit(key="old|ip:1.1.1.1", rate="1/min")
    clock.now += 3600
    monkeypatch.setattr(throttling, "CLEANUP_EVERY", 1)  # clean on this hit
    throttling.hit(key="new|ip:1.1.1.1", rate="1/min")
    assert list(ThrottleCounter.objects.values_list("key", flat=True)) == ["new|ip:1.1.1.1"]


def test_forget_deletes_only_that_subjects_counters() -> None:
    user_key = throttling.key_for("upload", throttling.user_subject("abc"))
    email_key = throttling.key_for("signin", throttling.email_subject(" Ada@Example.com "))
    other = throttling.key_for("upload", throttling.user_subject("abcd"))
    for key in (user_key, email_key, other):
        throttling.hit(key=key, rate="10/min")
    assert throttling.email_subject("ada@example.com") in email_key  # normalised before hashing
    assert "ada" not in email_key  # and never stored as is
    throttling.forget(subjects=[throttling.user_subject("abc"), throttling.email_subject("ada@example.com")])
    assert list(ThrottleCounter.objects.values_list("key", flat=True)) == [other]


def test_table_is_unlogged() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'core_throttlecounter'")
        assert cursor.fetchone()[0] == "u"


def _database_url() -> str:
    db: dict[str, Any] = dict(connection.settings_dict)
    assert db["NAME"].startswith("test_"), db["NAME"]
    user = quote(db.get("USER") or "postgres")
    password = (":" + quote(db["PASSWORD"])) if db.get("PASSWORD") else ""
    host = str(db.get("HOST") or "localhost")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    if host.startswith("/"):
        return f"postgres://{user}{password}@{port}/{db['NAME']}?host={quote(host)}"
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_counts_are_shared_across_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttling, "_clock", time.time)  # the other process runs on the real clock
    key = "shared|ip:192.0.2.1"
    for _ in range(3):
        assert throttling.hit(key=key, rate="5/day")[0] is True
    code = (
        "import django; django.setup()\n"
        "from mindpost.core import throttling\n"
        f"print([throttling.hit(key={key!r}, rate='5/day')[0] for _ in range(3)])\n"
    )
    env = {**os.environ, "DATABASE_URL": _database_url(), "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=180
    )
    # The other process saw this one's 3 hits: 2 more fit in the budget, the third does not.
    assert out.stdout.strip().splitlines()[-1] == "[True, True, False]"
    assert throttling.hit(key=key, rate="5/day")[0] is False
