"""Hybrid passage search over one user's notes: vectors (pgvector) fused with blind-index keywords.

Private to the notes app: other apps call it through mindpost.notes.selectors.

Vector side. The user's passages are counted first (under the same filters). Up to
SEARCH_EXACT_MAX_PASSAGES of them are ranked by an exact scan (the `+ 0` keeps the planner
off the HNSW index, which cannot filter by user before it searches). Bigger users go through
the HNSW index with `hnsw.iterative_scan = relaxed_order` and `hnsw.ef_search` raised, so the
user filter cannot leave the result short; if it still comes back short of what the user has,
the exact scan runs. Chosen with bench/search.py (docs/benchmarks.md).

Keyword side. Passage text is encrypted, so keywords are matched through the blind index
(docs/decisions/0002-blind-index-keyword-search.md): the query's content words are hashed
with the same key and matched against the GIN-indexed `keywords` tsvector. Each matching
word counts by its rarity among the user's passages (BM25's idf, computed from document
frequencies the index gives for free) plus ts_rank as a tie-break, so a name or a policy
number outweighs a common word.

Fusion. Weighted reciprocal rank fusion. At a few dozen notes the keyword side mostly
pushes weak matches up (DESIGN §4), so it is weighted down and gated: a keyword hit joins
the fusion only if it matched a word rare enough to be telling. Weights and gate were tuned
on bench/data (bench/retrieval_quality.py).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import reduce
from operator import add
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchRank
from django.db import connection, transaction
from django.db.models import Case, Count, F, Q, QuerySet, Value, When
from django.db.models.expressions import Combinable
from django.db.models.functions import Greatest
from pgvector.django import CosineDistance

from mindpost.accounts.models import User
from mindpost.ai import get_embedder
from mindpost.notes import blind_index
from mindpost.notes.models import Passage
from mindpost.notes.tags import normalise_tag
from mindpost.notes.text import distinct_content_words

_MAX_QUERY_TERMS = 16
# Rarity is judged as if the user had at least this many passages: with a handful of notes
# every word is "rare" by idf alone, and a name in one of them should still count.
_MIN_IDF_CORPUS = 50


@dataclass(frozen=True)
class SearchFilters:
    tag: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class FusionParams:
    """How the two rankings are combined (defaults from settings, tuned on bench/data)."""

    keyword_weight: float = 0.5
    rrf_k: int = 60
    # A keyword hit counts only if it matched a word with at least this idf (0 = no gate).
    keyword_min_idf: float = 0.0
    candidates: int = 50

    @classmethod
    def from_settings(cls) -> FusionParams:
        return cls(
            keyword_weight=settings.SEARCH_KEYWORD_WEIGHT,
            rrf_k=settings.SEARCH_RRF_K,
            keyword_min_idf=settings.SEARCH_KEYWORD_MIN_IDF,
            candidates=settings.SEARCH_CANDIDATES,
        )


@dataclass
class Hit:
    passage_id: int
    score: float
    similarity: float | None = None  # cosine similarity of the passage to the query
    vector_rank: int | None = None  # 1-based
    keyword_rank: int | None = None
    keyword_score: float | None = None
    keyword_terms: int = 0  # how many query words it contains
    note_id: uuid.UUID | None = None
    note_created_at: datetime | None = None
    position: int = 0
    text: str = ""
    start: float | None = None
    end: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    hits: list[Hit]
    method: str  # exact | hnsw | none
    total: int  # searchable passages under the filters
    query_vector: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class _Ranked:
    passage_id: int
    value: float  # similarity (vector side) or keyword score
    terms: int = 0
    best_idf: float = 0.0


def tag_filter_hash(tag: str) -> str:
    return blind_index.tag_hash(normalise_tag(tag))


def _searchable(*, user: User, model: str, filters: SearchFilters) -> QuerySet[Passage]:
    """The user's passages embedded with `model`, under the filters, in no particular order."""
    queryset = Passage.objects.filter(user=user, embedding_model=model)
    if filters.tag:
        queryset = queryset.filter(note__tag_hashes__contains=[tag_filter_hash(filters.tag)])
    if filters.since:
        queryset = queryset.filter(note__created_at__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(note__created_at__lt=filters.until)
    return queryset.order_by()  # no Meta.ordering sort where only counts or our own order matter


def count_searchable(*, user: User, filters: SearchFilters, model: str, cap: int | None = None) -> int:
    """How many passages the user has under the filters, counting no further than `cap`
    (choosing the method only needs to know whether there are more than the exact-scan limit,
    and counting a big user's rows to the end costs milliseconds)."""
    queryset = _searchable(user=user, model=model, filters=filters)
    return queryset[:cap].count() if cap is not None else queryset.count()


def vector_ranking(
    *, user: User, vector: Sequence[float], filters: SearchFilters, model: str, depth: int, total: int | None = None
) -> tuple[list[_Ranked], str]:
    """The user's passages nearest to `vector`, best first, and the method used (exact|hnsw)."""
    if total is None:
        total = count_searchable(user=user, filters=filters, model=model)
    if total == 0:
        return [], "none"
    distance = CosineDistance("embedding", list(vector))
    queryset = _searchable(user=user, model=model, filters=filters).annotate(d=distance)
    want = min(depth, total)
    if total > settings.SEARCH_EXACT_MAX_PASSAGES:
        nearest = queryset.order_by("d").values_list("pk", "d")[:depth]
        with transaction.atomic(), connection.cursor() as cursor:
            # Raw SQL only here: Django has no API for planner settings, and SET LOCAL must run
            # in the same transaction as the query (it ends with it, so a pooled connection
            # goes back with the defaults).
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute(f"SET LOCAL hnsw.ef_search = {int(max(settings.SEARCH_HNSW_EF_SEARCH, depth))}")
            rows = list(nearest)
        if len(rows) >= want:
            rows.sort(key=lambda row: row[1])  # relaxed_order may hand rows back slightly out of order
            return [_Ranked(passage_id=pk, value=1.0 - float(d)) for pk, d in rows], "hnsw"
    # The exact scan: `+ 0` is not an indexable ORDER BY, so the user's rows are read and sorted.
    rows = list(queryset.order_by(distance + 0, "pk").values_list("pk", "d")[:depth])
    return [_Ranked(passage_id=pk, value=1.0 - float(d)) for pk, d in rows], "exact"


def query_terms(query: str) -> list[str]:
    """The blind-index lexemes of the query's content words."""
    return blind_index.hash_words(distinct_content_words(query, limit=_MAX_QUERY_TERMS))


def _if_matches(term: str, then: float | int) -> Case:
    """`then` where the passage contains the term, else zero (of the same type)."""
    zero = Value(0.0) if isinstance(then, float) else Value(0)
    return Case(When(Q(keywords=blind_index.keyword_query([term])), then=Value(then)), default=zero)


def keyword_ranking(
    *, user: User, terms: list[str], filters: SearchFilters, model: str, depth: int, total: int
) -> list[_Ranked]:
    """Passages containing any of the hashed terms, best first (idf-weighted, ts_rank tie-break)."""
    any_term = blind_index.keyword_query(terms)
    if any_term is None or total == 0:
        return []
    queryset = _searchable(user=user, model=model, filters=filters)
    counts = queryset.filter(keywords=any_term).aggregate(
        **{f"df{i}": Count("pk", filter=Q(keywords=blind_index.keyword_query([t]))) for i, t in enumerate(terms)}
    )
    frequencies = [int(counts[f"df{i}"]) for i in range(len(terms))]
    # `total` may be capped (see count_searchable): a word can then be in more passages than it says.
    corpus = max(total, _MIN_IDF_CORPUS, *frequencies)
    idf = {
        term: math.log(1 + (corpus - df + 0.5) / (df + 0.5)) for term, df in zip(terms, frequencies, strict=True) if df
    }
    if not idf:
        return []
    weighted: list[Combinable] = [_if_matches(term, weight) for term, weight in idf.items()]
    present = blind_index.keyword_query(idf)
    assert present is not None  # idf is not empty
    rows = (
        queryset.filter(keywords=present)
        .annotate(
            s=reduce(add, weighted),
            m=reduce(add, [_if_matches(term, 1) for term in idf]),
            b=Greatest(*weighted) if len(weighted) > 1 else weighted[0],
            r=SearchRank(F("keywords"), present),
        )
        .order_by("-s", "-r", "pk")
        .values_list("pk", "s", "m", "b")[:depth]
    )
    return [_Ranked(passage_id=pk, value=float(s), terms=int(m), best_idf=float(b)) for pk, s, m, b in rows]


def fuse(*, vector: list[_Ranked], keyword: list[_Ranked], params: FusionParams) -> list[Hit]:
    """Weighted reciprocal rank fusion of the two rankings (gated keyword side)."""
    hits: dict[int, Hit] = {}
    for rank, item in enumerate(vector, start=1):
        hits[item.passage_id] = Hit(
            passage_id=item.passage_id, score=1.0 / (params.rrf_k + rank), similarity=item.value, vector_rank=rank
        )
    if params.keyword_weight > 0:
        gated = [item for item in keyword if item.best_idf >= params.keyword_min_idf]
        for rank, item in enumerate(gated, start=1):
            hit = hits.get(item.passage_id)
            if hit is None:
                hit = hits[item.passage_id] = Hit(passage_id=item.passage_id, score=0.0)
            hit.score += params.keyword_weight / (params.rrf_k + rank)
            hit.keyword_rank = rank
            hit.keyword_score = item.value
            hit.keyword_terms = item.terms
    return sorted(hits.values(), key=lambda h: (-h.score, h.vector_rank or 10**9, h.passage_id))


def _hit_from(passage: Passage, hit: Hit) -> Hit:
    return replace(
        hit,
        note_id=passage.note_id,
        note_created_at=passage.note.created_at,
        position=passage.position,
        text=passage.text,
        start=passage.start_seconds,
        end=passage.end_seconds,
    )


def _load(*, user: User, hits: list[Hit]) -> list[Hit]:
    """Fill in the passages' notes, times and decrypted text (only the user's own rows)."""
    rows = {
        p.pk: p for p in Passage.objects.filter(user=user, pk__in=[h.passage_id for h in hits]).select_related("note")
    }
    return [
        replace(_hit_from(rows[hit.passage_id], hit), extra={"note_title": rows[hit.passage_id].note.title})
        for hit in hits
        if hit.passage_id in rows  # else deleted since ranking
    ]


def _similarities(*, user: User, ids: list[int], vector: Sequence[float]) -> dict[int, float]:
    if not ids:
        return {}
    rows = (
        Passage.objects.filter(user=user, pk__in=ids)
        .annotate(d=CosineDistance("embedding", list(vector)))
        .order_by()
        .values_list("pk", "d")
    )
    return {pk: 1.0 - float(d) for pk, d in rows}


def passage_search(
    *,
    user: User,
    query: str,
    filters: SearchFilters | None = None,
    limit: int = 10,
    vector: Sequence[float] | None = None,
    params: FusionParams | None = None,
) -> SearchResult:
    """The user's passages ranked for `query` (hybrid), at most `limit`, never fewer if they exist."""
    filters = filters or SearchFilters()
    params = params or FusionParams.from_settings()
    embedder = get_embedder()
    model = embedder.model_name
    query_vector = list(vector) if vector is not None else list(embedder.embed_query(query))
    total = count_searchable(user=user, filters=filters, model=model, cap=settings.SEARCH_EXACT_MAX_PASSAGES + 1)
    depth = max(params.candidates, limit)
    vector_side, method = vector_ranking(
        user=user, vector=query_vector, filters=filters, model=model, depth=depth, total=total
    )
    keyword_side = keyword_ranking(
        user=user, terms=query_terms(query), filters=filters, model=model, depth=depth, total=total
    )
    fused = fuse(vector=vector_side, keyword=keyword_side, params=params)[:limit]
    missing = [h.passage_id for h in fused if h.similarity is None]
    if missing:  # keyword-only hits: give them a similarity too, for the relevance floor
        for hit_id, similarity in _similarities(user=user, ids=missing, vector=query_vector).items():
            next(h for h in fused if h.passage_id == hit_id).similarity = similarity
    return SearchResult(hits=_load(user=user, hits=fused), method=method, total=total, query_vector=query_vector)


def recent_passages(*, user: User, filters: SearchFilters, limit: int) -> list[Hit]:
    """The newest passages under the filters ("what did I say yesterday?" names no topic)."""
    queryset = _searchable(user=user, model=get_embedder().model_name, filters=filters)
    rows = queryset.select_related("note").order_by("-note__created_at", "position")[:limit]
    return [_hit_from(p, Hit(passage_id=p.pk, score=0.0)) for p in rows]
