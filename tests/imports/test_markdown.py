"""Reading a text file as a note (mindpost/imports/markdown.py): front matter, tags, dates, and
MindPost's own export format."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from mindpost.imports import markdown

ATHENS = ZoneInfo("Europe/Athens")


def test_plain_text_has_no_title_tags_or_date() -> None:
    parsed = markdown.parse("Just a thought.\n", filename="a.txt", zone=ATHENS)
    assert (parsed.text, parsed.title, parsed.tags, parsed.created, parsed.note_id) == (
        "Just a thought.",
        "",
        [],
        None,
        "",
    )


def test_front_matter_tags_as_a_string_nested_and_inline() -> None:
    parsed = markdown.parse(
        "---\ntags: 'work, project/alpha  #Travel'\ncreated: 2025-01-02 03:04:05\n---\nBody #idea\n",
        filename="Note.md",
        zone=ATHENS,
    )
    assert parsed.tags == ["work", "project_alpha", "Travel", "idea"]
    assert parsed.title == "Note"
    assert parsed.created == datetime(2025, 1, 2, 3, 4, 5, tzinfo=ATHENS)  # naive: the user's zone


def test_broken_front_matter_is_kept_as_text() -> None:
    raw = "---\ntitle: [unclosed\n---\nBody\n"
    parsed = markdown.parse(raw, filename="x.md", zone=ATHENS)
    assert parsed.text == raw.strip()
    assert parsed.title == "x"


def test_an_exported_note_keeps_only_its_transcript() -> None:
    raw = (
        "---\ntitle: Boats\ndate: 2025-05-06\ncreated: '2025-05-06T10:08:09+03:00'\ntags:\n- travel\n"
        "kind: voice\nid: 0b3c5f1e-4c1a-4f7e-9a51-6f0d2b9c1e11\n---\n\n# Boats\n\n## Summary\n\nA summary.\n\n"
        "## Action items\n\n- [ ] Call Nikos\n\n## Transcript\n\nI met Nikos in Athens.\n"
    )
    parsed = markdown.parse(raw, filename="2025-05-06 boats 0b3c5f1e.md", zone=ATHENS)
    assert parsed.text == "I met Nikos in Athens."
    assert parsed.title == "Boats"
    assert parsed.created == datetime(2025, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert parsed.note_id == "0b3c5f1e-4c1a-4f7e-9a51-6f0d2b9c1e11"


def test_decode_refuses_binary_and_reads_utf16() -> None:
    assert markdown.decode("héllo".encode("utf-16")) == "héllo"
    assert markdown.decode(b"\xef\xbb\xbfbom") == "bom"
    assert markdown.decode(b"\x89PNG\r\n\x1a\n\x00\x00") is None
