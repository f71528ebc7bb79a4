"""Fill the tag vocabulary (UserTag) from the tags existing notes already have.

The historical models of this migration use the app's EncryptedTextField (migrations import
mindpost.core.fields), so `tags_data` and `UserTag.name` are read and written through the
same encryption as at run time. Existing tags are counted as they are, not rewritten: a
user's old tags stay theirs (rename/merge them from the web or POST /api/tags/rename/).
Runs on an empty database as a no-op; on a rerun it recounts (update_or_create).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from django.db import migrations


def backfill(apps: Any, schema_editor: Any) -> None:
    from mindpost.notes import blind_index

    note_model = apps.get_model("notes", "Note")
    usertag_model = apps.get_model("notes", "UserTag")
    counts: dict[Any, Counter[str]] = {}
    spellings: dict[tuple[Any, str], str] = {}
    # Newest first, so a tag's spelling is the one used most recently.
    notes = note_model.objects.order_by("-created_at").only("user_id", "tags_data", "tag_hashes")
    for note in notes.iterator(chunk_size=500):
        tags = json.loads(note.tags_data) if note.tags_data else []
        hashes = list(note.tag_hashes or [])
        if len(hashes) != len(tags):
            hashes = [blind_index.tag_hash(tag) for tag in tags]
        per_user = counts.setdefault(note.user_id, Counter())
        for tag_hash, tag in dict(zip(hashes, tags, strict=True)).items():
            per_user[tag_hash] += 1
            spellings.setdefault((note.user_id, tag_hash), tag)
    for user_id, per_user in counts.items():
        for tag_hash, count in per_user.items():
            usertag_model.objects.update_or_create(
                user_id=user_id,
                tag_hash=tag_hash,
                defaults={"name": spellings[(user_id, tag_hash)], "note_count": count},
            )


class Migration(migrations.Migration):
    # After 0005 (added in the same round by another change) so the graph has one leaf.
    dependencies = [
        ("notes", "0004_note_stage_progress"),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
