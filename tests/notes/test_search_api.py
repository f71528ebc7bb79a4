from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.notes import search
from mindpost.notes.models import Note, Passage
from mindpost.notes.selectors import FusionParams, SearchFilters, passage_search
from tests.chat.helpers import GREECE, GYM, OSAKA, RUN
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_embedder")]


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_search_ranks_the_right_passage_first_with_its_fields(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note]
) -> None:
    greece = note_factory(user, GREECE)
    note_factory(user, OSAKA)
    note_factory(user, GYM)

    response = auth_api.get("/api/search/", {"q": "the person I met in Greece"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["query"] == "the person I met in Greece"
    assert body["count"] == 3
    top = body["results"][0]
    assert top["note_id"] == str(greece.pk)
    assert set(top) == {
        "note_id",
        "passage_id",
        "note_created_at",
        "note_title",
        "excerpt",
        "start",
        "end",
        "score",
        "similarity",
        "keyword_match",
    }
    assert "Stavros" in top["excerpt"]
    assert top["note_title"]
    assert top["score"] >= body["results"][1]["score"]
    assert 0 < top["similarity"] <= 1


def test_numbers_and_names_are_found_through_the_blind_index(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note]
) -> None:
    gym = note_factory(user, GYM)
    greece = note_factory(user, GREECE)
    for i in range(6):
        note_factory(user, f"Door code for storage unit {i} is {4000 + i}, written down so I don't forget.")

    top = auth_api.get("/api/search/", {"q": "7319"}).json()["results"][0]
    assert top["note_id"] == str(gym.pk)
    assert top["keyword_match"] is True
    top = auth_api.get("/api/search/", {"q": "Stavros"}).json()["results"][0]
    assert top["note_id"] == str(greece.pk)
    assert top["keyword_match"] is True
    # The keyword side reads hashes only: no passage row holds the number in the clear.
    assert not Passage.objects.filter(keywords__isnull=True).exists()
    assert all("7319" not in str(row) for row in Passage.objects.values_list("keywords", flat=True))


def test_common_words_do_not_pull_weak_matches_up(user: User, note_factory: Callable[..., Note]) -> None:
    # "met" and "person" occur in many notes; the idf gate keeps them out of the fusion.
    greece = note_factory(user, GREECE)
    for name in ("Ben", "Chloe", "Daniel", "Farah", "Gustav", "Hannah"):
        note_factory(user, f"Met {name} at a party, nice person, we talked about the weather and the rent.")
    hits = passage_search(user=user, query="remind me about the person I met in Greece", limit=5).hits
    assert hits[0].note_id == greece.pk


def test_only_the_callers_notes(user: User, make_user: Callable[..., User], note_factory: Callable[..., Note]) -> None:
    other = make_user("mallory@example.com")
    theirs = note_factory(other, GYM)
    mine = note_factory(user, RUN)

    body = client_for(user).get("/api/search/", {"q": "7319 side door code"}).json()
    assert [r["note_id"] for r in body["results"]] == [str(mine.pk)]
    body = client_for(other).get("/api/search/", {"q": "ran along the river"}).json()
    assert [r["note_id"] for r in body["results"]] == [str(theirs.pk)]


def test_always_k_results_when_the_user_has_k(user: User, note_factory: Callable[..., Note]) -> None:
    for i in range(12):
        note_factory(user, f"Shopping list number {i}: apples, bread, oat milk and {i} candles.")
    body = client_for(user).get("/api/search/", {"q": "quantum chromodynamics lecture", "limit": "10"}).json()
    assert body["count"] == 10
    assert len({r["passage_id"] for r in body["results"]}) == 10


def test_big_users_go_through_hnsw_with_iterative_scan_and_still_get_k(
    user: User, make_user: Callable[..., User], note_factory: Callable[..., Note], settings: Any
) -> None:
    # Pretend everyone is "big" so the HNSW path runs; another user's rows crowd the index.
    settings.SEARCH_EXACT_MAX_PASSAGES = 1
    other = make_user("crowd@example.com")
    for i in range(15):
        note_factory(other, f"Crowd note {i} about the person I met in a harbour town, boats and sea.")
    mine = [note_factory(user, text) for text in (GREECE, OSAKA, GYM, RUN)]
    model = Passage.objects.filter(user=user).values_list("embedding_model", flat=True).first()
    assert model
    vector = passage_search(user=user, query="the person I met in Greece", limit=1).query_vector

    ranked, method = search.vector_ranking(
        user=user, vector=vector, filters=SearchFilters(), model=model, depth=4, total=None
    )
    assert method == "hnsw"
    assert len(ranked) == 4
    assert {r.passage_id for r in ranked} == set(Passage.objects.filter(user=user).values_list("pk", flat=True))
    settings.SEARCH_EXACT_MAX_PASSAGES = 10_000
    exact, method = search.vector_ranking(user=user, vector=vector, filters=SearchFilters(), model=model, depth=4)
    assert method == "exact"
    assert [r.passage_id for r in exact] == [r.passage_id for r in ranked]
    assert Passage.objects.get(pk=exact[0].passage_id).note_id == mine[0].pk


def test_tag_and_date_filters(user: User, auth_api: APIClient, note_factory: Callable[..., Note]) -> None:
    now = timezone.now()
    old_run = note_factory(user, RUN, created_at=now - timedelta(days=40))
    new_run = note_factory(user, "Ran five kilometres in the rain, slow but happy. #running", created_at=now)
    gym = note_factory(user, GYM, created_at=now - timedelta(days=2))

    ids = lambda response: [r["note_id"] for r in response.json()["results"]]  # noqa: E731
    assert set(ids(auth_api.get("/api/search/", {"q": "running", "tag": "running"}))) == {
        str(old_run.pk),
        str(new_run.pk),
    }
    assert ids(auth_api.get("/api/search/", {"q": "exercise", "tag": "#Fitness"})) == [str(gym.pk)]
    since = (now - timedelta(days=7)).date().isoformat()
    assert set(ids(auth_api.get("/api/search/", {"q": "running", "since": since}))) == {str(new_run.pk), str(gym.pk)}
    until = (now - timedelta(days=30)).date().isoformat()
    assert ids(auth_api.get("/api/search/", {"q": "running", "until": until})) == [str(old_run.pk)]
    assert ids(auth_api.get("/api/search/", {"q": "running", "tag": "nothing-like-this"})) == []


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({}, "empty_query", "q"),
        ({"q": "   "}, "empty_query", "q"),
        ({"q": "x" * 4001}, "query_too_long", "q"),
        ({"q": "boats", "limit": "0"}, "invalid_filter", "limit"),
        ({"q": "boats", "limit": "lots"}, "invalid_filter", "limit"),
        ({"q": "boats", "limit": "51"}, "invalid_filter", "limit"),
        ({"q": "boats", "since": "last tuesday"}, "invalid_filter", "since"),
        ({"q": "boats", "until": "2026-13-45"}, "invalid_filter", "until"),
        ({"q": "boats", "since": "2026-05-02", "until": "2026-05-01"}, "invalid_filter", "since"),
    ],
)
def test_bad_search_input_is_a_400_with_a_code(
    auth_api: APIClient, params: dict[str, str], code: str, field: str
) -> None:
    response = auth_api.get("/api/search/", params)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert field in response.json()["fields"]


def test_search_needs_a_token(api: APIClient) -> None:
    response = api.get("/api/search/", {"q": "boats"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_embedder_down_is_a_503(user: User, openai_backends: FakeOpenAI, auth_api: APIClient) -> None:
    openai_backends.fail("/v1/embeddings", status=503, times=5)
    response = auth_api.get("/api/search/", {"q": "boats"})
    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"


def test_fusion_weights_change_the_ranking(user: User, note_factory: Callable[..., Note]) -> None:
    gym = note_factory(user, GYM)
    for i in range(5):
        note_factory(user, f"Gym session {i}: squats and rows, the trainer says my form improved.")
    vector_only = passage_search(user=user, query="code 7319", params=FusionParams(keyword_weight=0.0)).hits
    hybrid = passage_search(user=user, query="code 7319").hits
    assert hybrid[0].note_id == gym.pk
    assert all(h.keyword_rank is None for h in vector_only)
    assert hybrid[0].keyword_rank == 1
