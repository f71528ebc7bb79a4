"""Serve the LLM_PRESET model through llama.cpp's OpenAI-compatible HTTP server until Ctrl-C / SIGTERM."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mindpost.ai.llmserver import health_url, serve, server_address
from mindpost.ai.models import LLM_PRESETS, ensure_model
from mindpost.ai.types import AIError


class Command(BaseCommand):
    help = "Run the local LLM server (OpenAI-compatible, /v1/chat/completions, /health) on LLM_SERVER_URL's port."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        host, port = server_address(settings.LLM_SERVER_URL)
        parser.add_argument("--preset", choices=list(LLM_PRESETS), default=settings.LLM_PRESET)
        parser.add_argument("--host", default=host)
        parser.add_argument("--port", type=int, default=port)
        parser.add_argument("--context", type=int, default=settings.LLM_CONTEXT_TOKENS, help="Context tokens.")
        parser.add_argument("--threads", type=int, default=settings.AI_CPU_THREADS or None)
        parser.add_argument("--verbose", action="store_true", help="llama.cpp's own logs on stderr.")

    def handle(self, *args: Any, preset: str, host: str, port: int, **options: Any) -> None:
        chosen = LLM_PRESETS[preset]
        try:
            model_file = ensure_model(chosen.model, cache_dir=settings.MODEL_CACHE_DIR)
        except AIError as exc:
            raise CommandError(str(exc)) from exc

        stop = threading.Event()
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        signal.signal(signal.SIGTERM, lambda *_: stop.set())

        def announce(address: str) -> None:
            self.stdout.write(f"LLM server {chosen.alias} on {address}/v1 (health: {health_url(address)})")
            self.stdout.flush()

        try:
            serve(
                preset=chosen,
                model_file=model_file,
                host=host,
                port=port,
                context_tokens=options["context"],
                threads=options["threads"],
                stop=stop,
                on_ready=announce,
                verbose=options["verbose"],
            )
        except Exception as exc:  # xllamacpp raises plain exceptions (port in use, bad GGUF)
            raise CommandError(f"The LLM server failed: {exc}") from exc
