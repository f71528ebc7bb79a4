"""Markdown export: a zip with one `.md` file per note, ready to drop into an Obsidian vault.

Each file is YAML front matter (title, date, tags, duration, language; written with
yaml.safe_dump, so any title stays valid YAML), then the summary and key points, the action
items as task-list lines, and the transcript.

Streamed: the zip is written by the standard library's ZipFile into a sink that is not seekable,
so ZipFile puts each entry's sizes in a data descriptor after it instead of seeking back, and the
bytes are handed out as soon as a page of notes is written. Notes are read in keyset pages
(`created_at`, `id`), one short query each, never the whole account at once: what stays in memory
is one page plus the zip's central directory (about 100 bytes per file, which the format needs at
the end). Keyset pages rather than a server-side cursor, because under ASGI each chunk may be
pulled on a different thread, so no cursor may outlive one pull.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from django.utils import timezone
from django.utils.text import slugify

from mindpost.accounts.models import User
from mindpost.core import crypto
from mindpost.notes.models import ActionItem, Note

PAGE_SIZE = 200
FOLDER = "MindPost"
MAX_SLUG_CHARS = 60
_OBSIDIAN_TAG_JUNK = re.compile(r"[^\w/-]+")


class _Sink:
    """A write-only, unseekable file for ZipFile: collects bytes until they are drained."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _zone(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def obsidian_tag(tag: str) -> str | None:
    """A tag Obsidian accepts: letters, digits, '_', '-', '/', no spaces, not only digits."""
    cleaned = _OBSIDIAN_TAG_JUNK.sub("-", unicodedata.normalize("NFC", tag.strip().lstrip("#"))).strip("-/")
    if not cleaned or cleaned.replace("-", "").replace("_", "").isdigit():
        return None
    return cleaned


def file_name(note: Note, *, local: datetime) -> str:
    """`<date> <slug> <short id>.md`: sorts by date, readable, safe on every file system."""
    slug = slugify(note.title or "", allow_unicode=True)[:MAX_SLUG_CHARS].strip("-_") or "note"
    return f"{local.date().isoformat()} {slug} {note.pk.hex[:8]}.md"


def front_matter(note: Note, *, local: datetime) -> str:
    tags = list(dict.fromkeys(t for t in (obsidian_tag(tag) for tag in note.tags) if t))
    data: dict[str, Any] = {
        "title": note.title or "Untitled note",
        "date": local.date(),
        "created": local.isoformat(timespec="seconds"),
        "tags": tags,
        "duration": round(note.duration_seconds) if note.duration_seconds is not None else None,
        "language": note.language or None,
        "kind": note.kind,
        "id": str(note.pk),
    }
    dumped = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000)
    return f"---\n{dumped}---\n"


def _due(item: ActionItem) -> str:
    return f" (due {item.due_date.isoformat()})" if item.due_date else ""


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def markdown(note: Note, *, items: list[ActionItem], zone: ZoneInfo) -> str:
    local = timezone.localtime(note.created_at, zone)
    parts = [front_matter(note, local=local), f"\n# {_one_line(note.title) or 'Untitled note'}\n"]
    if note.summary.strip() or note.key_points:
        parts.append("\n## Summary\n")
        if note.summary.strip():
            parts.append(f"\n{note.summary.strip()}\n")
        if note.key_points:
            parts.append("\n" + "".join(f"- {_one_line(point)}\n" for point in note.key_points))
    if items:
        parts.append("\n## Action items\n\n")
        parts.extend(f"- [{'x' if item.done else ' '}] {_one_line(item.text)}{_due(item)}\n" for item in items)
    parts.append("\n## Transcript\n")
    transcript = (note.transcription or "").strip()
    parts.append(f"\n{transcript}\n" if transcript else "\n_(no transcript)_\n")
    return "".join(parts)


def _pages(user: User) -> Iterator[list[Note]]:
    """The user's notes, oldest first, PAGE_SIZE at a time (keyset pagination)."""
    after: tuple[datetime, Any] | None = None
    while True:
        rows = Note.objects.filter(user=user).order_by("created_at", "id")
        if after is not None:
            created, pk = after
            rows = rows.filter(created_at__gte=created).exclude(created_at=created, id__lte=pk)
        with crypto.uncached():  # read once: don't fill the per-process cache with the whole account
            page = list(rows[:PAGE_SIZE])
        if not page:
            return
        yield page
        after = (page[-1].created_at, page[-1].pk)
        if len(page) < PAGE_SIZE:
            return


def _items_by_note(notes: list[Note]) -> dict[Any, list[ActionItem]]:
    grouped: dict[Any, list[ActionItem]] = defaultdict(list)
    rows = ActionItem.objects.filter(note__in=[note.pk for note in notes]).order_by("note_id", "position", "created_at")
    with crypto.uncached():
        for item in rows:
            grouped[item.note_id].append(item)
    return grouped


def stream_zip(user: User) -> Iterator[bytes]:
    """The zip of the user's notes as Markdown, in chunks (one or more per page of notes)."""
    zone = _zone(user)
    sink = _Sink()
    archive = zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED)  # type: ignore[call-overload]
    try:
        for page in _pages(user):
            items = _items_by_note(page)
            for note in page:
                local = timezone.localtime(note.created_at, zone)
                name = f"{FOLDER}/{file_name(note, local=local)}"
                if name in archive.NameToInfo:  # same date, slug and id prefix: use the whole id
                    name = name.removesuffix(f" {note.pk.hex[:8]}.md") + f" {note.pk.hex}.md"
                info = zipfile.ZipInfo(name, date_time=local.timetuple()[:6])
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, markdown(note, items=items.get(note.pk, []), zone=zone))
            chunk = sink.drain()
            if chunk:
                yield chunk
    finally:
        archive.close()  # writes the central directory
    yield sink.drain()
