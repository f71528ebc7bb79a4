"""`manage.py llmserver` for real: SmolLM2-135M through xllamacpp's OpenAI-compatible server.

SmolLM2 makes facts up, so these tests check the protocol and the shape of answers only.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from mindpost.ai import get_chat_model
from mindpost.ai.llmserver import health_url, serve, server_address
from mindpost.ai.models import LLM_PRESETS, SMOLLM2, ensure_model
from tests.conftest import start_llmserver

ROOT = Path(__file__).resolve().parents[2]
MESSAGES = [{"role": "user", "content": "Name one colour."}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture
def llm_server(smollm2_server: str) -> str:
    """The suite's shared SmolLM2 server (tests/conftest.py)."""
    return smollm2_server


@pytest.fixture
def chat(llm_server: str, settings: Any) -> Any:
    settings.CHAT_BACKEND = "local"
    settings.LLM_PRESET = "smollm2"
    settings.LLM_SERVER_URL = llm_server
    settings.AI_TIMEOUT_SECONDS = 60.0
    return get_chat_model()


def test_server_reports_health_and_its_model(llm_server: str) -> None:
    url = llm_server
    assert get_json(health_url(url)) == (200, {"status": "ok"})
    status, models = get_json(f"{url}/models")
    assert status == 200
    assert "smollm2-135m-instruct" in json.dumps(models)


def test_complete_returns_text(chat: Any) -> None:
    answer = chat.complete(messages=MESSAGES, max_tokens=16, temperature=0.0)

    assert isinstance(answer, str)
    assert answer.strip()


def test_json_mode_is_constrained_to_json(chat: Any) -> None:
    answer = chat.complete(
        messages=[{"role": "user", "content": 'Reply with JSON like {"colour": "red"}.'}],
        max_tokens=48,
        temperature=0.0,
        json=True,
    )

    assert answer.startswith("{")  # llama.cpp turns json_object into a grammar


def test_stream_and_astream_deliver_deltas(chat: Any) -> None:
    pieces = list(chat.stream(messages=MESSAGES, max_tokens=12, temperature=0.0))

    async def collect() -> list[str]:
        return [piece async for piece in chat.astream(messages=MESSAGES, max_tokens=12, temperature=0.0)]

    async_pieces = asyncio.run(collect())
    assert len(pieces) > 1
    assert all(isinstance(piece, str) and piece for piece in pieces)
    assert "".join(pieces).strip()
    assert "".join(async_pieces).strip()


def test_server_address_parsing() -> None:
    assert server_address("http://127.0.0.1:8089/v1") == ("127.0.0.1", 8089)
    assert server_address("http://localhost/v1") == ("localhost", 80)
    assert health_url("http://127.0.0.1:8089/v1") == "http://127.0.0.1:8089/health"
    with pytest.raises(ValueError, match="not an http"):
        server_address("unix:///tmp/llm.sock")


def test_serve_in_process_until_stopped(settings: Any) -> None:
    model_file = ensure_model(SMOLLM2, cache_dir=settings.MODEL_CACHE_DIR)
    port = free_port()
    stop = threading.Event()
    addresses: list[str] = []
    thread = threading.Thread(
        target=serve,
        kwargs={
            "preset": LLM_PRESETS["smollm2"],
            "model_file": model_file,
            "host": "127.0.0.1",
            "port": port,
            "context_tokens": 1024,
            "threads": 1,
            "stop": stop,
            "on_ready": addresses.append,
        },
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 60
    while not addresses and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)

    assert addresses == [f"http://127.0.0.1:{port}"]
    assert get_json(f"http://127.0.0.1:{port}/health") == (200, {"status": "ok"})
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    with pytest.raises(urllib.error.URLError):
        get_json(f"http://127.0.0.1:{port}/health")


def test_ctrl_c_stops_the_server(tmp_path: Path) -> None:
    # Its own server, not the shared one: stopping that would break the tests that run after.
    _, process = start_llmserver(log=tmp_path / "stderr.log")
    try:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
