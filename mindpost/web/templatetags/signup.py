"""Template tags of the sign-up pages."""

from __future__ import annotations

from django import template
from django.http import HttpRequest

from mindpost.web.views.signup import pending_signup_email

register = template.Library()


@register.simple_tag(takes_context=True)
def signup_email(context: template.Context) -> str:
    """The address this browser just signed up with (empty when it did not)."""
    request = context.get("request")
    return pending_signup_email(request) if isinstance(request, HttpRequest) else ""
