"""Fixtures for the notes tests: private media, storage emulators, speech files."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.notes import audio_files

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture(autouse=True)
def media_dir(settings: Any, tmp_path: Path) -> Path:
    """Each test stores files in its own directory, never in var/media."""
    media = tmp_path / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}},
    }
    return media


# --- storage emulators (loopback only) -----------------------------------------------------


def _start(command: list[str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
    except Exception:
        process.kill()
        raise
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[str]:
    port = free_port()
    process = _start(
        [
            str(BIN / "gcp-storage-emulator"),
            "start",
            "-H",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "--default-bucket",
            "mindpost-test",
            "-q",
        ],
        port,
    )
    yield f"http://127.0.0.1:{port}"
    _stop(process)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    port = free_port()
    process = _start([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], port)
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).create_bucket(Bucket="mindpost-test")
    yield endpoint
    _stop(process)


@pytest.fixture
def gcs_storage(settings: Any, gcs_emulator: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from google.auth.credentials import AnonymousCredentials

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": {
                "bucket_name": "mindpost-test",
                "project_id": "test",
                "credentials": AnonymousCredentials(),
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
    }
    # Anonymous credentials cannot sign URLs, so audio is streamed through our view.
    settings.NOTE_AUDIO_DELIVERY = "stream"
    return gcs_emulator


@pytest.fixture
def s3_storage(settings: Any, s3_server: str) -> str:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "mindpost-test",
                "endpoint_url": s3_server,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "querystring_auth": True,
                "querystring_expire": 60,
                "file_overwrite": False,
                "default_acl": "private",
            },
        },
    }
    settings.NOTE_AUDIO_DELIVERY = "auto"
    return s3_server


# --- audio -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def audio_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("audio")


SPEECH_TEXT = "I met Nikos in Athens last summer. He builds wooden boats. Hashtag travel."


@pytest.fixture(scope="session")
def speech(audio_dir: Path) -> Callable[[str], bytes]:
    """Speech (espeak-ng) encoded in a given format: webm, ogg, m4a, mp3, flac or wav."""
    if not audio_files.have_espeak():
        pytest.skip("espeak-ng is not installed (apt-get install -y espeak-ng)")
    wav = audio_files.speech_wav(SPEECH_TEXT, audio_dir / "speech.wav")
    samples, rate = audio_files.read_wav(wav)
    cache: dict[str, bytes] = {}

    def make(fmt: str) -> bytes:
        if fmt not in cache:
            cache[fmt] = audio_files.encode(samples, rate, fmt)
        return cache[fmt]

    return make


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(extra)
    return env


def which(name: str) -> str | None:
    return shutil.which(name)
