"""`{% crosspost_box post request.user as xp %}`: per-network status of a cross-post and the
networks that can be ticked, for web/_crosspost.html."""

from __future__ import annotations

from typing import Any

from django import template

from mindpost.accounts.models import User
from mindpost.posts import networks
from mindpost.posts import selectors as post_selectors
from mindpost.posts.models import Post

register = template.Library()


@register.simple_tag
def crosspost_box(post: Post, user: User) -> dict[str, Any]:
    """Usable networks to tick (ticked: the post's deliveries, else its own network)."""
    existing = post_selectors.connections_for(user=user)
    rows = list(post.deliveries.all())
    chosen = {row.network for row in rows} or {post.network}
    choices = [
        {"network": network, "checked": slug in chosen}
        for slug, network in networks.all_networks().items()
        if network.is_configured() and slug in existing and not existing[slug].needs_reauth
    ]
    return {"deliveries": [{"row": row, "network": networks.get(row.network)} for row in rows], "choices": choices}
