"""The notes part of the account export (audio files are added by the account export itself)."""

from __future__ import annotations

from typing import Any

from mindpost.accounts.models import User
from mindpost.notes.models import Note, NoteSettings


def export_notes(user: User) -> dict[str, Any]:
    note_settings = NoteSettings.objects.filter(user=user).first()
    notes = []
    for note in Note.objects.filter(user=user).order_by("created_at").iterator(chunk_size=200):
        notes.append(
            {
                "id": str(note.id),
                "kind": note.kind,
                "created_at": note.created_at.isoformat(),
                "updated_at": note.updated_at.isoformat(),
                "status": note.status,
                "failure_code": note.failure_code or None,
                "title": note.title,
                "transcription": note.transcription,
                "edited": note.edited,
                "language": note.language or None,
                "duration_seconds": note.duration_seconds,
                "tags": note.tags,
                "segments": note.segments,
                "audio_file": note.audio or None,
                "audio_format": note.audio_format or None,
            }
        )
    return {
        "settings": {
            "keep_audio": note_settings.keep_audio if note_settings else True,
            "transcription_language": (note_settings.transcription_language or None) if note_settings else None,
        },
        "notes": notes,
    }
