"""Show the web app's dates and times in the signed-in person's own time zone."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


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
