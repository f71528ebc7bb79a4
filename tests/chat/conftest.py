from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from mindpost.accounts.models import User
from tests.conftest import PASSWORD


@pytest.fixture
def client(live_server_url: str, make_user: Callable[..., User]) -> Iterator[httpx.Client]:
    """An HTTP client signed in over the real API (uvicorn on 127.0.0.1) as ada@example.com."""
    make_user("ada@example.com")
    with httpx.Client(base_url=live_server_url, timeout=30) as http:
        tokens = http.post("/api/token/", json={"email": "ada@example.com", "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        http.headers["Authorization"] = f"Bearer {tokens.json()['access']}"
        yield http
