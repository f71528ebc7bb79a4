"""No dead ends on the compose and post pages: which networks this post can go to (connected,
and configured on this server), and — always, prominently when none is — Copy and "Open in X /
LinkedIn / Bluesky" links with the text filled in (posts/intents.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from mindpost.accounts.models import User
from mindpost.posts import intents, networks
from mindpost.posts import selectors as post_selectors
from mindpost.posts.models import Connection
from mindpost.posts.networks.base import Network
from mindpost.web.helpers import web_user

# The longest text a page sends back for new links (a post is at most 100 000 characters).
MAX_TEXT = 100_000


@dataclass(frozen=True)
class NetworkRow:
    network: Network
    connection: Connection | None
    configured: bool

    @property
    def usable(self) -> bool:
        return self.configured and self.connection is not None and not self.connection.needs_reauth

    @property
    def state(self) -> str:
        if self.usable:
            return "ready"
        if not self.configured:
            return "unavailable"
        return "reauth" if self.connection is not None else "connect"


def options_context(*, user: User, text: str, current: str = "") -> dict[str, Any]:
    existing = post_selectors.connections_for(user=user)
    rows = [
        NetworkRow(network=network, connection=existing.get(slug), configured=network.is_configured())
        for slug, network in networks.all_networks().items()
    ]
    links = intents.intent_links(text) if text.strip() else []
    return {
        "rows": rows,
        "any_usable": any(row.usable for row in rows),
        "current_row": next((row for row in rows if row.network.slug == current), None),
        "links": links,
        "shortened": any(link.shortened for link in links),
        "has_text": bool(text.strip()),
    }


@login_required
@require_POST
def publish_options(request: HttpRequest) -> HttpResponse:
    """The box again for the editor's current text and network (HTMX, as the person types)."""
    text = request.POST.get("content", "")[:MAX_TEXT]
    context = options_context(user=web_user(request), text=text, current=request.POST.get("network", ""))
    return render(request, "web/_publish_options.html", context)
