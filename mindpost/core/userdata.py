"""Where a user's data lives, so that export and deletion can find all of it.

Every file a user owns is stored under `users/<user id>/` in the default storage, and
every app registers an exporter that returns its rows for one user. Account export and
deletion then need no knowledge of the apps.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.storage import default_storage

logger = logging.getLogger(__name__)

Exporter = Callable[[Any], Any]
_exporters: dict[str, Exporter] = {}


def register_exporter(name: str, exporter: Exporter) -> None:
    """Register `exporter(user) -> JSON-serialisable data`, written as `<name>.json` in the export."""
    _exporters[name] = exporter


def exporters() -> dict[str, Exporter]:
    return dict(_exporters)


@dataclass(frozen=True)
class ExportFormat:
    """Another shape of the account export (`?format=<name>`): `stream(user)` yields the file's
    bytes in chunks, so the export never has to be whole in memory."""

    stream: Callable[[Any], Iterator[bytes]]
    filename: str
    content_type: str


_formats: dict[str, ExportFormat] = {}


def register_export_format(name: str, export_format: ExportFormat) -> None:
    _formats[name] = export_format


def export_formats() -> dict[str, ExportFormat]:
    return dict(_formats)


def user_prefix(user_id: uuid.UUID | str) -> str:
    return f"users/{user_id}/"


def user_file_path(user_id: uuid.UUID | str, *parts: str) -> str:
    return user_prefix(user_id) + "/".join(parts)


def iter_user_files(user_id: uuid.UUID | str) -> Iterator[str]:
    yield from _walk(user_prefix(user_id).rstrip("/"))


def _walk(directory: str) -> Iterator[str]:
    try:
        dirs, files = default_storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{directory}/{name}"
    for name in dirs:
        yield from _walk(f"{directory}/{name}")


def delete_user_files(user_id: uuid.UUID | str) -> int:
    """Delete every stored file of a user; returns how many were deleted."""
    count = 0
    for path in list(iter_user_files(user_id)):
        default_storage.delete(path)
        count += 1
    logger.info("deleted user files", extra={"user_id": str(user_id), "files": count})
    return count
