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


# The exact path in one statement (one round trip, no ORM compilation): the capped count, both
# rankings, and the keyword side's document frequencies and idf. It computes what
# count_searchable, vector_ranking (exact) and keyword_ranking compute, the same way, so the
# ranking is identical (tests/notes/test_search_fused.py compares them): the idf formula is
# keyword_ranking's, and the scores are summed in numeric as its CASE chain of float literals is
# (each idf goes through its shortest text form, as a Python float literal does). Above `exact_max`
# passages the vector side comes back empty (a one-time filter skips the scan) and the caller
# takes the HNSW path for it.
_RANK_SQL = """
WITH scope AS NOT MATERIALIZED (
    SELECT p.id, p.embedding, p.keywords FROM notes_passage p {join}
    WHERE p.user_id = %(user)s AND p.embedding_model = %(model)s {where}
),
total AS MATERIALIZED (SELECT count(*) AS n FROM (SELECT 1 FROM scope LIMIT %(cap)s) capped),
vec AS MATERIALIZED (
    SELECT id, embedding <=> %(vector)s::vector AS d FROM scope
    WHERE (SELECT n FROM total) <= %(exact_max)s
    ORDER BY (embedding <=> %(vector)s::vector) + 0, id LIMIT %(depth)s
),
words AS MATERIALIZED (
    SELECT w.ord, w.term, to_tsquery('simple'::regconfig, w.term) AS q,
           (SELECT count(*) FROM scope WHERE scope.keywords @@ to_tsquery('simple'::regconfig, w.term)) AS df
    FROM unnest(%(terms)s::text[]) WITH ORDINALITY AS w(term, ord)
),
idf AS MATERIALIZED (
    SELECT ord, term, q,
           ln(1 + ((c.corpus - df)::float8 + 0.5) / (df::float8 + 0.5))::text::numeric AS idf
    FROM words, (SELECT greatest((SELECT n FROM total), %(min_corpus)s, (SELECT max(df) FROM words)) AS corpus) c
    WHERE df > 0
),
present AS MATERIALIZED (
    SELECT to_tsquery('simple'::regconfig, string_agg(term, ' | ' ORDER BY ord)) AS q FROM idf
),
kw AS MATERIALIZED (
    SELECT s.id, agg.s, agg.m, agg.b, ts_rank(s.keywords, (SELECT q FROM present)) AS r
    FROM scope s,
         LATERAL (SELECT sum(i.idf ORDER BY i.ord) AS s, count(*) AS m, max(i.idf) AS b
                  FROM idf i WHERE s.keywords @@ i.q) agg
    WHERE s.keywords @@ (SELECT q FROM present)
    ORDER BY agg.s DESC, r DESC, s.id LIMIT %(depth)s
)
SELECT 0, (SELECT n FROM total), 0, NULL::float8, NULL::numeric, 0, NULL::numeric
UNION ALL SELECT 1, id, row_number() OVER (ORDER BY d, id), d, NULL, 0, NULL FROM vec
UNION ALL SELECT 2, id, row_number() OVER (ORDER BY s DESC, r DESC, id), NULL, s, m, b FROM kw
"""


def _rank_in_one_query(
    *, user: User, vector: Sequence[float], terms: list[str], filters: SearchFilters, model: str, depth: int
) -> tuple[int, list[_Ranked], list[_Ranked]]:
    """(capped total, vector side, keyword side); the vector side is empty above the exact-scan limit."""
    join, where = "", []
    params: dict[str, Any] = {
        "user": user.pk,
        "model": model,
        "cap": settings.SEARCH_EXACT_MAX_PASSAGES + 1,
        "exact_max": settings.SEARCH_EXACT_MAX_PASSAGES,
        "vector": "[" + ",".join(map(repr, map(float, vector))) + "]",
        "depth": depth,
        "terms": terms,
        "min_corpus": _MIN_IDF_CORPUS,
    }
    if filters.tag or filters.since or filters.until:
        join = "JOIN notes_note n ON n.id = p.note_id"
    if filters.tag:
        where.append("AND n.tag_hashes @> %(tag)s::varchar(32)[]")
        params["tag"] = [tag_filter_hash(filters.tag)]
    if filters.since:
        where.append("AND n.created_at >= %(since)s")
        params["since"] = filters.since
    if filters.until:
        where.append("AND n.created_at < %(until)s")
        params["until"] = filters.until
    with connection.cursor() as cursor:
        cursor.execute(_RANK_SQL.format(join=join, where=" ".join(where)), params)
        rows = cursor.fetchall()
    total, vector_rows, keyword_rows = 0, [], []
    for side, pk, order, distance, score, terms_matched, best_idf in rows:
        if side == 0:
            total = int(pk)
        elif side == 1:
            vector_rows.append((order, _Ranked(passage_id=pk, value=1.0 - float(distance))))
        else:
            keyword_rows.append(
                (order, _Ranked(passage_id=pk, value=float(score), terms=int(terms_matched), best_idf=float(best_idf)))
            )
    return total, [r for _, r in sorted(vector_rows)], [r for _, r in sorted(keyword_rows)]


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


# What a hit shows: never the vectors or keyword lexemes, nor the note's transcript (only the
# passage text and the note title are decrypted).
_HIT_FIELDS = ("id", "note", "position", "text", "start_seconds", "end_seconds", "note__created_at", "note__title")


def _load(*, user: User, hits: list[Hit], vector: Sequence[float]) -> list[Hit]:
    """Fill in the passages' notes, times and decrypted text (only the user's own rows), and the
    similarity of keyword-only hits (for the relevance floor), in one query."""
    queryset = Passage.objects.filter(user=user, pk__in=[h.passage_id for h in hits]).select_related("note")
    queryset = queryset.only(*_HIT_FIELDS).order_by()
    if any(h.similarity is None for h in hits):
        queryset = queryset.annotate(d=CosineDistance("embedding", list(vector)))
    rows = {p.pk: p for p in queryset}
    loaded = []
    for hit in hits:
        passage = rows.get(hit.passage_id)
        if passage is None:
            continue  # deleted since ranking
        if hit.similarity is None:
            hit.similarity = 1.0 - float(passage.d)  # type: ignore[attr-defined]
        loaded.append(replace(_hit_from(passage, hit), extra={"note_title": passage.note.title}))
    return loaded


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
    depth = max(params.candidates, limit)
    total, vector_side, keyword_side = _rank_in_one_query(
        user=user, vector=query_vector, terms=query_terms(query), filters=filters, model=model, depth=depth
    )
    method = "none" if total == 0 else "exact"
    if total > settings.SEARCH_EXACT_MAX_PASSAGES:  # a big user: the vector side through HNSW
        vector_side, method = vector_ranking(
            user=user, vector=query_vector, filters=filters, model=model, depth=depth, total=total
        )
    fused = fuse(vector=vector_side, keyword=keyword_side, params=params)[:limit]
    return SearchResult(
        hits=_load(user=user, hits=fused, vector=query_vector), method=method, total=total, query_vector=query_vector
    )


def recent_passages(*, user: User, filters: SearchFilters, limit: int) -> list[Hit]:
    """The newest passages under the filters ("what did I say yesterday?" names no topic)."""
    queryset = _searchable(user=user, model=get_embedder().model_name, filters=filters)
    rows = queryset.select_related("note").only(*_HIT_FIELDS).order_by("-note__created_at", "position")[:limit]
    return [_hit_from(p, Hit(passage_id=p.pk, score=0.0)) for p in rows]
