"""Rate limits as atomic fixed-window counters in PostgreSQL.

One row per (key, window): every request does a single
`INSERT ... ON CONFLICT DO UPDATE SET count = count + 1 RETURNING count`, so concurrent
requests in any process or machine are counted exactly (the row lock serialises them) and
each check costs O(1) whatever the rate. DRF's own throttles kept a list of timestamps
per key in the cache (read, append, write back: lost updates under concurrency).

A fixed window lets up to twice the rate through around a window boundary; that is the
price of one row per key. The table is UNLOGGED: a crash forgets the counters, nothing else.

Keys are "<scope>|<subject>", the subject being `u:<user id>`, `e:<email hash>` or
`ip:<address>`, so that everything about one account can be forgotten (`forget`).
Call `hit` outside long transactions: the row stays locked until the caller commits.
"""

from __future__ import annotations

import math
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.utils.crypto import salted_hmac
from rest_framework import throttling as drf
from rest_framework.request import Request

from mindpost.core.clientip import client_ip

# Expired windows are deleted by about one request in this many (an indexed range delete).
CLEANUP_EVERY = 200

_clock = time.time  # tests move time by replacing this

_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-zA-Z]+)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    limit: int
    seconds: int


def parse_rate(rate: str | Rate) -> Rate:
    """ "10/min", "100/hour", "5000/day", "3/h", "10/15min", "2/30s" → Rate."""
    if isinstance(rate, Rate):
        return rate
    match = _RATE.match(rate)
    unit = match.group(3)[0].lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(f"Invalid rate {rate!r}: use <count>/<period>, e.g. 10/min, 3/hour, 10/15min.")
    seconds = int(match.group(2) or 1) * _UNITS[unit]
    if seconds <= 0:
        raise ValueError(f"Invalid rate {rate!r}: the period must be positive.")
    return Rate(limit=int(match.group(1)), seconds=seconds)


def key_for(scope: str, subject: str) -> str:
    return f"{scope}|{subject}"


def user_subject(user_id: Any) -> str:
    return f"u:{user_id}"


def ip_subject(address: str) -> str:
    return f"ip:{address}"


def email_subject(email: str) -> str:
    """A keyed hash of the normalised address: counters never store an email, and the
    hash can't be reversed with a list of likely addresses without the SECRET_KEY."""
    normalised = email.strip().lower()
    return "e:" + salted_hmac("mindpost.throttle.email", normalised, algorithm="sha256").hexdigest()[:32]


def hit(*, key: str, rate: str | Rate) -> tuple[bool, int]:
    """Count one request against `key`: (allowed, seconds until the window resets)."""
    parsed = parse_rate(rate)
    now = _clock()
    start = math.floor(now / parsed.seconds) * parsed.seconds
    end = start + parsed.seconds
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO core_throttlecounter (key, window_start, expires_at, count) VALUES (%s, %s, %s, 1) "
            "ON CONFLICT (key, window_start) DO UPDATE SET count = core_throttlecounter.count + 1 RETURNING count",
            [key, _at(start), _at(end)],
        )
        count = int(cursor.fetchone()[0])
        if random.randrange(CLEANUP_EVERY) == 0:
            cursor.execute("DELETE FROM core_throttlecounter WHERE expires_at <= %s", [_at(now)])
    return count <= parsed.limit, max(1, math.ceil(end - now))


def forget(*, subjects: list[str]) -> int:
    """Delete every counter of these subjects (account deletion)."""
    if not subjects:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM core_throttlecounter WHERE key LIKE ANY(%s)",
            [["%|" + _like_escape(subject) for subject in subjects]],
        )
        return int(cursor.rowcount)


def clear() -> None:
    """Forget every counter (tests)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_throttlecounter")


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- DRF throttle classes ------------------------------------------------------------------
# They subclass DRF's classes only for configuration (scopes, THROTTLE_RATES from
# REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], view.throttle_scope); the counting is `hit`.


def _subject(request: Request) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return user_subject(user.pk)
    return ip_subject(client_ip(request))


class _CounterThrottle(drf.SimpleRateThrottle):
    _retry_after: int | None = None

    def parse_rate(self, rate: str | None) -> tuple[int | None, int | None]:
        if rate is None:
            return None, None
        parsed = parse_rate(rate)
        return parsed.limit, parsed.seconds

    def get_ident(self, request: Request) -> str:
        return client_ip(request)

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        allowed, self._retry_after = hit(key=key, rate=self.rate)
        return allowed

    def wait(self) -> float | None:
        return self._retry_after


class AnonRateThrottle(drf.AnonRateThrottle, _CounterThrottle):
    """Signed-out requests, per client address (THROTTLE_ANON)."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if request.user is not None and request.user.is_authenticated:
            return None
        return key_for(str(self.scope), ip_subject(client_ip(request)))


class UserRateThrottle(drf.UserRateThrottle, _CounterThrottle):
    """Per user, or per client address when signed out (THROTTLE_USER)."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return key_for(str(self.scope), _subject(request))


class ScopedRateThrottle(drf.ScopedRateThrottle, _CounterThrottle):
    """Views with `throttle_scope = "upload"` etc.: per user or client address, at that scope's rate."""

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return key_for(str(self.scope), _subject(request))
