"""`make run`: migrate, then run the web server, a job worker and the local LLM server until Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run MindPost (web + worker) on this machine; Ctrl-C stops everything."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Run the web server only.")

    def handle(self, *args: Any, host: str, port: int, no_worker: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=1)
        python = sys.executable
        commands = {
            "web": [python, "-m", "uvicorn", "config.asgi:application", "--host", host, "--port", str(port)],
        }
        if not no_worker:
            commands["worker"] = [python, "manage.py", "procrastinate", "worker"]
        if settings.CHAT_BACKEND == "local":
            # One LLM server per machine behind an OpenAI-compatible API (docs/decisions/0001).
            # Assembling first joins and checks the weights once; later starts only compare a stamp.
            call_command("assemble_models")
            commands["llm"] = [python, "manage.py", "llmserver"]

        children: dict[str, subprocess.Popen[bytes]] = {}
        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        for name, command in commands.items():
            children[name] = subprocess.Popen(command)
        self.stdout.write(self.style.SUCCESS(f"MindPost is running at http://{host}:{port}/  (Ctrl-C to stop)"))

        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with code {child.returncode}; stopping.")
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.3)

        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        self.stdout.write("Stopped.")
        if exit_code:
            raise SystemExit(exit_code)
