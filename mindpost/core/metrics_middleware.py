"""Request latency and failures for Prometheus (mindpost.core.metrics), one middleware.

First in MIDDLEWARE, so the time covers every other middleware too. A sync middleware like all the
others: under ASGI Django runs the whole sync chain in one thread, so it adds no thread switch.
For a streamed response (chat answers) the time is to the first byte: the body is sent after the
middleware returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from mindpost.core import metrics


def route_label(request: HttpRequest) -> str:
    """The URL pattern that matched ("api/brain-dumps/<uuid:pk>/"), never the path itself, so that
    ids and made-up URLs cannot create new series. Unresolved requests share one label each."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.route:
        return str(match.route)
    if settings.STATIC_URL and request.path.startswith(str(settings.STATIC_URL)):
        return "static"  # answered by WhiteNoise before URL resolution
    return "unmatched"


class MetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = self.get_response(request)
        seconds = time.perf_counter() - started
        status = response.status_code
        metrics.observe_request(route=route_label(request), method=request.method or "", status=status, seconds=seconds)
        if status >= 400:
            # The API's error responses carry their code (mindpost.core.errors.tag_error_code);
            # anything else (an HTML error page, a 500 nobody rendered) is counted by its status.
            code = getattr(response, "error_code", None) or ("server_error" if status >= 500 else f"http_{status}")
            metrics.count_failure(code=str(code), status=status)
        return response
