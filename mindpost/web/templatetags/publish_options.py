"""`{% publish_options %}`: the "where this can go / post it yourself" box of the post editor,
rendered with the page (so it is there before any script runs) from the context's request,
network and post."""

from __future__ import annotations

from typing import Any

from django import template

from mindpost.web.helpers import web_user
from mindpost.web.views.publish_options import options_context

register = template.Library()


@register.inclusion_tag("web/_publish_options.html", takes_context=True)
def publish_options(context: Any) -> dict[str, Any]:
    request = context["request"]
    post = context.get("post")
    network = context.get("network")
    values = options_context(
        user=web_user(request),
        text=post.content if post is not None else "",
        current=network.slug if network is not None else "",
    )
    # The page's own render loads the script (with this page's CSP nonce); HTMX re-renders don't.
    return {**values, "request": request, "with_script": True, "csrf_token": context.get("csrf_token")}
