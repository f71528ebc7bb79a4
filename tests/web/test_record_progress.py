"""The record page's server side: the progress panel it polls, and the "save when I stop" setting."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from mindpost.accounts.models import User
from mindpost.notes.models import Note, NoteKind, NoteSettings, NoteStage, NoteStatus
from mindpost.notes.services import FAILURE_MESSAGES
from tests.factories import NoteFactory

pytestmark = pytest.mark.django_db


def _progress(web: Client, note: Note) -> Any:
    return web.get(reverse("web:record_progress", kwargs={"pk": note.pk}))


def test_a_processing_note_shows_its_stages_and_the_percent_but_no_text(web: Client, user: User) -> None:
    note = NoteFactory.create(
        user=user, kind=NoteKind.VOICE, status=NoteStatus.PROCESSING, text="Secret words.", transcription=""
    )
    Note.objects.filter(pk=note.pk).update(stage=NoteStage.TRANSCRIBING, progress=35)

    response = _progress(web, note)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-stage="transcribing"' in html
    assert 'data-status="processing"' in html
    assert "35 %" in html
    steps = [line.split('"')[1] for line in html.split("data-step=")[1:]]
    assert steps == ["uploaded", "transcribing", "indexing", "ready"]
    assert 'data-step="uploaded" data-state="done"' in html
    assert 'data-step="transcribing" data-state="current" aria-current="step"' in html
    assert "record-ready-transcript" not in html


def test_a_ready_note_shows_its_title_and_transcript(web: Client, user: User) -> None:
    note = NoteFactory.create(user=user, text="Buy tomatoes and basil. The pasta dinner is on Friday.")
    Note.objects.filter(pk=note.pk).update(stage=NoteStage.READY, progress=100)

    html = _progress(web, note).content.decode()

    assert 'data-status="ready"' in html
    assert 'id="record-ready-title">Buy tomatoes and basil</h3>' in html
    assert "The pasta dinner is on Friday." in html
    assert "transcribing" not in html  # a typed note has nothing to transcribe


def test_a_failed_note_marks_the_step_it_failed_in(web: Client, user: User) -> None:
    note = NoteFactory.create(user=user, kind=NoteKind.VOICE, status=NoteStatus.FAILED, failure_code="no_speech")
    Note.objects.filter(pk=note.pk).update(stage=NoteStage.TRANSCRIBING, progress=40)

    html = _progress(web, note).content.decode()

    assert 'data-step="transcribing" data-state="failed"' in html
    assert escape(FAILURE_MESSAGES["no_speech"]) in html


def test_another_users_note_is_not_found(web: Client, make_user: Callable[..., User]) -> None:
    other = NoteFactory.create(user=make_user("eve@example.com"), text="Eve's secret plan.")
    response = _progress(web, other)
    assert response.status_code == 404
    assert b"secret plan" not in response.content


def test_signed_out_is_sent_to_sign_in(user: User) -> None:
    note = NoteFactory.create(user=user)
    response = Client().get(reverse("web:record_progress", kwargs={"pk": note.pk}))
    assert response.status_code == 302


def test_save_when_i_stop_is_a_setting_the_record_page_reads(web: Client, user: User) -> None:
    page = web.get(reverse("web:record")).content.decode()
    assert 'data-save-on-stop="false"' in page
    settings_page = web.get(reverse("web:settings")).content.decode()
    assert 'name="save_on_stop"' in settings_page

    form = {"keep_audio": "1", "transcription_language": "", "save_on_stop": ["0", "1"]}
    assert web.post(reverse("web:settings_audio"), form).status_code == 200
    assert NoteSettings.objects.get(user=user).save_on_stop is True
    assert 'data-save-on-stop="true"' in web.get(reverse("web:record")).content.decode()

    # Unticked: only the hidden "0" is sent.
    web.post(reverse("web:settings_audio"), {**form, "save_on_stop": "0"})
    assert NoteSettings.objects.get(user=user).save_on_stop is False
    # A post without the field (an older form) leaves it alone.
    NoteSettings.objects.filter(user=user).update(save_on_stop=True)
    web.post(reverse("web:settings_audio"), {"keep_audio": "1", "transcription_language": ""})
    assert NoteSettings.objects.get(user=user).save_on_stop is True
