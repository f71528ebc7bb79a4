from __future__ import annotations

import pytest
from django.test import Client

from mindpost.notes.models import Note, NoteSettings

pytestmark = pytest.mark.django_db


def test_admin_lists_and_shows_notes(make_user) -> None:
    owner = make_user("owner@example.com")
    note = Note.objects.create(user=owner, kind="text", status="ready", transcription="Met Nikos in Athens")
    NoteSettings.objects.create(user=owner, keep_audio=False)
    staff = make_user("staff@example.com", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/notes/note/?status__exact=ready&q=owner@example.com")
    assert listing.status_code == 200
    assert str(note.id).encode() in listing.content
    detail = client.get(f"/admin/notes/note/{note.id}/change/")
    assert detail.status_code == 200
    assert b"Met Nikos in Athens" in detail.content  # read-only, for support
    assert client.get("/admin/notes/notesettings/").status_code == 200
    assert client.get("/admin/notes/note/add/").status_code == 403
