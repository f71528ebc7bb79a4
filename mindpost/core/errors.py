"""One error shape for the whole API: {"code", "detail", "fields"} with stable codes."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """A domain error with a stable machine-readable code and optional extra fields.

    Services raise it; the handler renders it. `extra` is merged into the body
    (for example limit, used and resets_at on limit_reached).
    """

    status_code: int = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(
        self,
        detail: str,
        *,
        code: str,
        status_code: int = 400,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.code = code
        self.fields = fields or {}
        self.extra = extra or {}


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


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # unexpected: Django's 500 handler renders the JSON body and logs it

    if isinstance(exc, ApiError):
        response.data = error_body(code=exc.code, detail=str(exc.detail), fields=exc.fields, **exc.extra)
        if "retry_after" in exc.extra:
            response["Retry-After"] = str(exc.extra["retry_after"])
        return response

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
        return response

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
    return response


def _json_error(request: HttpRequest, *, status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(error_body(code=code, detail=detail), status=status_code)


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
