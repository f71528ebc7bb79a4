"""A real-protocol fake of the OpenAI API on 127.0.0.1 for tests (never any other address).

It speaks the three endpoints MindPost uses, checks what it receives the way the real API
does, and answers deterministically:

- ``POST /v1/audio/transcriptions`` (multipart): needs ``file`` (real audio: it is decoded with
  mindpost.ai.audio, so garbage gets a 400) and ``model``; answers ``json``, ``text`` or
  ``verbose_json`` (language, duration of the uploaded audio, and ``transcript`` split into
  one segment per sentence, spread evenly over the duration).
- ``POST /v1/embeddings`` (JSON): ``input`` is a string or a list of non-empty strings;
  ``dimensions`` (<= 1536) sets the length; ``encoding_format`` float or base64. Vectors are
  L2-normalised hashed bags of words: texts that share words are similar, others are
  near-orthogonal, and the same text always gets the same vector.
- ``POST /v1/chat/completions`` (JSON, ``stream`` with SSE): validates ``messages``,
  ``max_tokens`` / ``max_completion_tokens``, ``temperature`` and ``response_format``
  (``json_object`` needs the word JSON in a message, like OpenAI). The reply is
  ``chat_reply`` (a string, or a function of the request body) or by default
  ``"Fake answer to: <last user message>"`` (``{"answer": ...}`` in JSON mode), cut to
  ``max_tokens`` words with finish_reason "length". Streams send one word per chunk.
- ``GET /v1/models`` and ``GET /health``.

Every request needs ``Authorization: Bearer <api_key>`` (401 otherwise) and a model from
``models`` (404 otherwise).

Fixtures (registered in tests/conftest.py):

``openai_fake`` -> FakeOpenAI, started for the test and stopped after it::

    def test_x(openai_fake):
        openai_fake.url                       # "http://127.0.0.1:<port>/v1"  (OPENAI_BASE_URL)
        openai_fake.api_key                   # "sk-fake-test-key"            (OPENAI_API_KEY)
        openai_fake.transcript = "I met Nikos in Athens."   # what transcriptions return
        openai_fake.language = "english"
        openai_fake.chat_reply = "Hello"      # or: lambda request_json: "..."
        openai_fake.fail("/v1/embeddings", status=500, times=2)   # next 2 calls answer 500
        openai_fake.fail("/v1/chat/completions", status=429)
        openai_fake.fail("/v1/audio/transcriptions", delay=5)     # answer only after 5 s (timeouts)
        openai_fake.fail("/v1/chat/completions", drop_after_chunks=2)  # a stream that breaks off
        openai_fake.fail("/v1/chat/completions", first_chunk_delay=2)  # headers now, first token in 2 s
        openai_fake.fail("/v1/embeddings", status=200, body={...})     # answer exactly this JSON once
        openai_fake.calls("/v1/embeddings")   # [Recorded(path, headers, body, json(), form)]

``openai_backends`` -> the same FakeOpenAI, with TRANSCRIBE_BACKEND, EMBED_BACKEND and
CHAT_BACKEND set to "openai" and pointed at the fake (AI_MAX_RETRIES=0, AI_TIMEOUT_SECONDS=5),
so ``mindpost.ai.get_transcriber()`` etc. talk to it. The backend cache resets by itself
when these settings change.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import hashlib
import itertools
import json
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mindpost.ai import audio as audio_mod


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, tuple[bytes, str | None]] = field(default_factory=dict)  # multipart: name -> (bytes, filename)

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def field(self, name: str) -> str | None:
        value = self.form.get(name)
        return value[0].decode() if value else None


@dataclass
class Fault:
    path: str
    status: int | None  # None: answer normally (after `delay`)
    times: int
    delay: float = 0.0
    drop_after_chunks: int | None = None
    body: Any = None
    first_chunk_delay: float = 0.0  # streams: headers at once, then wait this long (a model evaluating its prompt)


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status = status
        self.payload = {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def fake_embedding(text: str, dimensions: int) -> list[float]:
    """Hashed bag of words, L2-normalised (deterministic; shared words -> similar vectors)."""
    vector = np.zeros(dimensions, dtype=np.float64)
    for word in _words(text) or [text]:
        digest = hashlib.sha256(word.encode()).digest()
        index = int.from_bytes(digest[:4], "little") % dimensions
        vector[index] += 1.0 if digest[4] % 2 else -1.0
    norm = float(np.linalg.norm(vector))
    if norm == 0:
        vector[0] = 1.0
        norm = 1.0
    result: list[float] = (vector / norm).tolist()
    return result


class FakeOpenAI:
    def __init__(self) -> None:
        self.api_key = "sk-fake-test-key"
        self.models = {"whisper-1", "text-embedding-3-small", "gpt-4o-mini"}
        self.transcript = "Hello from the fake transcriber. This is the second sentence."
        self.language = "english"
        self.chat_reply: str | Callable[[dict[str, Any]], str] | None = None
        self.requests: list[Recorded] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                fake._dispatch(self)

            do_POST = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    # --- test controls ---------------------------------------------------------------------
    def fail(
        self,
        path: str,
        *,
        status: int | None = 500,
        times: int = 1,
        delay: float = 0.0,
        drop_after_chunks: int | None = None,
        body: Any = None,
        first_chunk_delay: float = 0.0,
    ) -> None:
        """Make the next `times` requests to `path` answer `status` (with an OpenAI error body, or
        `body`), and/or wait `delay` seconds first. With `delay` and no explicit status the request
        is answered normally, late. `drop_after_chunks` (streams) cuts the connection after N chunks;
        `first_chunk_delay` (streams) sends the headers at once and the first chunk that much later."""
        if (delay or drop_after_chunks is not None or first_chunk_delay) and status == 500:
            status = None
        with self._lock:
            self._faults.append(Fault(path, status, times, delay, drop_after_chunks, body, first_chunk_delay))

    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [record for record in self.requests if record.path == path]

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path == path and fault.times > 0:
                    fault.times -= 1
                    return fault
        return None

    # --- HTTP ------------------------------------------------------------------------------
    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        record = Recorded(
            method=handler.command,
            path=handler.path.split("?", 1)[0],
            headers={key.lower(): value for key, value in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
        )
        with self._lock:
            self.requests.append(record)
        fault = self._take_fault(record.path)
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        try:
            if fault is not None and fault.status is not None:
                payload = (
                    fault.body
                    or ApiError(fault.status, f"Injected failure {fault.status}", type_="server_error").payload
                )
                return self._send_json(handler, fault.status, payload)
            status, payload = self._route(record)
            if isinstance(payload, Iterator):
                return self._send_stream(
                    handler,
                    payload,
                    drop_after=fault.drop_after_chunks if fault else None,
                    first_chunk_delay=fault.first_chunk_delay if fault else 0.0,
                )
            if isinstance(payload, str):
                return self._send(handler, status, payload.encode(), "text/plain; charset=utf-8")
            return self._send_json(handler, status, payload)
        except ApiError as exc:
            return self._send_json(handler, exc.status, exc.payload)
        except (BrokenPipeError, ConnectionResetError):
            return None

    def _route(self, record: Recorded) -> tuple[int, Any]:
        if record.method == "GET" and record.path == "/health":
            return 200, {"status": "ok"}
        self._check_auth(record)
        routes: dict[tuple[str, str], Callable[[Recorded], Any]] = {
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/audio/transcriptions"): self._transcriptions,
            ("POST", "/v1/embeddings"): self._embeddings,
            ("POST", "/v1/chat/completions"): self._chat,
        }
        view = routes.get((record.method, record.path))
        if view is None:
            raise ApiError(404, f"Invalid URL ({record.method} {record.path})")
        return 200, view(record)

    def _check_auth(self, record: Recorded) -> None:
        if record.headers.get("authorization") != f"Bearer {self.api_key}":
            raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")

    def _check_model(self, model: Any) -> str:
        if not isinstance(model, str) or not model:
            raise ApiError(400, "you must provide a model parameter")
        if model not in self.models:
            raise ApiError(404, f"The model `{model}` does not exist.", code="model_not_found")
        return model

    @staticmethod
    def _json_body(record: Recorded) -> dict[str, Any]:
        if not record.headers.get("content-type", "").startswith("application/json"):
            raise ApiError(400, "Expected a JSON body.")
        try:
            body = record.json()
        except ValueError:
            raise ApiError(400, "We could not parse the JSON body of your request.") from None
        if not isinstance(body, dict):
            raise ApiError(400, "The body must be a JSON object.")
        return body

    def _send(self, handler: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _send_json(self, handler: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        self._send(handler, status, json.dumps(payload).encode(), "application/json")

    def _send_stream(
        self,
        handler: BaseHTTPRequestHandler,
        events: Iterator[Any],
        *,
        drop_after: int | None,
        first_chunk_delay: float = 0.0,
    ) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        if first_chunk_delay:
            handler.wfile.flush()
            time.sleep(first_chunk_delay)

        def chunk(data: bytes) -> None:
            handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            handler.wfile.flush()

        for sent, event in enumerate(events):
            if drop_after is not None and sent >= drop_after:
                handler.close_connection = True
                handler.connection.shutdown(2)  # mid-stream: no terminating chunk
                return
            chunk(b"data: " + (event if isinstance(event, bytes) else json.dumps(event).encode()) + b"\n\n")
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    # --- endpoints -------------------------------------------------------------------------
    def _models(self, record: Recorded) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": m, "object": "model", "owned_by": "fake"} for m in sorted(self.models)],
        }

    def _transcriptions(self, record: Recorded) -> Any:
        content_type = record.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            raise ApiError(400, "Expected multipart/form-data.")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + record.body
        )
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str):
                payload = part.get_payload(decode=True)
                record.form[name] = (payload if isinstance(payload, bytes) else b"", part.get_filename())
        self._check_model(record.field("model"))
        upload, filename = record.form.get("file", (b"", None))
        if not upload or not filename:
            raise ApiError(400, "A file with a file name is required.")
        duration = self._audio_duration(upload, Path(filename).suffix)
        response_format = record.field("response_format") or "json"
        if response_format not in {"json", "text", "verbose_json", "srt", "vtt"}:
            raise ApiError(400, f"Invalid response_format {response_format!r}.")
        granularities = [v[0].decode() for k, v in record.form.items() if k.startswith("timestamp_granularities")]
        if granularities and response_format != "verbose_json":
            raise ApiError(400, "timestamp_granularities requires response_format=verbose_json.")
        language = record.field("language")
        if language is not None and not re.fullmatch(r"[a-z]{2,3}", language):
            raise ApiError(400, f"Invalid language {language!r}: use ISO-639-1.")
        text = self.transcript
        if response_format == "text":
            return text
        if response_format != "verbose_json":
            return {"text": text}
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
        step = duration / max(1, len(sentences))
        segments = [
            {
                "id": index,
                "seek": 0,
                "start": round(index * step, 2),
                "end": round((index + 1) * step, 2),
                "text": " " + sentence,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": -0.2,
                "compression_ratio": 1.2,
                "no_speech_prob": 0.01,
            }
            for index, sentence in enumerate(sentences)
        ]
        return {
            "task": "transcribe",
            "language": self.language if language is None else language,
            "duration": round(duration, 2),
            "text": text,
            "segments": segments,
            "usage": {"type": "duration", "seconds": int(duration + 0.999)},
        }

    @staticmethod
    def _audio_duration(upload: bytes, suffix: str) -> float:
        with tempfile.NamedTemporaryFile(suffix=suffix or ".bin") as handle:
            handle.write(upload)
            handle.flush()
            try:
                return audio_mod.decode(handle.name).duration
            except audio_mod.AudioDecodeError as exc:
                raise ApiError(400, f"Invalid file format ({exc.code}).") from None

    def _embeddings(self, record: Recorded) -> dict[str, Any]:
        body = self._json_body(record)
        model = self._check_model(body.get("model"))
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs or not all(isinstance(i, str) for i in inputs):
            raise ApiError(400, "'input' must be a string or a non-empty array of strings.")
        if any(not text for text in inputs) or len(inputs) > 2048:
            raise ApiError(400, "'$.input' is invalid: empty strings or more than 2048 items.")
        dimensions = body.get("dimensions", 1536)
        if not isinstance(dimensions, int) or not 1 <= dimensions <= 1536:
            raise ApiError(400, "'dimensions' must be an integer between 1 and 1536.")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise ApiError(400, "'encoding_format' must be float or base64.")
        data = []
        for index, text in enumerate(inputs):
            vector: Any = fake_embedding(text, dimensions)
            if encoding == "base64":
                vector = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(len(_words(text)) for text in inputs)
        return {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def _chat(self, record: Recorded) -> Any:
        body = self._json_body(record)
        model = self._check_model(body.get("model"))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ApiError(400, "'messages' must be a non-empty array.")
        for message in messages:
            if (
                not isinstance(message, dict)
                or message.get("role") not in {"system", "user", "assistant", "developer"}
                or not isinstance(message.get("content"), str)
            ):
                raise ApiError(400, "Each message needs a valid 'role' and string 'content'.")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens", 4096))
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise ApiError(400, "'max_tokens' must be a positive integer.")
        temperature = body.get("temperature", 1.0)
        if not isinstance(temperature, int | float) or not 0 <= temperature <= 2:
            raise ApiError(400, "'temperature' must be between 0 and 2.")
        response_format = (body.get("response_format") or {}).get("type", "text")
        if response_format not in {"text", "json_object", "json_schema"}:
            raise ApiError(400, f"Invalid response_format type {response_format!r}.")
        if response_format == "json_object" and not any("json" in m["content"].lower() for m in messages):
            raise ApiError(
                400,
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            )

        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        if callable(self.chat_reply):
            reply = self.chat_reply(body)
        elif self.chat_reply is not None:
            reply = self.chat_reply
        elif response_format == "json_object":
            reply = json.dumps({"answer": last_user})
        else:
            reply = f"Fake answer to: {last_user}"
        pieces = re.findall(r"\S+\s*", reply)
        finish = "stop"
        if len(pieces) > max_tokens:
            pieces, finish = pieces[:max_tokens], "length"
        content = "".join(pieces)
        completion_id = f"chatcmpl-fake-{next(self._ids)}"
        created = int(time.time())
        usage = {"prompt_tokens": sum(len(_words(m["content"])) for m in messages), "completion_tokens": len(pieces)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        if not body.get("stream"):
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}
                ],
                "usage": usage,
            }

        def events() -> Iterator[Any]:
            base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model}
            yield {
                **base,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
            }
            for piece in pieces:
                yield {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}
            yield b"[DONE]"

        return events()


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def openai_backends(openai_fake: FakeOpenAI, settings: Any) -> FakeOpenAI:
    settings.TRANSCRIBE_BACKEND = "openai"
    settings.EMBED_BACKEND = "openai"
    settings.CHAT_BACKEND = "openai"
    settings.OPENAI_BASE_URL = openai_fake.url
    settings.OPENAI_API_KEY = openai_fake.api_key
    settings.TRANSCRIBE_MODEL = "whisper-1"
    settings.EMBED_MODEL = "text-embedding-3-small"
    settings.CHAT_MODEL = "gpt-4o-mini"
    settings.AI_MAX_RETRIES = 0
    settings.AI_TIMEOUT_SECONDS = 5.0
    return openai_fake
