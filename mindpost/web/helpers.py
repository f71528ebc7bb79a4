"""Small shared pieces of the web views: who is signed in, and failures shown in place."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mindpost.accounts.models import User
from mindpost.core.errors import AppError, http_status

logger = logging.getLogger(__name__)

GENERIC_FAILURE = "Something went wrong on our side. Please try again in a moment."


def web_user(request: HttpRequest) -> User:
    """The signed-in user; every view that calls this is behind login_required."""
    user = request.user
    assert isinstance(user, User)
    return user


def error_message(exc: Exception) -> str:
    if isinstance(exc, AppError):
        return exc.detail
    return GENERIC_FAILURE


def error_fragment(request: HttpRequest, exc: Exception, *, status: int | None = None) -> HttpResponse:
    """A human message for an HTMX target (or a plain page when JavaScript is off)."""
    if not isinstance(exc, AppError):
        logger.exception("web action failed")
    code = exc.code if isinstance(exc, AppError) else "server_error"
    extra: dict[str, Any] = exc.extra if isinstance(exc, AppError) else {}
    context = {"message": error_message(exc), "code": code, "extra": extra}
    # The one place (besides the API's exception handler) that turns a domain error into a status.
    status = status or (http_status(exc) if isinstance(exc, AppError) else 500)
    template = "web/_error.html" if getattr(request, "htmx", False) else "web/error_page.html"
    return render(request, template, context, status=status)


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def htmx_target(request: HttpRequest) -> str | None:
    """The id of the element an HTMX request will swap into (None for ordinary requests)."""
    details = getattr(request, "htmx", None)
    return details.target if details else None
