"""Web pages: dates and times in the signed-in person's own time zone, and domain errors shown as pages."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from mindpost.core.errors import AppError, is_api_request
from mindpost.web.helpers import error_fragment


class UserTimezoneMiddleware:
    """Activates the user's profile time zone for web pages. The API keeps UTC (its clients
    convert), so /api/ is left alone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        zone = getattr(user, "timezone", "") if user is not None and user.is_authenticated else ""
        if zone and not request.path.startswith("/api/"):
            try:
                timezone.activate(ZoneInfo(zone))
            except (KeyError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class AppErrorMiddleware:
    """A domain error that a web view lets through becomes its message and status: the error
    fragment for HTMX (swapped into the target), the error page otherwise. Views catch an
    AppError only when they do something else with it. DRF handles the API's own errors."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, AppError) or is_api_request(request):
            return None
        return error_fragment(request, exception)
