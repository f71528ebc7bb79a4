"""Bulk import in the browser (issue 12, part 4): several files chosen — or dropped on the drop zone —
are uploaded in one form, the import's panel shows its progress (HTMX polling, on a real worker),
and the notes are listed. Works at 390 px; axe finds nothing serious. Screenshots:
docs/screenshots/import.png (1366 wide) and import-phone.png (390 wide)."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

from mindpost.imports.models import ImportBatch
from mindpost.notes.models import EnrichmentStatus, Note, NoteKind, NoteStatus
from tests.browser.conftest import SCREENSHOTS, _shrink_png, assert_axe_clean, assert_fits_phone

VAULT_NOTE = "---\ntitle: Kite festival\ndate: 2025-08-15\ntags: [kites, summer]\n---\nFly the red kite on the beach.\n"


def _vault() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("Vault/Kite festival.md", VAULT_NOTE)
        archive.writestr("Vault/.obsidian/app.json", "{}")
        archive.writestr("Vault/Garden.md", "Plant the tomatoes before the rain. #garden\n")
    return buffer.getvalue()


def shoot(tab: Any, name: str, *, width: int) -> None:
    page = tab.page
    page.set_viewport_size({"width": width, "height": 900 if width > 500 else 844})
    page.wait_for_timeout(200)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    _shrink_png(path)


def _done(tab: Any, batch: ImportBatch) -> None:
    tab.wait_until(f"() => document.querySelector('#import-{batch.pk}')?.dataset.importStatus === 'done'", timeout=120)


def _settle(user: Any, *, timeout: float = 180) -> None:
    """Wait until the worker is done with the imported notes (pipeline and enrichment): the database
    is emptied after the test, and a job still writing then can deadlock with the flush."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = (
            Note.objects.filter(user=user, status=NoteStatus.PROCESSING).exists()
            or Note.objects.filter(user=user, enrichment_status__in=[EnrichmentStatus.NONE, EnrichmentStatus.PENDING])
            .exclude(status=NoteStatus.FAILED)
            .exists()
        )
        running = ProcrastinateJob.objects.filter(status="doing").exclude(task_name__contains="sweep").exists()
        if not busy and not running:
            return
        time.sleep(0.5)


def test_choose_several_files_watch_the_progress_and_find_the_notes(alice: Any, speech_wav: Path) -> None:
    page = alice.page
    alice.goto("/record/")
    page.locator("#import-link").click()
    page.wait_for_url("**/import/")
    page.set_input_files(
        "#import-files",
        files=[
            {"name": "Harbour memo.wav", "mimeType": "audio/wav", "buffer": speech_wav.read_bytes()},
            {"name": "shopping.txt", "mimeType": "text/plain", "buffer": b"Buy basil and tomatoes for Friday."},
            {"name": "Vault.zip", "mimeType": "application/zip", "buffer": _vault()},
        ],
    )
    assert "3 files" in page.locator("#import-chosen").inner_text()
    page.get_by_role("button", name="Import").click()
    page.wait_for_url("**/import/#import-*")
    batch = ImportBatch.objects.get(user=alice.user)
    assert batch.total == 4  # the recording, the text file and the vault's two notes
    _done(alice, batch)  # the panel polled until the worker finished
    panel = page.locator(f"#import-{batch.pk}")
    assert "4 of 4 handled" in " ".join(panel.inner_text().split())
    assert "1 other file left out" in panel.inner_text()

    panel.locator("details").evaluate("el => { el.open = true; }")  # the files, for the screenshot
    assert_axe_clean(alice, "import page")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shoot(alice, "import.png", width=1366)
    shoot(alice, "import-phone.png", width=390)
    assert_fits_phone(alice)
    page.set_viewport_size({"width": 1280, "height": 800})

    panel.get_by_role("link", name="See your notes").click()
    page.wait_for_url("**/notes/")
    listing = page.locator("main").inner_text()
    for title in ("Kite festival", "Garden", "Buy basil and tomatoes for Friday"):
        assert title in listing, listing
    notes = Note.objects.filter(user=alice.user)
    assert notes.count() == 4
    assert notes.filter(kind=NoteKind.VOICE).count() == 1
    kite = next(note for note in notes if note.title == "Kite festival")
    assert kite.tags == ["kites", "summer"]
    assert kite.created_at.date().isoformat() == "2025-08-15"
    alice.assert_clean()
    _settle(alice.user)


DROP = """() => {
    const data = new DataTransfer();
    data.items.add(new File(["Dropped: call the sailmaker on Monday."], "sailmaker.md", {type: "text/markdown"}));
    data.items.add(new File(["Dropped: the harbour festival is in June."], "festival.txt", {type: "text/plain"}));
    const zone = document.getElementById("import-drop");
    zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true, cancelable: true}));
    zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
    return true;
}"""


def test_dropping_files_on_the_drop_zone_imports_them(alice: Any) -> None:
    page = alice.page
    alice.goto("/import/")
    with page.expect_navigation():
        page.evaluate(DROP)  # the script puts the dropped files into the form and submits it
    batch = ImportBatch.objects.get(user=alice.user)
    _done(alice, batch)
    assert batch.items.count() == 2
    titles = {note.title for note in Note.objects.filter(user=alice.user)}
    assert len(titles) == 2, titles
    assert "sailmaker" in titles  # a .md file's title is its name
    alice.assert_clean()
    _settle(alice.user)
