"""`{% network_setup_help %}`: what the operator of this server must configure for X and
LinkedIn, in plain words, with the exact callback URLs to register (settings page)."""

from __future__ import annotations

from typing import Any

from django import template

from mindpost.posts import networks

register = template.Library()

# (slug, where the app is made, the environment variables to set)
_OPERATOR_NETWORKS = (
    ("x", "https://developer.x.com", "X_CLIENT_ID and X_CLIENT_SECRET"),
    ("linkedin", "https://www.linkedin.com/developers/apps", "LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET"),
)


@register.inclusion_tag("web/_network_setup_help.html")
def network_setup_help() -> dict[str, Any]:
    known = networks.all_networks()
    rows = []
    for slug, console, variables in _OPERATOR_NETWORKS:
        network = known.get(slug)
        if network is None:
            continue
        rows.append(
            {
                "network": network,
                "configured": network.is_configured(),
                "console": console,
                "variables": variables,
                "callback": network.redirect_uri(),
            }
        )
    return {"rows": rows, "all_configured": all(row["configured"] for row in rows)}
