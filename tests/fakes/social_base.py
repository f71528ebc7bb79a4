"""Machinery shared by the X and LinkedIn fakes: a threaded HTTP server on 127.0.0.1, a
request log, scripted faults, and the OAuth pieces both networks have in common."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Fault:
    """Answer the next `times` matching requests differently.

    kind: "status" (answer `status` with `headers`/`body` and do nothing), or "hang_after"
    (do the real work, then wait `delay` seconds before answering: the client times out
    although the server acted), or "hang_before" (wait, then answer without doing anything).
    """

    method: str
    path: str  # regular expression matched against the path
    kind: str = "status"
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    delay: float = 0.0
    times: int = 1


class HttpError(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[bytes, str | None]]:
    """{field name: (bytes, filename)} from a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    )
    if not message.is_multipart():
        raise HttpError(400, {"detail": "Expected multipart/form-data."})
    fields: dict[str, tuple[bytes, str | None]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = (payload, part.get_filename())
    return fields


class FakeServer:
    """Subclasses register routes in `routes()`; every request is logged in `requests`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._ids = itertools.count(1_000_000_000_000_000_001)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def next_id(self) -> str:
        return str(next(self._ids))

    # --- faults ---------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and re.fullmatch(fault.path, path) and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    def calls(self, method: str, path_regex: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and re.fullmatch(path_regex, r.path)]

    # --- dispatch -----------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Callable[..., Reply]]]:
        raise NotImplementedError

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        query = {key: values[-1] for key, values in parse_qs(split.query, keep_blank_values=True).items()}
        record = Recorded(
            method=handler.command,
            path=split.path,
            query=query,
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        with self.lock:
            self.requests.append(record)
        fault = self._take_fault(record.method, record.path)
        try:
            if fault is not None and fault.kind == "status":
                reply = Reply(status=fault.status, body=fault.body, headers=fault.headers)
            else:
                if fault is not None and fault.kind == "hang_before":
                    time.sleep(fault.delay)
                    return self._close(handler)
                reply = self._route(record)
                if fault is not None and fault.kind == "hang_after":
                    time.sleep(fault.delay)  # the work is done; the client has given up by now
        except HttpError as exc:
            reply = Reply(status=exc.status, body=exc.body, headers=exc.headers)
        self._send(handler, reply)

    def _route(self, record: Recorded) -> Reply:
        for method, pattern, view in self.routes():
            match = re.fullmatch(pattern, record.path)
            if method == record.method and match:
                return view(record, *match.groups())
        raise HttpError(404, {"title": "Not Found Error", "detail": f"No route {record.method} {record.path}"})

    @staticmethod
    def _close(handler: BaseHTTPRequestHandler) -> None:
        handler.close_connection = True

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.raw is not None:
            payload, content_type = reply.raw, "application/octet-stream"
        elif reply.body is None:
            payload, content_type = b"", "application/json"
        else:
            payload, content_type = json.dumps(reply.body).encode(), "application/json"
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True


# --- OAuth helpers shared by the fakes ------------------------------------------------------
def form(record: Recorded) -> dict[str, str]:
    if not record.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise HttpError(400, {"error": "invalid_request", "error_description": "Form body expected."})
    return {key: values[-1] for key, values in parse_qs(record.body.decode(), keep_blank_values=True).items()}


def basic_credentials(record: Recorded) -> tuple[str, str] | None:
    header = record.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return None
    decoded = base64.b64decode(header[6:]).decode()
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def bearer(record: Recorded) -> str:
    header = record.headers.get("authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise HttpError(401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
    return header[7:].strip()


def new_token() -> str:
    return secrets.token_urlsafe(24)
