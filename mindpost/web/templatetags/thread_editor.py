"""`{% thread_editor %}`: the post page's thread editor, built from the context's post."""

from __future__ import annotations

from typing import Any

from django import template

from mindpost.web.helpers import web_user
from mindpost.web.views.threads import editor_context

register = template.Library()


@register.inclusion_tag("web/_thread_editor.html", takes_context=True)
def thread_editor(context: Any) -> dict[str, Any]:
    request = context["request"]
    values = editor_context(user=web_user(request), post=context["post"])
    # The page's own render loads the script (with this page's CSP nonce); HTMX re-renders don't.
    return {**values, "request": request, "with_script": True, "csrf_token": context.get("csrf_token")}
