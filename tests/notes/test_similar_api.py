"""GET /api/brain-dumps/{id}/similar/: nearest notes by meaning (real multilingual-e5 vectors)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.notes import similar
from mindpost.notes.models import Note, NoteStatus
from tests.chat.helpers import GREECE, GYM, OSAKA, RUN
from tests.factories import NoteFactory, UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_embedder")]

CRETE = (
    "Sailing around Crete with Eleni. We anchored in a quiet bay near Chania and ate grilled octopus "
    "at a taverna by the water. Greek islands in late September are perfect."
)
SWIM = "Swam forty lengths at the pool before work, then stretched. My shoulder is much better. #fitness"


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_nearest_notes_by_meaning_excluding_itself(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note]
) -> None:
    greece = note_factory(user, GREECE)
    crete = note_factory(user, CRETE)
    osaka = note_factory(user, OSAKA)
    gym = note_factory(user, GYM)
    run = note_factory(user, RUN)
    swim = note_factory(user, SWIM)

    response = auth_api.get(f"/api/brain-dumps/{greece.pk}/similar/")
    body = response.json()
    assert response.status_code == 200, body
    assert body["note_id"] == str(greece.pk)
    ranked = [row["id"] for row in body["results"]]
    assert str(greece.pk) not in ranked
    assert body["count"] == len(ranked) == 5  # every other note, at most the default 5
    # The other Greek island trip first (e5's scores are compressed: the rest sit close together).
    assert ranked[0] == str(crete.pk)
    assert str(osaka.pk) in ranked
    scores = [row["score"] for row in body["results"]]
    assert scores == sorted(scores, reverse=True)
    top = body["results"][0]
    assert set(top) == {"id", "title", "created_at", "kind", "tags", "score", "excerpt", "start", "moment_url"}
    assert "Chania" in top["excerpt"]
    assert 0 < top["score"] <= 1

    # Both ways round, and from a workout the other workouts come first.
    assert ids(auth_api.get(f"/api/brain-dumps/{crete.pk}/similar/", {"limit": 1})) == [str(greece.pk)]
    assert ids(auth_api.get(f"/api/brain-dumps/{run.pk}/similar/", {"limit": 1})) == [str(swim.pk)]
    assert set(ids(auth_api.get(f"/api/brain-dumps/{swim.pk}/similar/", {"limit": 2}))) == {str(run.pk), str(gym.pk)}
    assert set(ids(auth_api.get(f"/api/brain-dumps/{gym.pk}/similar/", {"limit": 2}))) == {str(run.pk), str(swim.pk)}


def test_limit_and_bad_limits(user: User, auth_api: APIClient, note_factory: Callable[..., Note]) -> None:
    greece = note_factory(user, GREECE)
    note_factory(user, CRETE)
    note_factory(user, OSAKA)
    assert len(ids(auth_api.get(f"/api/brain-dumps/{greece.pk}/similar/", {"limit": 1}))) == 1
    for bad in ("0", "21", "many"):
        response = auth_api.get(f"/api/brain-dumps/{greece.pk}/similar/", {"limit": bad})
        assert response.status_code == 400, response.content
        assert response.json()["code"] == "invalid_filter"
        assert "limit" in response.json()["fields"]


def test_other_users_notes_never_appear_and_their_note_is_404(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note]
) -> None:
    other = UserFactory.create()
    greece = note_factory(user, GREECE)
    mine = note_factory(user, OSAKA)
    theirs_crete = note_factory(other, CRETE)  # closer to Greece than anything of mine

    assert ids(auth_api.get(f"/api/brain-dumps/{greece.pk}/similar/")) == [str(mine.pk)]
    response = auth_api.get(f"/api/brain-dumps/{theirs_crete.pk}/similar/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_only_ready_notes_and_a_note_without_passages_has_none(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note]
) -> None:
    greece = note_factory(user, GREECE)
    crete = note_factory(user, CRETE)
    Note.objects.filter(pk=crete.pk).update(status=NoteStatus.FAILED)
    osaka = note_factory(user, OSAKA)
    assert ids(auth_api.get(f"/api/brain-dumps/{greece.pk}/similar/")) == [str(osaka.pk)]

    processing = NoteFactory.create(user=user, status=NoteStatus.PROCESSING)
    assert ids(auth_api.get(f"/api/brain-dumps/{processing.pk}/similar/")) == []


def test_a_long_note_filling_the_candidates_does_not_starve_the_result(
    user: User, note_factory: Callable[..., Note], monkeypatch: pytest.MonkeyPatch
) -> None:
    greece = note_factory(user, GREECE)
    # Many passages of one note near Greece: with 1 candidate per wanted note, the first search
    # sees only them, so the selector has to look deeper to find a second note.
    note_factory(user, " ".join([CRETE] * 12))
    osaka = note_factory(user, OSAKA)
    monkeypatch.setattr(similar, "_PASSAGES_PER_NOTE", 1)
    found = similar.similar_notes(user=user, note_id=greece.pk, limit=2)
    assert len(found) == 2
    assert found[1].note.pk == osaka.pk


def test_query_count_does_not_grow_with_history(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note]
) -> None:
    greece = note_factory(user, GREECE)
    for text in (CRETE, OSAKA, GYM):
        note_factory(user, text)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert auth_api.get(f"/api/brain-dumps/{greece.pk}/similar/").status_code == 200
        return len(queries)

    before = count()
    for text in (RUN, SWIM, CRETE, OSAKA):
        note_factory(user, text)
    assert count() == before


def test_signed_out_is_401(user: User) -> None:
    note = NoteFactory.create(user=user)
    assert APIClient().get(f"/api/brain-dumps/{note.pk}/similar/").status_code == 401
