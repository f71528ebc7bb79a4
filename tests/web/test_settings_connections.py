"""The settings page explains how a connect flow ended, one message per code it sends back."""

from __future__ import annotations

import pytest
from django.test import Client

GENERIC = "The connection did not work. Please try again."


def _notice(web: Client, code: str) -> str:
    return web.get(f"/settings/?connection_status=error&network=x&code={code}").content.decode()


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("cancelled", "Connecting was cancelled"),
        ("access_denied", "Connecting was cancelled"),
        ("confirmation_used", "already used"),
        ("confirmation_expired", "not answered in time"),
        ("session_mismatch", "different MindPost account or in a different browser"),
    ],
)
def test_each_connect_flow_code_has_its_own_message(web: Client, code: str, says: str) -> None:
    html = _notice(web, code)
    assert says in html
    assert GENERIC not in html


def test_an_unknown_code_gets_the_general_message(web: Client) -> None:
    assert GENERIC in _notice(web, "something_new")


def test_success_is_not_an_error(web: Client) -> None:
    html = web.get("/settings/?connection_status=success&network=x").content.decode()
    assert "Connected. You can publish now." in html
