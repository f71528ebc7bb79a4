"""Similar notes: a user's notes nearest in meaning to one of theirs (selector).

The note is represented by the mean of its passage vectors (multilingual-e5 vectors are
normalised, so the mean points at what the note is mostly about). Its neighbours come from one
nearest-passage search with search.py's own method: an exact scan of the user's passages while
they are few, the HNSW index with an iterative scan above SEARCH_EXACT_MAX_PASSAGES, so the cost
follows the index, not the length of the user's history. Passages are then grouped per note,
each note scored by its best passage (cosine similarity to the mean), leaving out the note itself
and notes that are not ready. The search asks for the note's own passages plus a few per wanted
note, and looks deeper (bounded) only when one long note filled the candidates.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

import numpy as np
from django.conf import settings

from mindpost.accounts.models import User
from mindpost.ai import get_embedder
from mindpost.notes import search
from mindpost.notes.models import Note, NoteStatus, Passage
from mindpost.notes.selectors import note_get
from mindpost.notes.text import excerpt

MAX_LIMIT: Final = 20
_PASSAGES_PER_NOTE: Final = 8  # candidates asked for per wanted note
_MAX_DEPTH: Final = 2000


@dataclass(frozen=True)
class SimilarNote:
    note: Note
    score: float  # cosine similarity of its best passage to the note's mean vector
    passage_id: int
    start_seconds: float | None
    excerpt: str = ""


def _mean_vector(*, note: Note, model: str) -> list[float] | None:
    # No ordering: Meta's ("note", ...) would join the note table to sort by the note's own ordering.
    rows = Passage.objects.filter(note=note, embedding_model=model).order_by()
    vectors = list(rows.values_list("embedding", flat=True))
    if not vectors:
        return None
    mean = np.mean(np.stack([np.asarray(v, dtype=np.float32) for v in vectors]), axis=0)
    norm = float(np.linalg.norm(mean))
    return [float(x) for x in (mean / norm if norm else mean)]


def _best_per_note(*, user: User, note: Note, ranked: list[search._Ranked]) -> dict[uuid.UUID, tuple[float, int]]:
    """{note id: (best similarity, passage id)} over the ranked passages of the user's other ready notes."""
    owners = dict(
        Passage.objects.filter(user=user, pk__in=[r.passage_id for r in ranked], note__status=NoteStatus.READY)
        .exclude(note=note)
        .order_by()
        .values_list("pk", "note_id")
    )
    best: dict[uuid.UUID, tuple[float, int]] = {}
    for item in ranked:  # best first, so the first passage seen of a note is its best
        note_id = owners.get(item.passage_id)
        if note_id is not None and note_id not in best:
            best[note_id] = (item.value, item.passage_id)
    return best


def similar_notes(*, user: User, note_id: uuid.UUID | str, limit: int = 5) -> list[SimilarNote]:
    """The user's notes nearest to theirs `note_id`, best first (NotFound for another user's note).
    Empty while the note has no passages (not ready yet)."""
    note = note_get(user=user, note_id=note_id)
    model = get_embedder().model_name
    vector = _mean_vector(note=note, model=model) if note.status == NoteStatus.READY else None
    if vector is None:
        return []
    filters = search.SearchFilters()
    total = search.count_searchable(user=user, filters=filters, model=model, cap=settings.SEARCH_EXACT_MAX_PASSAGES + 1)
    own = Passage.objects.filter(note=note, embedding_model=model).count()
    depth = own + limit * _PASSAGES_PER_NOTE
    while True:
        ranked, _method = search.vector_ranking(
            user=user, vector=vector, filters=filters, model=model, depth=depth, total=total
        )
        best = _best_per_note(user=user, note=note, ranked=ranked)
        if len(best) >= limit or len(ranked) < depth or depth >= _MAX_DEPTH:
            break
        depth = min(depth * 4, _MAX_DEPTH)  # a few long notes filled the candidates: look deeper
    chosen = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[1][1]))[:limit]
    notes = Note.objects.filter(user=user, pk__in=[note_id for note_id, _ in chosen]).only(
        "id", "user_id", "title", "created_at", "kind", "status", "tags_data", "duration_seconds"
    )
    by_id = {n.pk: n for n in notes}
    passages = {
        p.pk: p
        for p in Passage.objects.filter(user=user, pk__in=[pid for _, (_, pid) in chosen])
        .only("id", "text", "start_seconds")
        .order_by()
    }
    results = []
    for note_id, (score, passage_id) in chosen:
        found, passage = by_id.get(note_id), passages.get(passage_id)
        if found is None or passage is None:
            continue  # deleted meanwhile
        results.append(
            SimilarNote(
                note=found,
                score=score,
                passage_id=passage_id,
                start_seconds=passage.start_seconds,
                excerpt=excerpt(passage.text),
            )
        )
    return results
