"""Serve /metrics alone, for processes that serve no HTTP themselves (the job workers).

A worker records its pipeline stages and its model calls into PROMETHEUS_MULTIPROC_DIR, where only
a web process on the same machine reads them. Where a worker runs elsewhere (its own Kubernetes pod)
this command runs beside it on the same directory (a second container on the pod's shared volume)
and answers GET /metrics with the same view, access rules (METRICS_TOKEN, trusted networks; 404 in
production with neither) and rendering as the web's own /metrics. Every other path is a 404.

    python manage.py metrics_server --host 0.0.0.0 --port 9100
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.core.handlers.wsgi import WSGIRequest
from django.core.management.base import BaseCommand
from django.db import connections

from mindpost.core import errors
from mindpost.core.metrics import multiprocess_dir
from mindpost.core.metrics_view import metrics_view

logger = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """WSGI: the metrics view on /metrics, the API's JSON 404 anywhere else. One request at a time
    (wsgiref's server): scrapes come seconds apart and take milliseconds."""
    request = WSGIRequest(environ)
    try:
        response = metrics_view(request) if request.path == "/metrics" else errors.json_not_found(request)
    finally:
        # The queue gauges read PostgreSQL; scrapes are seconds apart, so no connection is kept.
        connections.close_all()
    headers = [*response.items()]
    start_response(f"{response.status_code} {response.reason_phrase}", headers)
    return [response.content]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug(format, *args)


def make_metrics_server(*, host: str, port: int) -> WSGIServer:
    return make_server(host, port, application, server_class=WSGIServer, handler_class=_QuietHandler)


class Command(BaseCommand):
    help = "Serve GET /metrics only (for worker pods, which serve no HTTP)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=9100)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        if not multiprocess_dir():
            # Without the shared directory this process would report only its own (empty) samples.
            self.stderr.write("PROMETHEUS_MULTIPROC_DIR is not set: only the queue gauges will be served.")
        server = make_metrics_server(host=host, port=port)
        self.stdout.write(f"Metrics on http://{host}:{server.server_port}/metrics")
        try:
            server.serve_forever()
        finally:
            server.server_close()
