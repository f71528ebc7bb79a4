"""Where a user's data lives, so that export and deletion can find all of it.

Every file a user owns is stored under `users/<user id>/` in the default storage, and
every app registers an exporter that returns its rows for one user. Account export and
deletion then need no knowledge of the apps.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
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
