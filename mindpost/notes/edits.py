"""A user's edit of a note through PATCH /api/brain-dumps/{id}/ or the web: transcript, title, tags.

The flags title_edited / tags_edited mark what the user set by hand: enrichment and the
pipeline's re-tagging never overwrite those (tagging.note_apply_tags, enrich.py).
"""

from __future__ import annotations

from typing import Any

from mindpost.core.errors import Invalid
from mindpost.notes import services, tagging
from mindpost.notes.models import Note

MAX_TITLE_CHARS = 200

_NOT_GIVEN: Any = object()


def clean_title(title: Any) -> str:
    if not isinstance(title, str) or not " ".join(title.split()):
        raise Invalid("The title must not be empty.", code="empty_title", fields={"title": ["May not be blank."]})
    title = " ".join(title.split())  # one line: newlines and runs of spaces become one space
    if len(title) > MAX_TITLE_CHARS:
        raise Invalid(
            f"The title is longer than {MAX_TITLE_CHARS} characters.",
            code="title_too_long",
            fields={"title": [f"At most {MAX_TITLE_CHARS} characters."]},
        )
    return title


def note_update_title(*, note: Note, title: Any) -> Note:
    """Set the title by hand (title_edited=True: enrichment keeps it from now on)."""
    title = clean_title(title)
    if title == note.title and note.title_edited:
        return note
    note.title = title
    note.title_edited = True
    note.save(update_fields=["title", "title_edited", "updated_at"])
    return note


def note_edit(*, note: Note, transcription: Any = _NOT_GIVEN, title: Any = _NOT_GIVEN, tags: Any = _NOT_GIVEN) -> Note:
    """Apply the given parts; everything is checked before anything is written."""
    if transcription is _NOT_GIVEN and title is _NOT_GIVEN and tags is _NOT_GIVEN:
        raise Invalid(
            "Send transcription, title or tags.",
            code="invalid",
            fields={"transcription": ["This field is required."]},
        )
    if title is not _NOT_GIVEN:
        title = clean_title(title)
    if tags is not _NOT_GIVEN:
        tagging.user_tags(candidates=tags)  # 400 before the transcript is touched
    if transcription is not _NOT_GIVEN:
        note = services.note_update_transcription(note=note, transcription=transcription)
    if title is not _NOT_GIVEN:
        note = note_update_title(note=note, title=title)
    if tags is not _NOT_GIVEN:
        tagging.note_apply_tags(note=note, candidates=tags, source="user")
    return note
