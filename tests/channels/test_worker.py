"""End to end over real HTTP and a real Procrastinate worker process: a signed WhatsApp delivery
to the webhook under uvicorn, the channel job in the worker downloading the voice message from
the Graph API fake, the notes pipeline transcribing it (the OpenAI-compatible fake), and the
sender's reply with the note's title and link once the note is ready."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.db import connection

from mindpost.channels import base, services
from mindpost.channels.models import ChannelLink, InboundMessage, InboundStatus
from mindpost.notes.models import Note, NoteStatus
from tests.channels.conftest import NUMBER, sign, voice_bytes, wa_message, wa_payload
from tests.fakes.graph_server import FakeGraph
from tests.fakes.openai_server import FakeOpenAI
from tests.notes.conftest import ROOT
from tests.notes.test_worker import _database_url, fake_ai_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def worker(
    media_dir: Path, tmp_path: Path, graph: FakeGraph, openai_fake: FakeOpenAI
) -> Iterator[subprocess.Popen[bytes]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers,"
            " procrastinate_workers RESTART IDENTITY CASCADE"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=_database_url(),
        MEDIA_ROOT=str(media_dir),
        STORAGE_BACKEND="filesystem",
        LOG_JSON="false",
        SITE_URL="https://mindpost.example",
        WHATSAPP_TOKEN=graph.token,
        WHATSAPP_PHONE_NUMBER_ID=graph.phone_number_id,
        WHATSAPP_API_URL=graph.api_url,
        WHATSAPP_APP_SECRET="whatsapp-app-secret-for-tests",
        WHATSAPP_VERIFY_TOKEN="verify-me-please",
        **fake_ai_env(openai_fake),
    )
    log = (tmp_path / "worker.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "procrastinate", "worker", "-q", "channels,notes", "-p", "0.5"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    log.close()


def test_a_voice_message_becomes_a_note_and_the_sender_hears_back(
    live_server_url: str,
    user: Any,
    graph: FakeGraph,
    openai_fake: FakeOpenAI,
    worker: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    ChannelLink.objects.create(
        user=user, channel="whatsapp", address=NUMBER, address_hash=base.lookup_hash("address", NUMBER)
    )
    openai_fake.transcript = "I met Nikos in Athens. He builds wooden boats in Nafplio."
    media_id = graph.add_media(voice_bytes())
    body = json.dumps(wa_payload(wa_message("audio", media_id=media_id), phone_number_id=graph.phone_number_id))
    response = httpx.post(
        f"{live_server_url}/whatsapp/webhook/",
        content=body.encode(),
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(body.encode())},
        timeout=30,
    )
    assert response.status_code == 200, response.text

    def log() -> str:
        return (tmp_path / "worker.log").read_text(errors="replace")[-4000:]

    def replied_twice() -> list[str] | None:
        if worker.poll() is not None:
            pytest.fail(f"worker exited:\n{log()}")
        texts = graph.texts_to(NUMBER)
        return texts if len(texts) >= 2 else None

    texts = wait_for(replied_twice, timeout=120, what=f"the ready reply\n{log()}")
    note = Note.objects.get(user=user)
    assert note.status == NoteStatus.READY
    assert texts[0] == services.RECEIVED_VOICE
    assert texts[1].startswith("Saved: I met Nikos in Athens")
    assert f"https://mindpost.example/notes/{note.pk}/" in texts[1]
    assert InboundMessage.objects.get().status == InboundStatus.DONE
    assert openai_fake.calls("/v1/audio/transcriptions")
