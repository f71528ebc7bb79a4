"""The Import page (mindpost/web/views/imports.py): a plain multipart form that works without
JavaScript, per-batch progress panels that poll while running and stop when done."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from mindpost.accounts.models import User
from mindpost.imports.models import ImportBatch
from mindpost.notes.models import Note, NoteStatus
from tests.imports.conftest import make_zip, tone_wav


def test_the_page_is_a_multipart_form(web: Client) -> None:
    response = web.get("/import/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert 'name="files" multiple' in html
    assert "web/imports" in html  # the drop zone's script
    assert "/import/" in web.get("/record/").content.decode()  # linked from the record page


def test_posting_files_imports_them_and_redirects_to_the_progress(
    web: Client, user: User, run_job: Callable[[str], None]
) -> None:
    files = [
        SimpleUploadedFile("memo.wav", tone_wav(440)),
        SimpleUploadedFile("idea.md", b"# Idea\nA boat made of cork."),
        SimpleUploadedFile("vault.zip", make_zip({"a.md": "From the vault."})),
    ]
    response = web.post("/import/", {"files": files})
    assert response.status_code == 302
    batch = ImportBatch.objects.get(user=user)
    assert response["Location"] == f"/import/#import-{batch.pk}"
    page = web.get("/import/").content.decode()
    assert f'id="import-{batch.pk}"' in page
    assert 'hx-trigger="every 1s"' in page  # waiting: the panel polls
    assert "vault.zip/a.md" in page

    run_job(str(batch.pk))
    panel = web.get(f"/import/{batch.pk}/progress/").content.decode()
    assert 'data-import-status="done"' in panel
    assert "Transcribing" in panel  # the recording's note is in the pipeline now
    assert 'hx-trigger="every 1s"' in panel  # so the panel still polls
    Note.objects.filter(user=user).update(status=NoteStatus.READY)
    panel = web.get(f"/import/{batch.pk}/progress/").content.decode()
    assert "hx-trigger" not in panel  # all done: polling stops
    assert "3 of 3 handled: 3 new" in " ".join(re.sub(r"<[^>]+>", "", panel).split())
    assert "See your notes" in panel


def test_refused_files_show_the_reason_on_the_page(web: Client, settings: Any) -> None:
    response = web.post("/import/", {"files": [SimpleUploadedFile("scan.pdf", b"%PDF-1.7")]})
    assert response.status_code == 415
    assert 'data-code="unsupported_file_type"' in response.content.decode()
    response = web.post("/import/", {"files": [SimpleUploadedFile("v.zip", make_zip({"../x.md": "x"}))]})
    assert response.status_code == 400
    assert 'data-code="unsafe_zip_path"' in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_another_users_progress_is_404_and_the_page_needs_a_sign_in(
    web: Client, make_user: Callable[..., User]
) -> None:
    other = make_user("eve@example.com")
    theirs = ImportBatch.objects.create(user=other, total=1)
    assert web.get(f"/import/{theirs.pk}/progress/").status_code == 404
    assert f"import-{theirs.pk}" not in web.get("/import/").content.decode()
    anonymous = Client().get("/import/")
    assert anonymous.status_code == 302
    assert "/login" in anonymous["Location"]


def test_the_form_is_csrf_protected(user: User) -> None:
    # The view is csrf_exempt outside (its upload handler must come before the body is read) and
    # csrf_protect inside: the check still happens.
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    page = client.get("/import/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert token is not None
    files = {"files": [SimpleUploadedFile("a.txt", b"A note.")]}
    assert client.post("/import/", files).status_code == 403
    assert not ImportBatch.objects.exists()
    assert client.post("/import/", {**files, "csrfmiddlewaretoken": token.group(1)}).status_code == 302
    assert ImportBatch.objects.filter(user=user).count() == 1
