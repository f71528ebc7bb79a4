"""`make run`: migrate, then run the web server, a job worker and the local LLM server until Ctrl-C.

A child that exits is restarted (the others keep running): a crashed worker or LLM server must
not take the web server down with it. Restarts back off exponentially, so a child that fails at
once (a port in use, a missing model) is retried every 30 s at most instead of in a tight loop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from mindpost.core.metrics import prepare_multiprocess_dir


@dataclass(frozen=True)
class RestartPolicy:
    """Wait `initial` seconds before the first restart, doubling up to `maximum`; a child that
    stayed up for `stable_after` seconds before exiting starts again from `initial`."""

    initial: float = 1.0
    maximum: float = 30.0
    stable_after: float = 60.0

    def delay(self, *, previous: float | None, uptime: float) -> float:
        if previous is None or uptime >= self.stable_after:
            return self.initial
        return min(previous * 2, self.maximum)


@dataclass
class Child:
    name: str
    command: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    last_delay: float | None = None
    restart_at: float | None = None
    restarts: int = 0


@dataclass
class Supervisor:
    """Starts the children, restarts the ones that exit, stops them all. Time is passed in
    (`now`), so the restart policy is tested without waiting for it."""

    commands: dict[str, Sequence[str]]
    log: Callable[[str], None]
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic
    popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen
    children: dict[str, Child] = field(default_factory=dict)

    def start(self) -> None:
        now = self.clock()
        for name, command in self.commands.items():
            child = Child(name=name, command=command)
            self.children[name] = child
            self._spawn(child, now)

    def _spawn(self, child: Child, now: float) -> None:
        child.process = self.popen(list(child.command))
        child.started_at = now
        child.restart_at = None

    def poll(self, now: float | None = None) -> None:
        """Notice children that exited and schedule their restart; start those that are due."""
        now = self.clock() if now is None else now
        for child in self.children.values():
            if child.process is not None and child.process.poll() is not None:
                code = child.process.returncode
                uptime = now - child.started_at
                delay = self.policy.delay(previous=child.last_delay, uptime=uptime)
                child.last_delay = delay
                child.restart_at = now + delay
                child.process = None
                self.log(f"{child.name} exited with code {code} after {uptime:.0f}s; restarting in {delay:g}s.")
            elif child.process is None and child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._spawn(child, now)
                self.log(f"{child.name} restarted (restart {child.restarts}).")

    def run(self, should_stop: Callable[[], bool], *, interval: float = 0.3) -> None:
        while not should_stop():
            self.poll()
            time.sleep(interval)

    def stop(self, *, timeout: float = 15.0) -> None:
        """SIGTERM to every running child, SIGKILL to those still up after `timeout`; pending restarts are dropped."""
        running = [child.process for child in self.children.values() if child.process is not None]
        for child in self.children.values():
            child.restart_at = None
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# uvloop and httptools, named so that a missing one fails at start instead of falling back. Not
# only for speed (a 4x cheaper event loop and HTTP parser): with --workers, uvicorn 0.54 binds the
# listening socket itself with proto 0, and asyncio's loop then leaves Nagle on for every accepted
# connection, so each keep-alive response after the first waited ~40 ms for the client's delayed
# ACK (Kludex/uvicorn#3149; measured: 47 ms per /healthz instead of 4). uvloop sets TCP_NODELAY on
# every TCP connection. tests/core/test_webserver.py holds both to it.
UVICORN_IO = ("--loop", "uvloop", "--http", "httptools")


def web_command(*, python: str, host: str, port: int, workers: int | None = None) -> list[str]:
    """The web server as `make run` starts it (bench/search_api.py starts it the same way):
    WEB_CONCURRENCY uvicorn worker processes. Python holds one core per process (the GIL), so
    one process leaves the second core to PostgreSQL and the embedder only. `bench/search_api.py
    --config WEB_CONCURRENCY=1 --config WEB_CONCURRENCY=2` compares counts in one run."""
    workers = workers or settings.WEB_CONCURRENCY
    command = [python, "-m", "uvicorn", "config.asgi:application", "--host", host, "--port", str(port), *UVICORN_IO]
    return [*command, "--workers", str(workers)] if workers > 1 else command


class Command(BaseCommand):
    help = "Run MindPost (web + worker) on this machine; Ctrl-C stops everything."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--no-worker", action="store_true", help="Run the web server only.")

    def handle(self, *args: Any, host: str, port: int, no_worker: bool, **options: Any) -> None:
        # The first connection of this process: without DATABASE_URL it starts (or joins) the
        # embedded database, which then lives as long as runstack (mindpost/core/db/embedded).
        call_command("migrate", interactive=False, verbosity=1)
        # Hashed, compressed static files: what the pages link to and browsers cache for good.
        call_command("collectstatic", interactive=False, verbosity=0)
        # Every child (uvicorn workers, job workers) writes its Prometheus samples to files here and
        # /metrics sums them (mindpost.core.metrics); emptied so the last run's counts don't carry over.
        # Set before any child starts: prometheus_client reads it when it is first imported.
        metrics_dir = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.VAR_DIR / "prometheus")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prepare_multiprocess_dir(metrics_dir))
        python = sys.executable
        commands: dict[str, Sequence[str]] = {"web": web_command(python=python, host=host, port=port)}
        if not no_worker:
            commands["worker"] = [
                *[python, "manage.py", "procrastinate", "worker"],
                *["--concurrency", str(settings.WORKER_CONCURRENCY)],
            ]
        if settings.CHAT_BACKEND == "local":
            # One LLM server per machine behind an OpenAI-compatible API (docs/decisions/0001).
            # Assembling first joins and checks the weights once; later starts only compare a stamp.
            call_command("assemble_models")
            commands["llm"] = [python, "manage.py", "llmserver"]

        stopping = False

        def stop(*_: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        supervisor = Supervisor(commands=commands, log=lambda line: self.stderr.write(line))
        supervisor.start()
        self.stdout.write(self.style.SUCCESS(f"MindPost is running at http://{host}:{port}/  (Ctrl-C to stop)"))
        try:
            supervisor.run(lambda: stopping)
        finally:
            supervisor.stop()
        self.stdout.write("Stopped.")
