"""Hybrid passage search over one user's notes: vectors (pgvector) fused with blind-index keywords.

Vector side. The user's passages are counted first (under the same filters). Up to
SEARCH_EXACT_MAX_PASSAGES of them are ranked by an exact scan (the `+ 0` keeps the planner
off the HNSW index, which cannot filter by user before it searches). Bigger users go through
the HNSW index with `hnsw.iterative_scan = relaxed_order` and `hnsw.ef_search` raised, so the
user filter cannot leave the result short; if it still comes back short of what the user has,
the exact scan runs. Chosen with bench/search.py (docs/benchmarks.md).

Keyword side. Passage text is encrypted, so keywords are matched through the blind index
(docs/decisions/0003-blind-index-keyword-search.md): the query's content words are hashed
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
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from mindpost.accounts.models import User
from mindpost.ai import get_embedder
from mindpost.chat.text import distinct_content_words
from mindpost.notes import blind_index
from mindpost.notes.models import Note, Passage
from mindpost.notes.tags import normalise_tag

_MAX_QUERY_TERMS = 16
# Rarity is judged as if the user had at least this many passages: with a handful of notes
# every word is "rare" by idf alone, and a name in one of them should still count.
_MIN_IDF_CORPUS = 50


@dataclass(frozen=True)
class SearchFilters:
    tag: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive

    @property
    def on_notes(self) -> bool:
        return bool(self.tag or self.since or self.until)


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


@dataclass(frozen=True)
class _Ranked:
    passage_id: int
    value: float  # similarity (vector side) or keyword score
    terms: int = 0
    best_idf: float = 0.0


# --- SQL pieces ---------------------------------------------------------------------------


def _where(*, user_id: Any, model: str, filters: SearchFilters) -> tuple[str, str, list[Any]]:
    """(FROM ..., WHERE ..., params) for the user's searchable passages under the filters."""
    source = f"{Passage._meta.db_table} p"
    clauses = ["p.user_id = %s", "p.embedding_model = %s"]
    params: list[Any] = [user_id, model]
    if filters.on_notes:
        source += f" JOIN {Note._meta.db_table} n ON n.id = p.note_id"
        if filters.tag:
            clauses.append("n.tag_hashes @> ARRAY[%s]::varchar[]")
            params.append(tag_filter_hash(filters.tag))
        if filters.since:
            clauses.append("n.created_at >= %s")
            params.append(filters.since)
        if filters.until:
            clauses.append("n.created_at < %s")
            params.append(filters.until)
    return source, " AND ".join(clauses), params


def tag_filter_hash(tag: str) -> str:
    return blind_index.tag_hash(normalise_tag(tag))


def _vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def count_searchable(*, user: User, filters: SearchFilters, model: str, cap: int | None = None) -> int:
    """How many passages the user has under the filters, counting no further than `cap`
    (choosing the method only needs to know whether there are more than the exact-scan limit,
    and counting a big user's rows to the end costs milliseconds)."""
    source, where, params = _where(user_id=user.pk, model=model, filters=filters)
    sql = f"SELECT count(*) FROM {source} WHERE {where}"  # noqa: S608 - fixed SQL, bound values
    if cap is not None:
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {source} WHERE {where} LIMIT %s) capped"  # noqa: S608
        params = [*params, cap]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def vector_ranking(
    *, user: User, vector: Sequence[float], filters: SearchFilters, model: str, depth: int, total: int | None = None
) -> tuple[list[_Ranked], str]:
    """The user's passages nearest to `vector`, best first, and the method used (exact|hnsw)."""
    if total is None:
        total = count_searchable(user=user, filters=filters, model=model)
    if total == 0:
        return [], "none"
    source, where, params = _where(user_id=user.pk, model=model, filters=filters)
    literal = _vector_literal(vector)
    want = min(depth, total)
    if total > settings.SEARCH_EXACT_MAX_PASSAGES:
        # relaxed_order may hand rows back slightly out of order: collect, then sort them.
        sql = (
            f"WITH c AS MATERIALIZED (SELECT p.id, p.embedding <=> %s::vector AS d FROM {source} "  # noqa: S608
            f"WHERE {where} ORDER BY p.embedding <=> %s::vector LIMIT %s) SELECT id, d FROM c ORDER BY d"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            cursor.execute(f"SET LOCAL hnsw.ef_search = {int(max(settings.SEARCH_HNSW_EF_SEARCH, depth))}")
            cursor.execute(sql, [literal, *params, literal, depth])
            rows = cursor.fetchall()
        if len(rows) >= want:
            return [_Ranked(passage_id=r[0], value=1.0 - float(r[1])) for r in rows], "hnsw"
    # The exact scan: `+ 0` is not an indexable ORDER BY, so the user's rows are read and sorted.
    sql = (
        f"SELECT p.id, p.embedding <=> %s::vector AS d FROM {source} WHERE {where} "  # noqa: S608
        "ORDER BY (p.embedding <=> %s::vector) + 0, p.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [literal, *params, literal, depth])
        rows = cursor.fetchall()
    return [_Ranked(passage_id=r[0], value=1.0 - float(r[1])) for r in rows], "exact"


def query_terms(query: str) -> list[str]:
    """The blind-index hashes of the query's content words."""
    key = blind_index.index_key()
    return [blind_index.hash_word(word, key=key) for word in distinct_content_words(query, limit=_MAX_QUERY_TERMS)]


def keyword_ranking(
    *, user: User, terms: list[str], filters: SearchFilters, model: str, depth: int, total: int
) -> list[_Ranked]:
    """Passages containing any of the hashed terms, best first (idf-weighted, ts_rank tie-break)."""
    if not terms or total == 0:
        return []
    source, where, params = _where(user_id=user.pk, model=model, filters=filters)
    any_term = " | ".join(terms)  # hashes are letters a..p only: nothing to escape
    counts = ", ".join("count(*) FILTER (WHERE p.keywords @@ to_tsquery('simple', %s))" for _ in terms)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {counts} FROM {source} WHERE {where} AND p.keywords @@ to_tsquery('simple', %s)",  # noqa: S608
            [*terms, *params, any_term],
        )
        frequencies = cursor.fetchone() or ()
    # `total` may be capped (see count_searchable): a word can then be in more passages than it says.
    corpus = max(total, _MIN_IDF_CORPUS, *frequencies)
    idf = {
        term: math.log(1 + (corpus - df + 0.5) / (df + 0.5)) for term, df in zip(terms, frequencies, strict=True) if df
    }
    if not idf:
        return []
    present = list(idf)
    score = " + ".join("%s * (p.keywords @@ to_tsquery('simple', %s))::int" for _ in present)
    matched = " + ".join("(p.keywords @@ to_tsquery('simple', %s))::int" for _ in present)
    best = "GREATEST(" + ", ".join("%s * (p.keywords @@ to_tsquery('simple', %s))::int" for _ in present) + ")"
    score_params: list[Any] = [x for term in present for x in (idf[term], term)]
    matched_params: list[Any] = list(present)
    any_present = " | ".join(present)
    sql = (
        f"SELECT p.id, ({score}) AS s, ({matched}) AS m, {best} AS b, "  # noqa: S608
        f"ts_rank(p.keywords, to_tsquery('simple', %s)) AS r FROM {source} "
        f"WHERE {where} AND p.keywords @@ to_tsquery('simple', %s) ORDER BY s DESC, r DESC, p.id LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*score_params, *matched_params, *score_params, any_present, *params, any_present, depth])
        rows = cursor.fetchall()
    return [_Ranked(passage_id=r[0], value=float(r[1]), terms=int(r[2]), best_idf=float(r[3])) for r in rows]


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


def _load(*, user: User, hits: list[Hit]) -> list[Hit]:
    """Fill in the passages' notes, times and decrypted text (only the user's own rows)."""
    rows = {
        p.pk: p for p in Passage.objects.filter(user=user, pk__in=[h.passage_id for h in hits]).select_related("note")
    }
    loaded = []
    for hit in hits:
        passage = rows.get(hit.passage_id)
        if passage is None:  # deleted since ranking
            continue
        loaded.append(
            replace(
                hit,
                note_id=passage.note_id,
                note_created_at=passage.note.created_at,
                position=passage.position,
                text=passage.text,
                start=passage.start_seconds,
                end=passage.end_seconds,
                extra={"note_title": passage.note.title},
            )
        )
    return loaded


def _similarities(*, user: User, ids: list[int], vector: Sequence[float]) -> dict[int, float]:
    if not ids:
        return {}
    table = Passage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, 1 - (embedding <=> %s::vector) FROM {table} WHERE user_id = %s AND id = ANY(%s)",  # noqa: S608
            [_vector_literal(vector), user.pk, ids],
        )
        return {row[0]: float(row[1]) for row in cursor.fetchall()}


@dataclass
class SearchResult:
    hits: list[Hit]
    method: str  # exact | hnsw | none
    total: int  # searchable passages under the filters
    query_vector: list[float] = field(default_factory=list)


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
    queryset = Passage.objects.filter(user=user, embedding_model=get_embedder().model_name)
    if filters.tag:
        queryset = queryset.filter(note__tag_hashes__contains=[tag_filter_hash(filters.tag)])
    if filters.since:
        queryset = queryset.filter(note__created_at__gte=filters.since)
    if filters.until:
        queryset = queryset.filter(note__created_at__lt=filters.until)
    rows = queryset.select_related("note").order_by("-note__created_at", "position")[:limit]
    return [
        Hit(
            passage_id=p.pk,
            score=0.0,
            note_id=p.note_id,
            note_created_at=p.note.created_at,
            position=p.position,
            text=p.text,
            start=p.start_seconds,
            end=p.end_seconds,
        )
        for p in rows
    ]
