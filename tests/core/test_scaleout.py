"""Scale-out on one PostgreSQL (issue 14): 2 web processes and 2 job workers on loopback.

Both web processes are uvicorn as `make run` starts one (runstack's `web_command`), each on its own
port; both workers are `manage.py procrastinate worker` processes. They share the test database
and a media directory, and the AI provider is the loopback fake (tests/fakes/openai_server.py),
the fastest real pipeline the tests have: upload, decode, transcribe, chunk, embed, index.

- A burst of uploads over both web processes is processed by both workers: procrastinate keeps
  the worker of each job in procrastinate_jobs.worker_id (until the worker unregisters), and each
  worker process logs the start of every job it runs (mindpost.core.jobs, LOG_JSON=true).
- A worker killed (SIGKILL) while it holds a job stops its heartbeat; the other worker's periodic
  sweep (notes.sweep_notes) re-queues the job after NOTE_STALLED_AFTER_SECONDS and finishes it.
- Every note ends ready exactly once: one job per note, one "note ready" log line per note across
  both workers, its passages written once, and one recording unit metered per upload.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from mindpost.accounts import services as account_services
from mindpost.accounts.models import User
from mindpost.billing.models import UsageCounter
from mindpost.core.management.commands.runstack import web_command
from mindpost.notes.models import Note, NoteStatus, Passage
from tests.fakes.openai_server import FakeOpenAI
from tests.notes import audio_files

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
URL = "/api/brain-dumps/"
TRANSCRIPTION = "/v1/audio/transcriptions"
# Above procrastinate's 10 s heartbeat with room for a loaded machine: a live worker whose
# heartbeat is late must never look stalled (its job would be run twice).
STALLED_AFTER = 15
BURST = 8


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _database_url() -> str:
    params = connection.settings_dict
    host = params["HOST"] or (params.get("OPTIONS") or {}).get("host", "")
    user = params["USER"] or "postgres"
    if host.startswith("/"):  # the embedded server listens on a Unix socket
        return f"postgres://{user}@/{params['NAME']}?host={quote(host)}"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgres://{user}:{quote(params['PASSWORD'] or '')}@{host}{port}/{params['NAME']}"


@dataclass
class Proc:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@dataclass
class Stack:
    env: dict[str, str]
    logs: Path
    procs: list[Proc] = field(default_factory=list)

    def spawn(self, name: str, command: list[str]) -> Proc:
        log = self.logs / f"{name}.log"
        with log.open("wb") as handle:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill reaches only it
            )
        proc = Proc(name, process, log)
        self.procs.append(proc)
        return proc

    def diagnostics(self) -> str:
        return "\n".join(f"--- {p.name} (exit {p.process.poll()}):\n{p.output()}" for p in self.procs)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.alive():
                os.killpg(proc.process.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.process.pid, signal.SIGKILL)
                proc.process.wait(timeout=10)


def wait_for(predicate: Callable[[], Any], *, timeout: float, stack: Stack, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{stack.diagnostics()}")


def _truncate_procrastinate() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers,"
            " procrastinate_workers RESTART IDENTITY CASCADE"
        )


@pytest.fixture
def stack(openai_fake: FakeOpenAI, tmp_path: Path) -> Iterator[Stack]:
    # Procrastinate's tables are not flushed between transactional tests: start empty, and leave
    # them empty (the killed worker's row would otherwise look like a stale worker to /readyz).
    _truncate_procrastinate()
    media = Path(tempfile.mkdtemp(dir=tmp_path, prefix="media-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS", "COV_CORE"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=_database_url(),
        MEDIA_ROOT=str(media),
        STORAGE_BACKEND="filesystem",
        LOG_JSON="true",  # the workers' "note ready" lines are counted per note
        TRANSCRIBE_BACKEND="openai",
        EMBED_BACKEND="openai",
        CHAT_BACKEND="openai",
        OPENAI_BASE_URL=openai_fake.url,
        OPENAI_API_KEY=openai_fake.api_key,
        AI_MAX_RETRIES="0",
        AI_TIMEOUT_SECONDS="120",
        THROTTLE_USER="100000/day",
        THROTTLE_UPLOAD="100000/min",
        NOTE_STALLED_AFTER_SECONDS=str(STALLED_AFTER),
        NOTE_STALLED_SWEEP_SECONDS="2",
    )
    running = Stack(env=env, logs=tmp_path)
    try:
        yield running
    finally:
        running.stop()
        _truncate_procrastinate()


def _registered_workers() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM procrastinate_workers ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def _log_lines(proc: Proc, message: str) -> list[dict[str, Any]]:
    """The JSON log lines of `proc` with this message (LOG_JSON=true)."""
    lines = []
    for line in proc.log.read_text(errors="replace").splitlines():
        if f'"message": "{message}"' in line:
            lines.append(json.loads(line))
    return lines


def _started(proc: Proc, *, task: str) -> set[int]:
    """The ids of the jobs of `task` that the worker `proc` started (mindpost.core.jobs logs each)."""
    return {line["job_id"] for line in _log_lines(proc, "job started") if line["task"] == task}


def _wait_up(stack: Stack, base: str, web: Proc) -> None:
    def up() -> bool:
        if not web.alive():
            pytest.fail(f"{web.name} exited\n{stack.diagnostics()}")
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    # Generous: four Django processes start at once, on a machine that may be busy.
    wait_for(up, timeout=180, stack=stack, what=f"{web.name} to answer /healthz")


def _ready_notes(workers: list[Proc]) -> list[str]:
    """The note id of every "note ready" log line of every worker, the killed one included."""
    return [line["note_id"] for worker in workers for line in _log_lines(worker, "note ready")]


def test_two_web_and_two_worker_processes_share_one_database(
    make_user: Callable[..., User], openai_fake: FakeOpenAI, stack: Stack
) -> None:
    user = make_user("scale@example.com")
    token = str(account_services.tokens_issue(user=user).access_token)
    python = sys.executable
    ports = [_free_port(), _free_port()]
    webs = [
        stack.spawn(f"web-{i}", [*web_command(python=python, host="127.0.0.1", port=port, workers=1)])
        for i, port in enumerate(ports)
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    # The notes queue only: enrichment (a chat model's work) is not what this test is about.
    worker_command = [python, "manage.py", "procrastinate", "worker", "-q", "notes", "--concurrency", "2"]
    workers = [stack.spawn(f"worker-{name}", worker_command) for name in "ab"]
    for base, web in zip(bases, webs, strict=True):
        _wait_up(stack, base, web)

    def both_registered() -> bool:
        if not all(worker.alive() for worker in workers):
            pytest.fail(f"a worker exited\n{stack.diagnostics()}")
        return len(_registered_workers()) == 2

    wait_for(both_registered, timeout=180, stack=stack, what="both workers to register")

    audio = audio_files.wav_bytes(audio_files.tone(1.5))
    headers = {"Authorization": f"Bearer {token}"}

    def upload(base: str) -> str:
        response = httpx.post(
            f"{base}{URL}", files={"audio_file": ("note.wav", audio, "audio/wav")}, headers=headers, timeout=60
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def all_ready(ids: list[str]) -> bool:
        # The job commits the note ready, and the worker records the job's success just after.
        succeeded = ProcrastinateJob.objects.filter(
            task_name="notes.process_note", status="succeeded", lock__in=[f"note:{note_id}" for note_id in ids]
        )
        ready = Note.objects.filter(pk__in=ids, status=NoteStatus.READY)
        return ready.count() == len(ids) and succeeded.count() >= len(ids)

    # 1. A burst over both web processes. Each transcription takes a second, and a worker runs
    #    two jobs at a time, so the burst cannot fit in one worker.
    openai_fake.fail(TRANSCRIPTION, delay=1.0, times=BURST)
    with ThreadPoolExecutor(max_workers=BURST) as pool:
        burst = list(pool.map(upload, [bases[i % 2] for i in range(BURST)]))
    wait_for(lambda: all_ready(burst), timeout=90, stack=stack, what="the burst to be processed")
    ran_by = set(
        ProcrastinateJob.objects.filter(task_name="notes.process_note", status="succeeded").values_list(
            "worker_id", flat=True
        )
    )
    assert ran_by == set(_registered_workers()), stack.diagnostics()  # both workers, by their rows
    for worker in workers:  # and by the processes' own logs
        assert _started(worker, task="notes.process_note"), stack.diagnostics()

    # 2. The next transcription hangs: whichever worker takes the note holds its job when killed.
    calls = len(openai_fake.calls(TRANSCRIPTION))
    openai_fake.fail(TRANSCRIPTION, delay=90, times=1)
    stalled_note = upload(bases[1])
    lock = f"note:{stalled_note}"
    held = wait_for(
        lambda: (
            len(openai_fake.calls(TRANSCRIPTION)) > calls
            and ProcrastinateJob.objects.filter(lock=lock, status="doing").first()
        ),
        timeout=60,
        stack=stack,
        what="a worker to start the job that hangs",
    )
    # The worker process that holds it is the one that logged its start.
    victim, survivor = sorted(workers, key=lambda w: held.pk not in _started(w, task="notes.process_note"))
    assert held.pk in _started(victim, task="notes.process_note")
    assert held.pk not in _started(survivor, task="notes.process_note")
    os.killpg(victim.process.pid, signal.SIGKILL)
    victim.process.wait(timeout=10)
    assert ProcrastinateJob.objects.get(pk=held.pk).status == "doing"  # nobody finished it

    # Uploads keep working meanwhile, on both web processes, and go to the survivor.
    later = [upload(bases[0]), upload(bases[1])]
    everything = [*burst, stalled_note, *later]
    wait_for(
        lambda: all_ready(everything),
        timeout=STALLED_AFTER + 60,
        stack=stack,
        what="the survivor to finish the killed worker's job",
    )
    recovered = ProcrastinateJob.objects.get(pk=held.pk)
    assert recovered.status == "succeeded"
    assert recovered.worker_id not in (None, held.worker_id)
    assert held.pk in _started(survivor, task="notes.process_note")
    assert recovered.attempts == 2  # the run the sweep re-queued, and the one that worked
    assert survivor.alive(), stack.diagnostics()

    # 3. Nothing lost, nothing duplicated.
    assert Note.objects.filter(user=user).count() == len(everything) == BURST + 3
    jobs = ProcrastinateJob.objects.filter(task_name="notes.process_note")
    locks = sorted(str(lock) for lock in jobs.values_list("lock", flat=True))
    assert locks == sorted(f"note:{note_id}" for note_id in everything)  # one job per note
    assert set(jobs.values_list("status", flat=True)) == {"succeeded"}
    assert sorted(_ready_notes(workers)) == sorted(everything), stack.diagnostics()
    per_note = [Passage.objects.filter(note_id=note_id).count() for note_id in everything]
    assert per_note[0] >= 1
    assert set(per_note) == {per_note[0]}  # the same transcript, chunked the same
    assert Passage.objects.values("note_id", "position").distinct().count() == Passage.objects.count()
    counters = UsageCounter.objects.filter(user=user, metric="recordings")
    assert [counter.used for counter in counters] == [len(everything)]
