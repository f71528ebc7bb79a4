"""Writing a note's tags and keeping the user's tag vocabulary (UserTag) in step.

Every writer of Note.tags goes through note_apply_tags: the pipeline's frequency tags
(source="auto"), the enrichment job's model tags ("enrichment") and the user's own edit
("user"). Cleaning rules live in tags.py; this module adds the database side:

- the user's vocabulary decides the spelling of a tag that means the same (tags.same_tag);
- a tag list the user set by hand (tags_edited) is never replaced by a machine;
- UserTag.note_count is recounted from Note.tag_hashes for every tag that changed, so the
  counts cannot drift, and a tag no note uses any more leaves the vocabulary.

Concurrency: vocabulary writes of one user are serialised by a transaction-scoped advisory
lock taken *before* any note row lock (rename updates many notes under the same lock). Call
these functions without holding a note's row lock, or a concurrent rename may deadlock with
you (PostgreSQL then aborts one of the two, and a job retries).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from django.db import connection, transaction

from mindpost.core.errors import Invalid, NotFound
from mindpost.notes import blind_index
from mindpost.notes.models import Note, UserTag
from mindpost.notes.tags import MAX_TAG_CHARS, MAX_TAGS, clean_tags, is_valid_tag, same_tag

TagSource = Literal["auto", "enrichment", "user"]
UserId = uuid.UUID | str

# Spelling matches are made against the most used tags; a vocabulary beyond this is rare and
# would only cost decrypting more rows per note.
_VOCABULARY_LIMIT = 2000


def lock_vocabulary(*, user_id: UserId) -> None:
    """Serialise tag writes of one user until the end of the current transaction."""
    digest = hashlib.blake2b(f"mindpost-tags:{user_id}".encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def vocabulary(*, user_id: UserId) -> list[str]:
    """The user's tag spellings, most used first."""
    rows = UserTag.objects.filter(user_id=user_id).order_by("-note_count", "tag_hash").only("name")
    return [row.name for row in rows[:_VOCABULARY_LIMIT]]


def user_tags(*, candidates: object, vocabulary: Iterable[str] = ()) -> list[str]:
    """The tags a user typed, checked (Invalid with a `code` on bad input), without repeats and
    in the vocabulary's spelling when one means the same. No topic filtering: the user decides."""
    if not isinstance(candidates, list) or not all(isinstance(tag, str) for tag in candidates):
        raise Invalid("Tags must be a list of strings.", code="invalid_tags", fields={"tags": ["Expected a list."]})
    known = list(vocabulary)
    out: list[str] = []
    for raw in candidates:
        tag = raw.strip().removeprefix("#")
        if not tag:
            continue
        if not is_valid_tag(tag):
            raise Invalid(
                f"'{raw[:60]}' is not a valid tag: use letters, digits and _ only (no spaces), "
                f"at most {MAX_TAG_CHARS} characters, with at least one letter.",
                code="invalid_tag",
                fields={"tags": [f"Invalid tag: {raw[:60]}"]},
            )
        if any(same_tag(tag, existing) for existing in out):
            continue
        out.append(next((spelling for spelling in known if same_tag(spelling, tag)), tag))
    if len(out) > MAX_TAGS:
        raise Invalid(
            f"A note has at most {MAX_TAGS} tags.", code="too_many_tags", fields={"tags": [f"At most {MAX_TAGS}."]}
        )
    return out


def vocabulary_recount(*, user_id: UserId, hashes: Iterable[str], names: dict[str, str] | None = None) -> None:
    """Set note_count of these tags from the notes themselves; create missing rows (spelled as
    in `names`) and delete rows no note uses any more. Call under lock_vocabulary."""
    names = names or {}
    for tag_hash in sorted(set(hashes)):
        count = Note.objects.filter(user_id=user_id, tag_hashes__contains=[tag_hash]).count()
        row = UserTag.objects.filter(user_id=user_id, tag_hash=tag_hash).first()
        if count == 0:
            if row is not None:
                row.delete()
        elif row is None:
            if tag_hash in names:
                UserTag.objects.create(user_id=user_id, tag_hash=tag_hash, name=names[tag_hash], note_count=count)
        elif row.note_count != count:
            row.note_count = count
            row.save(update_fields=["note_count", "updated_at"])


def note_apply_tags(*, note: Note, candidates: list[str], source: TagSource) -> list[str]:
    """Clean `candidates` and make them the note's tags; returns the tags the note now has.

    "auto"/"enrichment": the note's own hashtags first (they always win), then the candidates
    that are topics (no stopwords, verbs, adjectives or possessives; names whole), at most 5,
    each in the user's existing spelling. Refused (the current tags are returned, nothing is
    written) when the user edited the tags by hand. "user": the list as typed, checked
    (Invalid on bad input), and the note is marked tags_edited.
    """
    with transaction.atomic():
        lock_vocabulary(user_id=note.user_id)
        locked = Note.objects.select_for_update().filter(pk=note.pk).first()
        if locked is None:
            return []  # deleted meanwhile
        if source != "user" and locked.tags_edited:
            note.tags_data, note.tag_hashes, note.tags_edited = locked.tags_data, locked.tag_hashes, True
            return locked.tags
        known = vocabulary(user_id=note.user_id)
        if source == "user":
            tags = user_tags(candidates=candidates, vocabulary=known)
        else:
            tags = clean_tags(
                candidates=[str(c) for c in candidates if isinstance(c, str)],
                text=locked.transcription,
                language=locked.language,
                vocabulary=known,
            )
        hashes = [blind_index.tag_hash(tag) for tag in tags]
        old_hashes = list(locked.tag_hashes)
        note.tags = tags
        note.tag_hashes = hashes
        fields = ["tags_data", "tag_hashes", "updated_at"]
        if source == "user" and not note.tags_edited:
            note.tags_edited = True
            fields.append("tags_edited")
        locked.tags_data, locked.tag_hashes, locked.tags_edited = note.tags_data, note.tag_hashes, note.tags_edited
        locked.save(update_fields=fields)
        note.updated_at = locked.updated_at
        changed = set(old_hashes) ^ set(hashes)
        vocabulary_recount(user_id=note.user_id, hashes=changed, names=dict(zip(hashes, tags, strict=True)))
    return tags


def note_tags_forget(*, user_id: UserId, hashes: Iterable[str]) -> None:
    """After a note was deleted: recount the tags it had (call in the delete's transaction,
    after lock_vocabulary and the delete)."""
    vocabulary_recount(user_id=user_id, hashes=hashes)


# --- The vocabulary: list, rename, merge ------------------------------------------------------


@dataclass(frozen=True)
class TagCount:
    name: str
    count: int


def tag_list(*, user_id: UserId, limit: int = _VOCABULARY_LIMIT) -> list[TagCount]:
    """The user's tags, most used first (the filter bar's and GET /api/tags/ order)."""
    rows = UserTag.objects.filter(user_id=user_id, note_count__gt=0).order_by("-note_count", "tag_hash")
    return [TagCount(name=row.name, count=row.note_count) for row in rows.only("name", "note_count")[:limit]]


@dataclass(frozen=True)
class RenameResult:
    name: str
    count: int  # notes that have the tag now
    changed: int  # notes whose tags were rewritten
    merged: bool  # "to" was already one of the user's tags


def tag_rename(*, user_id: UserId, from_tag: object, to_tag: object) -> RenameResult:
    """Rename a tag on all the user's notes, in one transaction; when `to_tag` is already a tag
    of the user the two merge (a note that had both keeps one). Renaming to the same tag in
    another case or accent ("travel" -> "Travel") respells it everywhere."""
    if not isinstance(from_tag, str) or not from_tag.strip().removeprefix("#").strip():
        raise Invalid("Name the tag to rename.", code="invalid_tag", fields={"from": ["May not be blank."]})
    checked = user_tags(candidates=[to_tag]) if isinstance(to_tag, str) else []  # "#" alone checks as []
    if not checked:
        raise Invalid("Name the new tag.", code="invalid_tag", fields={"to": ["May not be blank."]})
    to_name = checked[0]
    from_hash = blind_index.tag_hash(from_tag.strip().removeprefix("#"))
    to_hash = blind_index.tag_hash(to_name)
    with transaction.atomic():
        lock_vocabulary(user_id=user_id)
        notes = list(
            Note.objects.select_for_update()
            .filter(user_id=user_id, tag_hashes__overlap=[from_hash, to_hash])
            .order_by("pk")
            .only("id", "tags_data", "tag_hashes")
        )
        if not any(from_hash in note.tag_hashes for note in notes):
            raise NotFound("You have no notes with this tag.", code="tag_not_found")
        merged = from_hash != to_hash and any(to_hash in note.tag_hashes for note in notes)
        changed: list[Note] = []
        for note in notes:
            tags: list[str] = []
            for tag in note.tags:
                if blind_index.tag_hash(tag) in (from_hash, to_hash):
                    tag = to_name
                if tag not in tags:
                    tags.append(tag)
            if tags != note.tags:
                note.tags = tags
                note.tag_hashes = [blind_index.tag_hash(tag) for tag in tags]
                changed.append(note)
        Note.objects.bulk_update(changed, ["tags_data", "tag_hashes"])
        vocabulary_recount(user_id=user_id, hashes={from_hash, to_hash}, names={to_hash: to_name})
        row = UserTag.objects.get(user_id=user_id, tag_hash=to_hash)
        if row.name != to_name:
            row.name = to_name
            row.save(update_fields=["name", "updated_at"])
    return RenameResult(name=to_name, count=row.note_count, changed=len(changed), merged=merged)
