"""The settings page's panels, each filled from the app that owns it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from mindpost.accounts.models import User
from mindpost.billing.views import plan_panel_context
from mindpost.notes import selectors as note_selectors
from mindpost.posts import networks
from mindpost.posts import selectors as post_selectors

_CONNECTION_MESSAGES = {
    "success": "Connected. You can publish now.",
    "disconnected": "Disconnected.",
}


def connections_context(*, request: HttpRequest, user: User) -> dict[str, Any]:
    connected = post_selectors.connections_for(user=user)
    rows = []
    for network in networks.all_networks().values():
        connection = connected.get(network.slug)
        rows.append(
            {
                "network": network,
                "configured": network.is_configured(),
                "connection": connection,
                "needs_reauth": bool(connection and connection.needs_reauth),
                "char_limit": post_selectors.char_limit(user=user, network=network, connection=connection),
            }
        )
    status = request.GET.get("connection_status", "")
    notice = None
    if status:
        ok = status in _CONNECTION_MESSAGES
        text = _CONNECTION_MESSAGES.get(status, "The connection did not work. Please try again.")
        if status == "error" and request.GET.get("code") == "access_denied":
            text = "Connecting was cancelled."
        notice = {"ok": ok, "text": text, "network": request.GET.get("network", "")}
    return {"connection_rows": rows, "connection_notice": notice}


def settings_panels(*, request: HttpRequest, user: User) -> dict[str, Any]:
    plan = plan_panel_context(user=user)
    return {
        **connections_context(request=request, user=user),
        **plan,
        "note_settings": note_selectors.note_settings_get(user=user),
        "connections_panel": "web/_connections_panel.html",
        "audio_panel": "web/_audio_panel.html",
        "plan_panel": "web/_plan_panel.html",
    }
