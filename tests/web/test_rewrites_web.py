"""The web side of rewrites: the note page's Rewrite panel (HTMX), a version's row, delete, the
own-styles editor in settings, and other users' notes and versions answering 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from mindpost.notes import rewrites, tasks
from mindpost.notes.models import NoteStatus, NoteVersion, RewriteStatus
from tests.factories import NoteFactory

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture
def note(user: Any) -> Any:
    return NoteFactory.create(user=user, text="I met Stavros at the harbour in Nafplio.")


def test_note_page_includes_the_rewrite_section(web: Client, note: Any) -> None:
    page = web.get(f"/notes/{note.pk}/").content.decode()
    assert 'id="rewrites"' in page
    assert f'hx-get="/notes/{note.pk}/rewrites/"' in page


def test_panel_lists_built_in_and_own_styles(web: Client, user: Any, note: Any) -> None:
    rewrites.custom_styles_set(user=user, styles=[{"name": "Pirate", "instructions": "Arr."}])
    panel = web.get(f"/notes/{note.pk}/rewrites/", headers=HX).content.decode()
    for style in rewrites.STYLES:
        assert f'<option value="{style.key}">{style.label}</option>' in panel
    assert '<optgroup label="Your styles"><option value="custom:Pirate">Pirate</option>' in panel
    assert "No rewrites yet." in panel


def test_panel_of_a_processing_note_polls_until_ready(web: Client, user: Any) -> None:
    processing = NoteFactory.create(user=user, text="Soon.", status=NoteStatus.PROCESSING)
    panel = web.get(f"/notes/{processing.pk}/rewrites/", headers=HX).content.decode()
    assert 'hx-trigger="every 3s"' in panel
    assert "<select" not in panel


def test_rewrite_adds_a_pending_version_that_polls_then_shows_the_body(
    web: Client, note: Any, openai_backends: Any
) -> None:
    openai_backends.chat_reply = "Subject: Stavros\n\nI met Stavros in Nafplio."
    response = web.post(f"/notes/{note.pk}/rewrite/", {"style": "email"}, headers=HX)
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#rewrite-versions"
    html = response.content.decode()
    version = NoteVersion.objects.get(note=note)
    assert f'hx-get="/notes/{note.pk}/versions/{version.pk}/"' in html
    assert "Writing…" in html

    tasks.rewrite_note(version_id=str(version.pk))
    row = web.get(f"/notes/{note.pk}/versions/{version.pk}/", headers=HX).content.decode()
    assert "hx-trigger" not in row  # done: no more polling
    assert "Subject: Stavros" in row
    assert f'data-copy="version-body-{version.pk}"' in row

    deleted = web.post(f"/notes/{note.pk}/versions/{version.pk}/delete/", headers=HX)
    assert deleted.status_code == 200
    assert deleted.content == b""
    assert not NoteVersion.objects.filter(pk=version.pk).exists()


def test_unknown_style_shows_a_message_in_place(web: Client, note: Any) -> None:
    response = web.post(f"/notes/{note.pk}/rewrite/", {"style": "sonnet"}, headers=HX)
    assert response.status_code == 400
    assert 'data-code="unknown_style"' in response.content.decode()
    assert "HX-Retarget" not in response


def test_failed_version_says_why(web: Client, note: Any, openai_backends: Any) -> None:
    openai_backends.fail("/v1/chat/completions", status=503)
    web.post(f"/notes/{note.pk}/rewrite/", {"style": "summary"}, headers=HX)
    version = NoteVersion.objects.get(note=note)
    tasks.rewrite_note(version_id=str(version.pk))
    assert NoteVersion.objects.get(pk=version.pk).status == RewriteStatus.FAILED
    row = web.get(f"/notes/{note.pk}/versions/{version.pk}/", headers=HX).content.decode()
    assert "Failed" in row
    assert rewrites.FAILURE_MESSAGES["model_unavailable"] in row


def test_another_users_note_and_version_are_404(web: Client, note: Any, make_user: Any) -> None:
    bob = make_user("bob@example.com")
    bobs_note = NoteFactory.create(user=bob, text="Private.")
    bobs_version = NoteVersion.objects.create(user=bob, note=bobs_note, style="summary")
    assert web.get(f"/notes/{bobs_note.pk}/rewrites/", headers=HX).status_code == 404
    assert web.post(f"/notes/{bobs_note.pk}/rewrite/", {"style": "summary"}, headers=HX).status_code == 404
    assert web.get(f"/notes/{bobs_note.pk}/versions/{bobs_version.pk}/", headers=HX).status_code == 404
    assert web.get(f"/notes/{note.pk}/versions/{bobs_version.pk}/", headers=HX).status_code == 404
    assert web.post(f"/notes/{note.pk}/versions/{bobs_version.pk}/delete/", headers=HX).status_code == 404
    assert NoteVersion.objects.filter(pk=bobs_version.pk).exists()


def test_settings_styles_editor_saves_drops_empty_rows_and_validates(web: Client, user: Any) -> None:
    page = web.get("/settings/").content.decode()
    assert 'id="rewrite-styles"' in page
    assert 'name="style_name"' in page
    response = web.post(
        "/settings/rewrite-styles/",
        {"style_name": ["Pirate", ""], "style_instructions": ["Talk like a pirate.", ""]},
        headers=HX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#rewrite-styles-panel"
    assert rewrites.custom_styles(user=user) == [{"name": "Pirate", "instructions": "Talk like a pirate."}]
    assert 'value="Pirate"' in response.content.decode()

    too_long = web.post(
        "/settings/rewrite-styles/", {"style_name": ["N" * 41], "style_instructions": ["x"]}, headers=HX
    )
    assert too_long.status_code == 400
    assert 'data-code="style_name_too_long"' in too_long.content.decode()
    assert rewrites.custom_styles(user=user) == [{"name": "Pirate", "instructions": "Talk like a pirate."}]
