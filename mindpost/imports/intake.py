"""Checking what an import request sent, before anything is stored.

Each file is classified from its content, not only its name: a zip (by its signature), a text
or Markdown file (.md, .markdown, .txt), or a recording (sniffed as the upload check does).
Anything else refuses the whole request (415), so a person learns at once that a file was not
taken. A zip is read from its central directory first: names that climb out of the archive
(`../`, absolute paths, drive letters) are refused, and so are archives whose declared sizes
are over the limits or compressed suspiciously well (a zip bomb). Entries are then unpacked
one at a time, each bounded by its declared size (zipfile stops there, and a CRC check catches
a header that lied), so a request never unpacks more than IMPORT_MAX_BYTES.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest

from mindpost.ai import audio as ai_audio
from mindpost.core.errors import Invalid, TooLarge, UnsupportedFormat
from mindpost.imports.models import ItemKind
from mindpost.notes import uploads

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt"})
_HEAD_BYTES = 4096
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# A text entry that unpacks to more than this many times its compressed size, and to more than
# a megabyte, is not prose: Markdown compresses 3-10x, zip bombs a thousandfold.
MAX_RATIO = 100
_RATIO_FLOOR = 1024 * 1024
# Entries of every kind a zip may list (attachments and settings included), per importable note.
ENTRIES_PER_FILE = 10
_DRIVE = re.compile(r"^[A-Za-z]:")
_SKIPPED_PARTS = frozenset({"__MACOSX"})


@dataclass
class Pending:
    """One note-to-be: an uploaded file, or an entry of an uploaded zip."""

    filename: str
    kind: ItemKind
    size: int
    upload: UploadedFile | None = None
    archive: zipfile.ZipFile | None = None
    entry: zipfile.ZipInfo | None = None
    modified_at: datetime | None = None
    error_code: str = ""  # refused on its own (the rest of the batch goes ahead)
    error_detail: str = ""

    def open(self) -> IO[bytes]:
        if self.entry is not None:
            assert self.archive is not None
            return self.archive.open(self.entry)
        assert self.upload is not None
        self.upload.seek(0)
        return self.upload


@dataclass
class Plan:
    items: list[Pending]
    skipped: int


def too_many_files(limit: int) -> TooLarge:
    return TooLarge(
        f"An import takes at most {limit} notes. Split it into smaller imports.",
        code="too_many_files",
        extra={"max_files": limit},
    )


def too_large(limit: int) -> TooLarge:
    return TooLarge(
        f"An import takes at most {limit // (1024 * 1024)} MB (zips counted unpacked). Split it up.",
        code="import_too_large",
        extra={"max_bytes": limit},
    )


def _unsupported(name: str) -> UnsupportedFormat:
    return UnsupportedFormat(
        f"“{name[:120]}” is not something we can import. Send recordings (m4a, mp3, ogg, webm, wav, flac), "
        ".txt or .md files, or a .zip of them.",
        code="unsupported_file_type",
        fields={"files": [f"Unsupported file: {name[:120]}"]},
        extra={"filename": name[:255]},
    )


def _head(upload: UploadedFile) -> bytes:
    upload.seek(0)
    head = upload.read(_HEAD_BYTES)
    upload.seek(0)
    return head if isinstance(head, bytes) else b""


def unsafe_name(name: str) -> bool:
    """A zip entry name that would land outside the folder it is unpacked into."""
    if not name or "\x00" in name or "\\" in name or name.startswith("/") or _DRIVE.match(name):
        return True
    return any(part == ".." for part in name.split("/"))


def _skipped(path: PurePosixPath) -> bool:
    """Hidden files and folders (.obsidian/, .trash/) and macOS resource forks are not notes."""
    return any(part.startswith(".") or part in _SKIPPED_PARTS for part in path.parts)


def _entry_time(info: zipfile.ZipInfo, *, zone: ZoneInfo) -> datetime | None:
    if info.date_time[0] <= 1980:  # zip's "no date"
        return None
    try:
        return datetime(*info.date_time, tzinfo=zone)
    except ValueError:
        return None


def _max_text_bytes() -> int:
    return int(settings.NOTE_MAX_TEXT_CHARS) * 4  # UTF-8 takes at most 4 bytes a character


def _zip_entries(upload: UploadedFile, *, zip_name: str, zone: ZoneInfo) -> tuple[list[Pending], int]:
    upload.seek(0)
    try:
        archive = zipfile.ZipFile(upload)
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise Invalid(f"“{zip_name[:120]}” is not a zip file we can read.", code="invalid_zip") from exc
    if len(infos) > settings.IMPORT_MAX_FILES * ENTRIES_PER_FILE:
        raise too_many_files(settings.IMPORT_MAX_FILES)
    pending: list[Pending] = []
    skipped = 0
    for info in infos:
        if unsafe_name(info.filename):
            raise Invalid(
                f"“{zip_name[:120]}” contains a file name that points outside the archive.",
                code="unsafe_zip_path",
                extra={"filename": info.filename[:255]},
            )
        if info.is_dir():
            continue
        path = PurePosixPath(info.filename)
        if _skipped(path) or path.suffix.lower() not in TEXT_SUFFIXES:
            skipped += 1
            continue
        if info.flag_bits & 0x1:
            raise Invalid(f"“{zip_name[:120]}” is password-protected.", code="encrypted_zip")
        if info.file_size > _RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise TooLarge(
                f"“{zip_name[:120]}” unpacks to far more than it weighs: it looks like a zip bomb.",
                code="zip_bomb",
            )
        item = Pending(
            filename=f"{zip_name}/{info.filename}",
            kind=ItemKind.TEXT,
            size=info.file_size,
            archive=archive,
            entry=info,
            modified_at=_entry_time(info, zone=zone),
        )
        if info.file_size > _max_text_bytes():
            item.error_code, item.error_detail = "text_too_long", "This file is longer than a note can be."
            item.size = 0  # never unpacked, so it takes nothing from the budget
        pending.append(item)
    return pending, skipped


def plan(*, files: list[UploadedFile], zone: ZoneInfo) -> Plan:
    """What the request will import, or an AppError (4xx) for anything we will not take."""
    if not files:
        raise Invalid(
            "Choose some files to import: recordings, .txt or .md files, or a .zip.",
            code="no_files",
            fields={"files": ["At least one file is required."]},
        )
    max_files, max_bytes = int(settings.IMPORT_MAX_FILES), int(settings.IMPORT_MAX_BYTES)
    items: list[Pending] = []
    skipped = 0
    for upload in files:
        name = PurePosixPath((upload.name or "file").replace("\\", "/")).name or "file"
        size = int(upload.size or 0)
        head = _head(upload)
        suffix = PurePosixPath(name).suffix.lower()
        if suffix == ".zip" or head.startswith(_ZIP_MAGIC):
            entries, left_out = _zip_entries(upload, zip_name=name, zone=zone)
            items.extend(entries)
            skipped += left_out
        elif suffix in TEXT_SUFFIXES:
            item = Pending(filename=name, kind=ItemKind.TEXT, size=size, upload=upload)
            if size > _max_text_bytes():
                item.error_code, item.error_detail = "text_too_long", "This file is longer than a note can be."
            items.append(item)
        elif ai_audio.sniff_format(head) is not None:
            if size > settings.NOTE_MAX_UPLOAD_BYTES:
                raise uploads.file_too_large(int(settings.NOTE_MAX_UPLOAD_BYTES))
            items.append(Pending(filename=name, kind=ItemKind.AUDIO, size=size, upload=upload))
        else:
            raise _unsupported(name)
        if len(items) > max_files:
            raise too_many_files(max_files)
    if sum(item.size for item in items) > max_bytes:
        raise too_large(max_bytes)
    if not items:
        raise Invalid("None of these files holds a note: send recordings, .txt or .md files.", code="nothing_to_import")
    return Plan(items=items, skipped=skipped)


def read_entry(item: Pending) -> Iterator[bytes]:
    """The bytes of a pending file, in chunks; an unreadable zip entry is `invalid_zip` (400)."""
    try:
        with item.open() as handle:
            while chunk := handle.read(1024 * 1024):
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
        # zipfile stops at the declared size and checks the CRC: a header that lied ends here.
        raise Invalid(f"“{item.filename[:160]}” is damaged and cannot be unpacked.", code="invalid_zip") from exc


# Multipart framing (boundaries, part headers) on top of the files themselves.
_MULTIPART_SLACK = 64 * 1024


def limit_body(request: HttpRequest) -> uploads.SizeLimitUploadHandler | None:
    """Cap a multipart body at IMPORT_MAX_BYTES: refused at once when its declared length is over,
    and the upload stops as soon as it passes (call before anything reads the body)."""
    if not (request.content_type or "").startswith("multipart/"):
        return None
    limit = int(settings.IMPORT_MAX_BYTES)
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit + _MULTIPART_SLACK:
        raise too_large(limit)  # refused before reading the body
    handler = uploads.SizeLimitUploadHandler(request, limit=limit)
    request.upload_handlers.insert(0, handler)
    return handler


def request_files(
    *, read: Callable[[], list[UploadedFile]], handler: uploads.SizeLimitUploadHandler | None
) -> list[UploadedFile]:
    """The files of a multipart request, read by `read` (DRF's request.FILES or Django's), with
    Django's own limits and the body cap (limit_body) turned into our error codes."""
    try:
        files = read()
    except TooManyFilesSent as exc:
        raise too_many_files(int(settings.IMPORT_MAX_FILES)) from exc
    except (RequestDataTooBig, TooManyFieldsSent) as exc:
        raise too_large(int(settings.IMPORT_MAX_BYTES)) from exc
    if handler is not None and handler.exceeded:
        raise too_large(int(settings.IMPORT_MAX_BYTES))
    return files
