"""The local LLM server: llama.cpp's own OpenAI-compatible HTTP server, in-process through xllamacpp.

`xllamacpp.Server(params)` loads the GGUF and starts llama.cpp's C++ HTTP server on
params.hostnames/params.port in native threads; it serves /v1/chat/completions (with SSE
streaming), /v1/models and /health until the object is dropped. One such process per machine
(`manage.py llmserver`, started by `make run`) serves every web and worker process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .models import LLMPreset

logger = logging.getLogger(__name__)

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def server_address(url: str) -> tuple[str, int]:
    """(host, port) of LLM_SERVER_URL, e.g. http://127.0.0.1:8089/v1 -> ("127.0.0.1", 8089)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"LLM_SERVER_URL {url!r} is not an http(s) URL.")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def health_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/health"


def build_params(
    *,
    preset: LLMPreset,
    model_file: Path,
    host: str,
    port: int,
    context_tokens: int,
    threads: int,
    verbose: bool = False,
) -> Any:
    import xllamacpp  # imported here: loading llama.cpp costs time and memory that only the server needs

    params = xllamacpp.CommonParams()
    params.model.path = str(model_file)
    params.model_alias = {preset.alias}
    params.hostnames = [host]
    params.port = port
    params.api_prefix = ""  # serves both /v1/chat/completions and /chat/completions
    params.ui = False
    params.n_ctx = context_tokens
    # On 2 cores one generation already uses both: queue requests instead of splitting the CPU.
    params.n_parallel = 1
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.sampling.penalty_repeat = preset.repeat_penalty
    params.verbosity = 3 if verbose else 0
    return params


def serve(
    *,
    preset: LLMPreset,
    model_file: Path,
    host: str,
    port: int,
    context_tokens: int,
    threads: int | None = None,
    stop: threading.Event,
    on_ready: Callable[[str], None] | None = None,
    verbose: bool = False,
) -> str:
    """Load the model, serve until `stop` is set, then shut down. Returns the listening address.

    Loading blocks in C; a signal that arrives meanwhile is handled right after, so setting
    `stop` from a signal handler in the main thread works at any point."""
    import xllamacpp  # imported here: loading llama.cpp costs time and memory that only the server needs

    if host not in _LOOPBACK:
        logger.warning("The LLM server has no authentication and listens on %s, not loopback.", host)
    params = build_params(
        preset=preset,
        model_file=model_file,
        host=host,
        port=port,
        context_tokens=context_tokens,
        threads=threads or os.cpu_count() or 1,
        verbose=verbose,
    )
    server = xllamacpp.Server(params)
    address = str(server.listening_address)
    logger.info("LLM server (%s) listening on %s", preset.alias, address)
    try:
        if on_ready is not None:
            on_ready(address)
        stop.wait()
    finally:
        del server  # stops the HTTP server and frees the model
    return address
