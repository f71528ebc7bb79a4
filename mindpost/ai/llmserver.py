"""The local LLM server: llama.cpp's own OpenAI-compatible HTTP server, in-process through xllamacpp.

`xllamacpp.Server(params)` loads the GGUF and starts llama.cpp's C++ HTTP server on
params.hostnames/params.port in native threads; it serves /v1/chat/completions (with SSE
streaming), /v1/models and /health until the object is dropped. One such process per machine
(`manage.py llmserver`, started by `make run`) serves every web and worker process.

It decodes LLM_PARALLEL requests at once (llama.cpp "slots", batched together); the admission
queue in front of it (mindpost.ai.queue) decides which requests those are, chat first.
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
    parallel: int = 1,
    verbose: bool = False,
) -> Any:
    """llama.cpp's parameters. `context_tokens` is per request: llama.cpp splits n_ctx evenly
    among its `parallel` slots (n_ctx_seq = n_ctx / n_parallel while the KV cache is not unified),
    so the total is context_tokens * parallel."""
    import xllamacpp  # imported here: loading llama.cpp costs time and memory that only the server needs

    params = xllamacpp.CommonParams()
    params.model.path = str(model_file)
    params.model_alias = {preset.alias}
    params.hostnames = [host]
    params.port = port
    params.api_prefix = ""  # serves both /v1/chat/completions and /chat/completions
    params.ui = False
    # One KV cache per slot, each of context_tokens: a unified cache would let one long request
    # take the others' room (and llama.cpp then aborts every slot when it runs out).
    params.n_parallel = parallel
    params.kv_unified = False
    params.n_ctx = context_tokens * parallel
    # Two slots on 2 cores: both requests' tokens are decoded in one batch (continuous batching),
    # so a second chat starts at once instead of waiting for the first to finish; each goes a
    # little slower. The prompt cache stays on (cache_prompt, the default): a slot keeps its last
    # prompt's KV, and the static system prompt that starts every chat prompt is not evaluated
    # again. llama.cpp sends a request to the idle slot whose cached prompt shares the most with
    # it (slot_prompt_similarity, default 0.1: the fixed prefix alone clears it). n_cache_reuse
    # stays 0: reusing chunks after the first difference shifts KV positions, which helps long
    # chats with edits, not prompts whose notes change right after the prefix.
    params.cont_batching = True
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
    parallel: int | None = None,
    stop: threading.Event,
    on_ready: Callable[[str], None] | None = None,
    verbose: bool = False,
) -> str:
    """Load the model, serve until `stop` is set, then shut down. Returns the listening address.

    Loading blocks in C; a signal that arrives meanwhile is handled right after, so setting
    `stop` from a signal handler in the main thread works at any point. `parallel` defaults to
    settings.LLM_PARALLEL."""
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
        parallel=parallel or _setting_parallel(),
        verbose=verbose,
    )
    server = xllamacpp.Server(params)
    address = str(server.listening_address)
    logger.info(
        "LLM server (%s) listening on %s, %d slots of %d tokens",
        preset.alias,
        address,
        params.n_parallel,
        context_tokens,
    )
    try:
        if on_ready is not None:
            on_ready(address)
        stop.wait()
    finally:
        del server  # stops the HTTP server and frees the model
    return address


def _setting_parallel() -> int:
    from django.conf import settings

    return max(1, int(getattr(settings, "LLM_PARALLEL", 1)))


_HEALTH_TTL = 3.0  # seconds a probe's answer is reused: a burst of chats probes once
_health_seen: dict[str, tuple[float, bool]] = {}


async def ahealthy(url: str, *, timeout: float = 1.0) -> bool:
    """Is the LLM server at `url` (LLM_SERVER_URL) up? GET /health, the answer cached briefly.

    For requests that must wait for a slot: their model stream is opened only once they hold
    one, so this is how a server that is down still gets a 503 before the stream starts."""
    import time

    import httpx

    now = time.monotonic()
    seen = _health_seen.get(url)
    if seen is not None and now - seen[0] < _HEALTH_TTL:
        return seen[1]
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            healthy = (await client.get(health_url(url))).status_code == 200
    except httpx.HTTPError:
        healthy = False
    _health_seen[url] = (now, healthy)
    return healthy
