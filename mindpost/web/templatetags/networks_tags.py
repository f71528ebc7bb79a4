"""`{% form_network_rows user as rows %}`: the networks connected with a form (Bluesky, Mastodon)
and the user's connection to each, for web/_form_networks_panel.html."""

from __future__ import annotations

from typing import Any

from django import template

from mindpost.accounts.models import User
from mindpost.posts import networks
from mindpost.posts import selectors as post_selectors

register = template.Library()


@register.simple_tag
def form_network_rows(user: User) -> list[dict[str, Any]]:
    connected = post_selectors.connections_for(user=user)
    rows = []
    for network in networks.all_networks().values():
        if network.connect_kind != "form":
            continue
        connection = connected.get(network.slug)
        rows.append(
            {
                "network": network,
                "connection": connection,
                "needs_reauth": bool(connection and connection.needs_reauth),
                "char_limit": post_selectors.char_limit(user=user, network=network, connection=connection),
            }
        )
    return rows
