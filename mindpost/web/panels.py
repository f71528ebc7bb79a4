"""The settings page's panels, each filled from the app that owns it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from mindpost.accounts.models import User
from mindpost.billing import selectors as billing_selectors
from mindpost.notes import selectors as note_selectors
from mindpost.posts import networks
from mindpost.posts import selectors as post_selectors

_CONNECTION_MESSAGES = {
    "success": "Connected. You can publish now.",
    "disconnected": "Disconnected.",
}
# Why a connect flow ended without a connection: the `code` the flow sent back with status=error.
_CONNECTION_FAILURES = {
    "access_denied": "Connecting was cancelled. Nothing was linked.",
    "cancelled": "Connecting was cancelled. Nothing was linked.",
    "confirmation_used": "This confirmation was already used. If the account is not listed as connected, "
    "press Connect to start again.",
    "confirmation_expired": "The confirmation was not answered in time, so nothing was linked. "
    "Press Connect to start again.",
    "session_mismatch": "That connection was started by a different MindPost account or in a different "
    "browser, so nothing was linked. Press Connect here to link your own account.",
    "invalid_state": "The sign-in with the network expired or was already used. Press Connect to try again.",
    "network_not_configured": "Connecting this network is not set up on this server.",
    "invalid_credentials": "Bluesky did not accept this handle and app password. Nothing was linked.",
    "app_password_required": "Use a Bluesky app password (xxxx-xxxx-xxxx-xxxx), not your account password.",
    "invalid_instance_url": "That server address is not valid or not allowed. Enter something like mastodon.social.",
    "instance_not_supported": "That server does not look like a Mastodon server.",
    "instance_unreachable": "That server could not be reached. Check the address, or try again later.",
    "connect_with_form": "Bluesky and Mastodon connect with their own forms in Settings → Connections.",
}
_CONNECTION_FAILED = "The connection did not work. Please try again."


def connections_context(*, request: HttpRequest, user: User) -> dict[str, Any]:
    connected = post_selectors.connections_for(user=user)
    rows = []
    for network in networks.all_networks().values():
        if network.connect_kind == "form":
            continue  # Bluesky, Mastodon: their own forms in web/_form_networks_panel.html
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
        text = _CONNECTION_MESSAGES.get(status) or _CONNECTION_FAILURES.get(
            request.GET.get("code", ""), _CONNECTION_FAILED
        )
        notice = {"ok": ok, "text": text, "network": request.GET.get("network", "")}
    return {"connection_rows": rows, "connection_notice": notice}


def settings_panels(*, request: HttpRequest, user: User) -> dict[str, Any]:
    return {
        **connections_context(request=request, user=user),
        **billing_selectors.plan_panel_context(user=user),
        "note_settings": note_selectors.note_settings_get(user=user),
    }
