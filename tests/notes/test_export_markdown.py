"""GET /api/me/export/?format=markdown: a streamed zip with one Markdown file per note, YAML
front matter that parses (odd titles included), the summary, to-dos and transcript, safe and
unique file names, only the caller's notes, and memory that does not grow with the account."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
import yaml
from rest_framework.test import APIClient

from mindpost.notes import export_markdown
from mindpost.notes.models import ActionItem, Note
from tests.conftest import bearer
from tests.factories import PASSWORD, NoteFactory

pytestmark = pytest.mark.django_db

URL = "/api/me/export/?format=markdown"

ODD_TITLES = [
    'Key: value with a "quote" and a colon: here',
    "- starts like a list item",
    "# looks like a heading / with slashes \\ and | pipes",
    "yes",  # YAML 1.1 would read this as a boolean
    "2024-01-05",  # ... and this as a date
    "Ünïcödé — 東京 🚀 [[wiki]] ^block",
    "line one\nline two",
    "",
]


def read_zip(response: Any) -> zipfile.ZipFile:
    content = b"".join(response.streaming_content)
    return zipfile.ZipFile(io.BytesIO(content))


def split(markdown: str) -> tuple[dict[str, Any], str]:
    assert markdown.startswith("---\n")
    head, body = markdown[4:].split("\n---\n", 1)
    return yaml.safe_load(head), body


def test_one_markdown_file_per_note_with_front_matter_summary_todos_and_transcript(
    auth_api: APIClient, user: Any
) -> None:
    user.timezone = "Europe/Athens"
    user.save(update_fields=["timezone"])
    note = NoteFactory.create(
        user=user,
        text="I met Stavros at the harbour in Nafplio. Call him next week.",
        tags=["travel", "Richard Powers", "2024"],
        created_at=datetime(2026, 11, 20, 23, 30, tzinfo=UTC),  # already the 21st in Athens
    )
    Note.objects.filter(pk=note.pk).update(
        title="Meeting Stavros in Nafplio",
        summary="I met Stavros, a net mender, in Nafplio.",
        key_points_data='["Stavros mends nets", "Call him"]',
        language="en",
        duration_seconds=83.4,
    )
    ActionItem.objects.create(user=user, note=note, position=0, text="Call Stavros", due_date=date(2026, 11, 27))
    ActionItem.objects.create(user=user, note=note, position=1, text="Buy\nnets", done=True)

    response = auth_api.get(URL)
    assert response.status_code == 200
    assert response.streaming  # streamed, not built whole
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    archive = read_zip(response)
    assert archive.testzip() is None
    names = archive.namelist()
    assert names == [f"MindPost/2026-11-21 meeting-stavros-in-nafplio {note.pk.hex[:8]}.md"]

    meta, body = split(archive.read(names[0]).decode())
    assert meta == {
        "title": "Meeting Stavros in Nafplio",
        "date": date(2026, 11, 21),
        "created": "2026-11-21T01:30:00+02:00",
        "tags": ["travel", "Richard-Powers"],  # Obsidian tags: no spaces, not only digits
        "duration": 83,
        "language": "en",
        "kind": "text",
        "id": str(note.pk),
    }
    assert "# Meeting Stavros in Nafplio" in body
    assert "## Summary\n\nI met Stavros, a net mender, in Nafplio.\n" in body
    assert "- Stavros mends nets\n" in body
    assert "## Action items\n\n- [ ] Call Stavros (due 2026-11-27)\n- [x] Buy nets\n" in body
    assert body.rstrip().endswith("## Transcript\n\nI met Stavros at the harbour in Nafplio. Call him next week.")
    assert body.index("## Summary") < body.index("## Action items") < body.index("## Transcript")


def test_odd_titles_stay_valid_yaml_and_file_names_are_safe_and_unique(auth_api: APIClient, user: Any) -> None:
    created = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    notes = []
    for title in ODD_TITLES:
        note = NoteFactory.create(user=user, text="Same day.", created_at=created)
        Note.objects.filter(pk=note.pk).update(title=title)
        notes.append(note)
    # Two notes with the same title on the same day still get two files.
    twin = NoteFactory.create(user=user, text="Same day.", created_at=created)
    Note.objects.filter(pk=twin.pk).update(title=ODD_TITLES[0])

    archive = read_zip(auth_api.get(URL))
    names = archive.namelist()
    assert len(names) == len(set(names)) == len(ODD_TITLES) + 1
    for name in names:
        assert name.startswith("MindPost/2026-03-01 ")
        assert name.endswith(".md")
        stem = name.removeprefix("MindPost/")
        # Nothing Obsidian or a file system refuses in a name.
        assert not set(stem) & set('\\/:*?"<>|#^[]\n'), stem
    titles = {split(archive.read(name).decode())[0]["title"] for name in names}
    assert titles == {t or "Untitled note" for t in ODD_TITLES}
    for name in names:
        meta, _ = split(archive.read(name).decode())
        assert isinstance(meta["title"], str)  # "yes" and "2024-01-05" stay strings
        assert isinstance(meta["date"], date)


def test_only_the_callers_notes(auth_api: APIClient, user: Any, make_user: Any) -> None:
    mine = NoteFactory.create(user=user, text="Mine.")
    bob = make_user("bob@example.com")
    NoteFactory.create(user=bob, text="Bob's secret.")
    archive = read_zip(auth_api.get(URL))
    assert [n.rsplit(" ", 1)[1] for n in archive.namelist()] == [f"{mine.pk.hex[:8]}.md"]
    assert b"Bob's secret." not in b"".join(archive.read(n) for n in archive.namelist())


def test_an_account_with_no_notes_gets_an_empty_zip(auth_api: APIClient) -> None:
    archive = read_zip(auth_api.get(URL))
    assert archive.namelist() == []


def test_unknown_format_is_400_and_the_default_export_is_unchanged(auth_api: APIClient, user: Any) -> None:
    NoteFactory.create(user=user, text="Mine.")
    response = auth_api.get("/api/me/export/?format=docx")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_format"
    default = auth_api.get("/api/me/export/")
    assert default.status_code == 200
    names = read_zip(default).namelist()
    assert "notes.json" in names
    assert "manifest.json" in names
    assert auth_api.get("/api/me/export/?format=json").status_code == 200


def test_signed_out_is_401(api: APIClient) -> None:
    assert api.get(URL).status_code == 401


def test_pages_through_notes_and_memory_does_not_grow_with_the_account(
    user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generator reads PAGE_SIZE notes per query and hands out bytes per page: peak memory
    for 4x the notes stays close to that for 1x (the zip's central directory grows, ~100 B/file)."""
    monkeypatch.setattr(export_markdown, "PAGE_SIZE", 20)
    transcript = "Words of a long note. " * 200  # ~4 kB each

    def peak_for(count: int) -> tuple[int, int]:
        Note.objects.filter(user=user).delete()
        Note.objects.bulk_create([Note(user=user, status="ready", transcription=transcript) for _ in range(count)])
        tracemalloc.start()
        chunks = 0
        total = 0
        for chunk in export_markdown.stream_zip(user):
            chunks += 1
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert total > 0
        return peak, chunks

    small_peak, small_chunks = peak_for(40)
    big_peak, big_chunks = peak_for(160)
    assert big_chunks > small_chunks >= 2  # bytes leave page by page
    # 120 more notes of ~4 kB would add ~500 kB if they were held; allow the central directory.
    assert big_peak < small_peak + 120 * 1024


@pytest.mark.django_db(transaction=True)
def test_streamed_over_real_http_under_asgi(live_server_url: str, make_user: Any) -> None:
    owner = make_user("stream@example.com")
    for i in range(5):
        NoteFactory.create(user=owner, text=f"Streamed note number {i}.")
    token = bearer(APIClient(), email="stream@example.com", password=PASSWORD)
    with httpx.stream(
        "GET", f"{live_server_url}{URL}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        assert "content-length" not in response.headers  # streamed: the size is not known up front
        content = b"".join(response.iter_bytes())
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None
    assert len(archive.namelist()) == 5
    for name in archive.namelist():
        meta, body = split(archive.read(name).decode())
        assert meta["title"].startswith("Streamed note number")
        assert "## Transcript" in body
