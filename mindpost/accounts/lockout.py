"""django-axes hooks: who is logging in, and what a locked-out client sees."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from mindpost.core.errors import error_body, is_api_request

LOCKED_OUT_DETAIL = "Too many failed sign-in attempts. Try again later or reset your password."


def username_from_request(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    # The API posts `email`; allauth's web form posts `login`; Django's admin posts `username`.
    for source in (credentials or {}, getattr(request, "POST", {})):
        for key in ("email", "login", "username"):
            value = source.get(key)
            if value:
                return str(value).strip().lower()
    return None


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    if is_api_request(request):
        response = JsonResponse(
            error_body(code="locked_out", detail=LOCKED_OUT_DETAIL, retry_after=cooloff_seconds()), status=429
        )
        response["Retry-After"] = str(cooloff_seconds())
        return response
    return render(request, "account/lockout.html", {"detail": LOCKED_OUT_DETAIL}, status=429)
