"""Throttles under real concurrency: parallel requests through a real HTTP server (threads)."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from django.contrib.auth.signals import user_login_failed
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from tests.conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)


def _parallel(calls: list[Any]) -> list[int]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_parallel_signins_reach_authentication_exactly_the_limit(live_server: Any, settings: Any) -> None:
    assert settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["auth"] == "10/min"
    attempts: list[str] = []

    def count(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
        attempts.append(str(credentials.get("email") or credentials.get("username")))

    user_login_failed.connect(count)
    try:

        def signin(i: int) -> Any:
            def call() -> int:
                # A different (unknown) account each time: only the per-address `auth` rate applies.
                body = {"email": f"nobody{i}@example.com", "password": "wrong"}
                with httpx.Client(base_url=live_server.url, timeout=60) as http:
                    return http.post("/api/token/", json=body).status_code

            return call

        codes = _parallel([signin(i) for i in range(30)])
    finally:
        user_login_failed.disconnect(count)
    assert Counter(codes) == {401: 10, 429: 20}
    assert len(attempts) == 10


def test_parallel_uploads_pass_exactly_the_scoped_limit(
    live_server: Any, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "upload": "7/min"})
    user = make_user("uploader@example.com")
    token = bearer(APIClient(), email=user.email)

    def upload(i: int) -> Any:
        def call() -> int:
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=live_server.url, timeout=60, headers=headers) as http:
                return http.post("/api/brain-dumps/", json={"text": f"note {i}"}).status_code

        return call

    codes = _parallel([upload(i) for i in range(20)])
    assert Counter(codes) == {201: 7, 429: 13}
