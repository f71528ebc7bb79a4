"""The search hot path: both rankings in one statement (mindpost.notes.search._rank_in_one_query)
must rank exactly as the per-side ORM queries it replaced, for one user only, in a fixed number
of queries whatever the result size."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.ai import get_embedder
from mindpost.notes import search
from mindpost.notes.models import Note, Passage
from mindpost.notes.selectors import FusionParams, SearchFilters, passage_search
from tests.chat.helpers import GREECE, GYM, OSAKA, RUN

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_embedder")]

QUERIES = [
    "the person I met in Greece",
    "7319",
    "Stavros boats harbour",
    "door code storage unit",
    "running in the rain",
    "quantum chromodynamics",
    "the the and",
]


@pytest.fixture
def corpus(user: User, make_user: Callable[..., User], note_factory: Callable[..., Note]) -> dict[str, Any]:
    now = timezone.now()
    other = make_user("mallory@example.com")
    for text in (GREECE, GYM, "Door code 7319 for the storage unit, and Stavros has a spare key. #home"):
        note_factory(other, text)  # same words, another user: must never show up
    mine = [
        note_factory(user, GREECE, created_at=now - timedelta(days=40)),
        note_factory(user, OSAKA, created_at=now - timedelta(days=3)),
        note_factory(user, GYM, created_at=now - timedelta(days=2)),
        note_factory(user, RUN, created_at=now),
        note_factory(user, "Ran five kilometres in the rain, slow but happy. #running", created_at=now),
    ]
    for i in range(8):
        note_factory(user, f"Door code for storage unit {i} is {4000 + i}, written down so I don't forget. #home")
    return {"other": other, "mine": mine, "now": now}


def _reference(*, user: User, query: str, filters: SearchFilters, depth: int) -> tuple[int, list[Any], list[Any]]:
    """What the ORM functions (count_searchable, vector_ranking, keyword_ranking) return."""
    model = get_embedder().model_name
    vector = get_embedder().embed_query(query)
    total = search.count_searchable(user=user, filters=filters, model=model, cap=10_001)
    vector_side, _ = search.vector_ranking(
        user=user, vector=vector, filters=filters, model=model, depth=depth, total=total
    )
    keyword_side = search.keyword_ranking(
        user=user, terms=search.query_terms(query), filters=filters, model=model, depth=depth, total=total
    )
    return total, vector_side, keyword_side


@pytest.mark.parametrize("depth", [50, 3])
def test_one_statement_ranks_exactly_like_the_orm_queries(
    user: User, corpus: dict[str, Any], settings: Any, depth: int
) -> None:
    settings.SEARCH_EXACT_MAX_PASSAGES = 10_000
    now = corpus["now"]
    theirs = set(Passage.objects.filter(user=corpus["other"]).values_list("pk", flat=True))
    filter_sets = [
        SearchFilters(),
        SearchFilters(tag="home"),
        SearchFilters(tag="running"),
        SearchFilters(since=now - timedelta(days=5)),
        SearchFilters(since=now - timedelta(days=5), until=now - timedelta(hours=1)),
        SearchFilters(tag="nosuchtag"),
    ]
    for filters in filter_sets:
        for query in QUERIES:
            vector = get_embedder().embed_query(query)
            got = search._rank_in_one_query(
                user=user,
                vector=vector,
                terms=search.query_terms(query),
                filters=filters,
                model=get_embedder().model_name,
                depth=depth,
            )
            assert got == _reference(user=user, query=query, filters=filters, depth=depth), (query, filters)
            assert not {r.passage_id for r in got[1] + got[2]} & theirs


def test_keyword_side_is_really_exercised(user: User, corpus: dict[str, Any]) -> None:
    # Guard for the test above: the keyword side is not empty, and idf weighting tells words apart.
    _, _, keyword_side = _reference(user=user, query="storage unit 4003", filters=SearchFilters(), depth=50)
    assert len(keyword_side) > 2
    assert keyword_side[0].terms == 3
    assert len({round(r.value, 9) for r in keyword_side}) > 1


def test_big_users_still_take_the_hnsw_path(user: User, corpus: dict[str, Any], settings: Any) -> None:
    settings.SEARCH_EXACT_MAX_PASSAGES = 2
    total, vector_side, keyword_side = search._rank_in_one_query(
        user=user,
        vector=get_embedder().embed_query("Stavros"),
        terms=search.query_terms("Stavros"),
        filters=SearchFilters(),
        model=get_embedder().model_name,
        depth=10,
    )
    assert total == 3  # counted up to the cap only
    assert vector_side == []  # the exact scan was skipped
    assert keyword_side
    result = passage_search(user=user, query="the person I met in Greece", limit=3)
    assert result.method == "hnsw"
    assert len(result.hits) == 3
    assert result.hits[0].note_id == corpus["mine"][0].pk


def test_two_queries_whatever_the_result_size_and_no_transcript_or_vectors_read(
    user: User, corpus: dict[str, Any]
) -> None:
    vector = get_embedder().embed_query("door code storage unit 7319")
    for limit in (1, 5, 13):
        with CaptureQueriesContext(connection) as queries:
            result = passage_search(user=user, query="door code storage unit 7319", limit=limit, vector=vector)
        assert len(result.hits) == limit
        assert len(queries.captured_queries) == 2  # rank, then load the hits
    load = queries.captured_queries[-1]["sql"]
    assert '"transcription"' not in load
    assert '"segments_data"' not in load
    assert '"keywords"' not in load
    assert all(hit.text and hit.extra["note_title"] and hit.note_created_at for hit in result.hits)


def test_keyword_only_hits_get_a_similarity(user: User, corpus: dict[str, Any]) -> None:
    # A vector about something else and a narrow candidate list leave keyword-only hits in the fusion.
    params = FusionParams(keyword_weight=1.0, rrf_k=60, keyword_min_idf=0.0, candidates=2)
    vector = get_embedder().embed_query("ramen in Osaka")
    result = passage_search(user=user, query="storage unit door code 4003", limit=4, params=params, vector=vector)
    keyword_only = [hit for hit in result.hits if hit.vector_rank is None]
    assert keyword_only
    for hit in keyword_only:
        stored = Passage.objects.get(pk=hit.passage_id).embedding
        expected = float(sum(a * b for a, b in zip(stored, result.query_vector, strict=True)))
        assert hit.similarity == pytest.approx(expected, abs=1e-4)
