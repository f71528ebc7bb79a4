"""Reading a text or Markdown file as a note: its text, title, tags and date.

Understands YAML front matter as Obsidian and MindPost's own Markdown export write it
(mindpost/notes/export_markdown.py): `title`, `date` / `created`, `tags` (a list, or a string of
tags separated by commas or spaces), and for MindPost's export `id` and `kind`, whose body is the
note's title, summary, to-dos and transcript: only the transcript is the note (the rest is made
again by enrichment), so an exported account imports back as the same notes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import PurePosixPath
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from mindpost.notes.tags import MAX_TAG_CHARS, MAX_TAGS, is_valid_tag, same_tag, written_hashtags

MAX_FRONT_MATTER_CHARS = 64 * 1024
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_TRANSCRIPT = re.compile(r"^## Transcript[ \t]*$", re.MULTILINE)
_NO_TRANSCRIPT = "_(no transcript)_"
# Obsidian's nested tags (#project/alpha) and kebab-case become one valid tag (project_alpha).
_TAG_JOINERS = re.compile(r"[/\-\s.]+")


@dataclass
class ParsedText:
    text: str
    title: str = ""
    tags: list[str] = field(default_factory=list)  # front matter and written hashtags; [] = none given
    created: datetime | None = None
    note_id: str = ""  # the `id` of a MindPost export: the note it was exported from


def decode(data: bytes) -> str | None:
    """UTF-8 (with or without BOM), else UTF-16 with a BOM; None for anything else (binary)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return None if "\x00" in text else text


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if match is None or len(match.group(1)) > MAX_FRONT_MATTER_CHARS:
        return {}, text
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, text  # not front matter after all: keep the file as it is
    if not isinstance(data, dict):
        return {}, text
    return data, text[match.end() :]


def clean_tag(raw: str) -> str | None:
    tag = _TAG_JOINERS.sub("_", unicodedata.normalize("NFC", raw.strip().lstrip("#"))).strip("_")
    tag = tag[:MAX_TAG_CHARS]
    return tag if tag and is_valid_tag(tag) else None


def _tag_values(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value) if part]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _merge_tags(candidates: list[str]) -> list[str]:
    out: list[str] = []
    for raw in candidates:
        tag = clean_tag(raw)
        if tag and not any(same_tag(tag, seen) for seen in out):
            out.append(tag)
    return out[:MAX_TAGS]


def _when(value: Any, *, zone: ZoneInfo) -> datetime | None:
    """A front matter date: a datetime (naive = the user's zone) or a date (noon, the user's zone)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            try:
                value = date.fromisoformat(value.strip()[:10])
            except ValueError:
                return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    if isinstance(value, date):
        # Noon, not midnight: a date stays the same date in any neighbouring time zone.
        return datetime.combine(value, time(12, 0), tzinfo=zone)
    return None


def parse(raw: str, *, filename: str, zone: ZoneInfo) -> ParsedText:
    data, body = _front_matter(raw.replace("\r\n", "\n"))
    is_export = bool(data.get("id")) and data.get("kind") in ("voice", "text")
    if is_export:
        match = _TRANSCRIPT.search(body)
        if match is not None:
            body = body[match.end() :]
        body = body.strip()
        if body == _NO_TRANSCRIPT:
            body = ""
    text = body.strip()
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        # Obsidian's title is the file name; a .txt file gets a title from its first words.
        path = PurePosixPath(filename)
        title = path.stem if path.suffix.lower() in (".md", ".markdown") else ""
    tags = _merge_tags(_tag_values(data.get("tags")) + _tag_values(data.get("tag")))
    if tags:
        # Front matter tags replace the automatic ones, so the text's own hashtags go with them.
        tags = _merge_tags(tags + written_hashtags(text))
    created = _when(data.get("created"), zone=zone) or _when(data.get("date"), zone=zone)
    return ParsedText(
        text=text,
        title=" ".join(title.split())[:200],
        tags=tags,
        created=created,
        note_id=str(data.get("id") or "") if is_export else "",
    )
