"""Small shared pieces of the web views: who is signed in, failures shown in place, HTMX navigation."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from mindpost.accounts.models import User
from mindpost.core.errors import AppError, NotFound, http_status

logger = logging.getLogger(__name__)

GENERIC_FAILURE = "Something went wrong on our side. Please try again in a moment."


def web_user(request: HttpRequest) -> User:
    """The signed-in user; every view that calls this is behind login_required."""
    user = request.user
    assert isinstance(user, User)
    return user


def user_zone(user: User) -> ZoneInfo:
    """The profile's time zone, UTC when unset or unknown."""
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def error_message(exc: Exception) -> str:
    if isinstance(exc, AppError):
        return exc.detail
    return GENERIC_FAILURE


def error_fragment(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A human message for an HTMX target (or a plain page when JavaScript is off).

    Views raise AppError and AppErrorMiddleware calls this; a view calls it itself only when
    it does something else with some errors."""
    if not isinstance(exc, AppError):
        logger.exception("web action failed")
    code = exc.code if isinstance(exc, AppError) else "server_error"
    extra: dict[str, Any] = exc.extra if isinstance(exc, AppError) else {}
    context = {"message": error_message(exc), "code": code, "extra": extra}
    # The one place (besides the API's exception handler) that turns a domain error into a status.
    status = http_status(exc) if isinstance(exc, AppError) else 500
    if is_htmx(request):
        template = "web/_error.html"
    elif isinstance(exc, NotFound):
        template = "errors/404.html"  # a whole page that is not there looks like any other 404
    else:
        template = "web/error_page.html"
    response = render(request, template, context, status=status)
    if "retry_after" in extra:
        response["Retry-After"] = str(extra["retry_after"])
    return response


def is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def htmx_target(request: HttpRequest) -> str | None:
    """The id of the element an HTMX request will swap into (None for ordinary requests)."""
    details = getattr(request, "htmx", None)
    return details.target if details else None


def hx_redirect(url: str) -> HttpResponse:
    """204 + HX-Redirect: HTMX loads `url` as a whole page (a 302 would be swapped into the target)."""
    response = HttpResponse(status=204)
    response["HX-Redirect"] = url
    return response


def navigate(request: HttpRequest, url: str) -> HttpResponse:
    """Go to `url` after a form POST, with or without HTMX."""
    return hx_redirect(url) if is_htmx(request) else redirect(url)
