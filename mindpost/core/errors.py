"""Domain errors, and the one error shape of the API: {"code", "detail", "fields"} with stable codes.

Services, selectors and jobs raise `AppError` subclasses: a stable machine-readable `code`, a
human `detail`, and optional `fields` (per-input messages) and `extra` (merged into the body, e.g.
limit, used and resets_at on limit_reached). They know nothing of HTTP. The HTTP status is chosen
here, by `http_status()`, and applied in exactly two places: the API exception handler below and
the web app's error helper (mindpost.web.helpers.error_fragment).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponseBase, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger(__name__)


class AppError(Exception):
    """Base of every domain error: `code` is part of the API contract, `detail` is for people."""

    default_code = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.default_code
        self.fields = fields or {}
        self.extra = extra or {}


class Invalid(AppError):
    """The input is wrong (400)."""


class Unprocessable(Invalid):
    """Well-formed input the domain cannot act on, e.g. silent audio (422)."""

    default_code = "unprocessable"


class TooLarge(Invalid):
    """The input is over a size limit (413)."""

    default_code = "too_large"


class UnsupportedFormat(Invalid):
    """A file of a kind we don't take (415)."""

    default_code = "unsupported_format"


class NotFound(AppError):
    """The object does not exist or belongs to someone else: the same answer either way (404)."""

    default_code = "not_found"


class Conflict(AppError):
    """The object is not in a state that allows this (409)."""

    default_code = "conflict"


class Forbidden(AppError):
    """The user may not do this (403)."""

    default_code = "permission_denied"


class QuotaExceeded(Forbidden):
    """The plan's limit is used up (403, as the reference client expects)."""

    default_code = "limit_reached"


class RateLimited(AppError):
    """Too many attempts; `extra["retry_after"]` says when to come back (429)."""

    default_code = "throttled"


class Unavailable(AppError):
    """A dependency (model, network, payment provider) is down or not configured (503)."""

    default_code = "unavailable"


class UpstreamFailed(AppError):
    """A dependency answered with an error or nonsense (502)."""

    default_code = "upstream_failed"


_STATUS: dict[type[AppError], int] = {
    Unprocessable: 422,
    TooLarge: 413,
    UnsupportedFormat: 415,
    Invalid: 400,
    NotFound: 404,
    Conflict: 409,
    QuotaExceeded: 403,
    Forbidden: 403,
    RateLimited: 429,
    Unavailable: 503,
    UpstreamFailed: 502,
    AppError: 400,
}


def http_status(exc: AppError) -> int:
    """The HTTP status of a domain error: the most specific class in the table wins."""
    for cls in type(exc).__mro__:
        if cls in _STATUS:
            return _STATUS[cls]
    return 400


# DRF's own codes renamed where they are vague; everything else keeps DRF's code.
_CODE_ALIASES = {
    "parse_error": "malformed_request",
    "error": "invalid",
}


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, list):
        return [message for item in detail for message in _flatten(item)]
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    return [str(detail)]


def _first_code(codes: Any) -> str:
    if isinstance(codes, list):
        return _first_code(codes[0]) if codes else "invalid"
    if isinstance(codes, dict):
        return _first_code(next(iter(codes.values()))) if codes else "invalid"
    return str(codes)


def error_body(*, code: str, detail: str, fields: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"code": code, "detail": detail, "fields": fields or {}, **extra}


def tag_error_code[R: HttpResponseBase](response: R, code: str) -> R:
    """Mark a response with its error code: the metrics middleware counts failures by it
    (mindpost_failures_total{code=...}, mindpost.core.metrics_middleware)."""
    setattr(response, "error_code", code)  # noqa: B010 (no such attribute on the class)
    return response


def app_error_response(exc: AppError) -> Response:
    """A domain error as an API response: the error shape, its status, Retry-After when known."""
    set_rollback()  # as DRF does for its own exceptions: an atomic request must not commit
    response = Response(
        error_body(code=exc.code, detail=exc.detail, fields=exc.fields, **exc.extra), status=http_status(exc)
    )
    if "retry_after" in exc.extra:
        response["Retry-After"] = str(exc.extra["retry_after"])
    return tag_error_code(response, exc.code)


def app_error_json(exc: AppError) -> JsonResponse:
    """The same body and status for views outside DRF (web JSON endpoints, async streams)."""
    response = JsonResponse(
        error_body(code=exc.code, detail=exc.detail, fields=exc.fields, **exc.extra), status=http_status(exc)
    )
    if "retry_after" in exc.extra:
        response["Retry-After"] = str(exc.extra["retry_after"])
    return tag_error_code(response, exc.code)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, AppError):
        return app_error_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django's 500 handler renders the JSON body and logs it

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields: dict[str, list[str]] = {}
        general: list[str] = []
        if isinstance(detail, dict):
            for name, value in detail.items():
                if name in ("non_field_errors", "__all__"):
                    general.extend(_flatten(value))
                else:
                    fields[name] = _flatten(value)
        else:
            general = _flatten(detail)
        codes = exc.get_codes()
        if fields:
            code = "invalid"
            message = general[0] if general else "Some fields are invalid."
        else:
            code = _first_code(codes)
            message = general[0] if general else "Invalid input."
        response.data = error_body(code=_CODE_ALIASES.get(code, code), detail=message, fields=fields)
        return tag_error_code(response, response.data["code"])

    if isinstance(exc, exceptions.APIException):
        code = _first_code(exc.get_codes())
        detail_messages = _flatten(exc.detail)
        extra: dict[str, Any] = {}
        wait = getattr(exc, "wait", None)
        if isinstance(exc, exceptions.Throttled) and wait is not None:
            extra["retry_after"] = int(wait)
        # SimpleJWT puts a list of token messages beside its detail; keep the sentence only.
        if isinstance(exc.detail, dict) and "detail" in exc.detail:
            detail_messages = _flatten(exc.detail["detail"])
            if "code" in exc.detail:
                code = str(exc.detail["code"])
        response.data = error_body(
            code=_CODE_ALIASES.get(code, code),
            detail=detail_messages[0] if detail_messages else "Error.",
            **extra,
        )
        tag_error_code(response, response.data["code"])
    return response


def _json_error(request: HttpRequest, *, status_code: int, code: str, detail: str) -> JsonResponse:
    return tag_error_code(JsonResponse(error_body(code=code, detail=detail), status=status_code), code)


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or request.path.startswith("/subscriptions/webhook")


def json_not_found(request: HttpRequest) -> JsonResponse:
    return _json_error(request, status_code=404, code="not_found", detail="Not found.")


def json_server_error(request: HttpRequest) -> JsonResponse:
    return _json_error(
        request, status_code=500, code="server_error", detail="Something went wrong on our side. It has been logged."
    )


def json_bad_request(request: HttpRequest) -> JsonResponse:
    return _json_error(request, status_code=400, code="bad_request", detail="Bad request.")


def json_forbidden(request: HttpRequest) -> JsonResponse:
    return _json_error(request, status_code=403, code="permission_denied", detail="Permission denied.")
