"""Fixtures for the import tests: private media (as the notes tests), files and zips to import."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from tests.notes import audio_files
from tests.notes.conftest import audio_dir, media_dir, speech  # noqa: F401 (fixtures)

URL = "/api/imports/"


def tone_wav(frequency: float, seconds: float = 1.0) -> bytes:
    """A short, distinct recording (a tone: not silent, so the upload checks take it)."""
    return audio_files.wav_bytes(audio_files.tone(seconds, frequency=frequency))


def make_zip(entries: dict[str, bytes | str], *, dates: dict[str, tuple[int, ...]] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            info = zipfile.ZipInfo(name, date_time=(dates or {}).get(name, (2024, 1, 2, 3, 4, 5)))  # type: ignore[arg-type]
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def post_files(client: APIClient, files: list[tuple[str, bytes]]) -> Any:
    return client.post(URL, {"files": [SimpleUploadedFile(name, data) for name, data in files]}, format="multipart")


@pytest.fixture
def run_job(django_capture_on_commit_callbacks: Any) -> Callable[[str], None]:
    """What the worker does with a batch (the worker itself: test_worker.py), after-commit work
    (deleting the import's copies) included."""
    from mindpost.imports import services

    def run(batch_id: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.batch_process(batch_id=batch_id)

    return run
