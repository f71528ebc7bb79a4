"""Editing a note's title and tags (PATCH), and the tag vocabulary API (list, rename, merge)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.notes import blind_index, services, tagging
from mindpost.notes.models import Note, UserTag
from tests.factories import NoteFactory

URL = "/api/brain-dumps/"


@pytest.fixture
def other(make_user: Callable[..., User]) -> User:
    return make_user("mallory@example.com")


@pytest.fixture(autouse=True)
def no_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "_enqueue", lambda *args: None)


def tagged(user: User, tags: list[str], text: str = "A note about things.") -> Note:
    note = NoteFactory.create(user=user, text=text)
    tagging.note_apply_tags(note=note, candidates=tags, source="user")
    Note.objects.filter(pk=note.pk).update(tags_edited=False)  # as if a machine had tagged it
    note.refresh_from_db()
    return note


def legacy(user: User, tags: list[str]) -> Note:
    """A note tagged before the vocabulary folded plurals (so "goal" and "goals" both exist)."""
    note = NoteFactory.create(user=user, tags=tags)
    names = {blind_index.tag_hash(tag): tag for tag in tags}
    tagging.vocabulary_recount(user_id=user.pk, hashes=names, names=names)
    return note


def vocabulary(user: User) -> dict[str, int]:
    return {row.name: row.note_count for row in UserTag.objects.filter(user=user)}


# --- PATCH title and tags ---------------------------------------------------------------------------


def test_patch_title_and_tags(auth_api: APIClient, user: User) -> None:
    note = tagged(user, ["old"])
    response = auth_api.patch(
        f"{URL}{note.pk}/",
        {"title": "  Dentist with\nDr. Patel ", "tags": ["#Teeth", "dentist", "Teeth"]},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["title"] == "Dentist with Dr. Patel"
    assert body["tags"] == ["Teeth", "dentist"]
    note.refresh_from_db()
    assert note.title_edited
    assert note.tags_edited
    assert note.edited is False  # the transcript is untouched
    assert note.tag_hashes == [blind_index.tag_hash("teeth"), blind_index.tag_hash("dentist")]
    assert vocabulary(user) == {"Teeth": 1, "dentist": 1}
    # The filter finds it by the new tag, in any case.
    assert auth_api.get(URL, {"tag": "TEETH"}).json()["count"] == 1
    assert auth_api.get(URL, {"tag": "old"}).json()["count"] == 0


def test_patch_tags_take_the_vocabulary_spelling(auth_api: APIClient, user: User) -> None:
    tagged(user, ["goal", "café"])
    note = tagged(user, ["x"])
    body = auth_api.patch(f"{URL}{note.pk}/", {"tags": ["Goals", "cafe"]}, format="json").json()
    assert body["tags"] == ["goal", "café"]
    assert vocabulary(user) == {"goal": 2, "café": 2}


def test_patch_empty_tag_list_clears_tags(auth_api: APIClient, user: User) -> None:
    note = tagged(user, ["a1", "b1"])
    assert auth_api.patch(f"{URL}{note.pk}/", {"tags": []}, format="json").json()["tags"] == []
    assert vocabulary(user) == {}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"tags": ["a", "b", "c", "d", "e", "f"]}, "too_many_tags"),
        ({"tags": ["two words"]}, "invalid_tag"),
        ({"tags": ["semi;colon"]}, "invalid_tag"),
        ({"tags": ["x" * 41]}, "invalid_tag"),
        ({"tags": ["2026"]}, "invalid_tag"),
        ({"tags": "travel"}, None),
        ({"title": ""}, "empty_title"),
        ({"title": "   \n "}, "empty_title"),
        ({"title": "x" * 201}, "title_too_long"),
        ({"title": "ok", "tags": ["bad tag"]}, "invalid_tag"),
        ({}, "invalid"),
    ],
)
def test_patch_bad_input_is_400_with_a_code(auth_api: APIClient, user: User, payload: dict, code: str | None) -> None:
    note = tagged(user, ["keep"])
    response = auth_api.patch(f"{URL}{note.pk}/", payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == (code or response.json()["code"])
    assert response.json()["code"]
    note.refresh_from_db()
    assert note.tags == ["keep"]
    assert not note.tags_edited
    assert not note.title_edited


def test_edits_survive_retagging_and_transcript_edits(auth_api: APIClient, user: User) -> None:
    note = tagged(user, ["machine"], text="Booked the dentist. The dentist is on Friday.")
    auth_api.patch(f"{URL}{note.pk}/", {"title": "My title", "tags": ["mine"]}, format="json")
    note.refresh_from_db()
    # The enrichment job re-tags: refused, the user's tags stay.
    assert tagging.note_apply_tags(note=note, candidates=["dentist"], source="enrichment") == ["mine"]
    # A transcript edit re-derives title and tags for machines only.
    body = auth_api.patch(f"{URL}{note.pk}/", {"transcription": "Booked the dentist again. #teeth"}, format="json")
    assert body.status_code == 200, body.content
    assert body.json()["title"] == "My title"
    assert body.json()["tags"] == ["mine"]
    note.refresh_from_db()
    assert (note.title, note.tags, note.title_edited, note.tags_edited) == ("My title", ["mine"], True, True)


def test_patch_another_users_note_is_404(auth_api: APIClient, other: User) -> None:
    note = tagged(other, ["secret"])
    response = auth_api.patch(f"{URL}{note.pk}/", {"title": "Mine", "tags": ["mine"]}, format="json")
    assert response.status_code == 404
    note.refresh_from_db()
    assert note.tags == ["secret"]
    assert note.title != "Mine"


# --- GET /api/tags/ ---------------------------------------------------------------------------------


def test_tag_list_by_use_and_isolated(auth_api: APIClient, user: User, other: User) -> None:
    tagged(user, ["travel", "food"])
    tagged(user, ["travel"])
    tagged(other, ["travel", "secret"])
    response = auth_api.get("/api/tags/")
    assert response.status_code == 200
    assert response.json() == {"count": 2, "results": [{"name": "travel", "count": 2}, {"name": "food", "count": 1}]}
    assert auth_api.get("/api/tags/", {"limit": 1}).json()["results"] == [{"name": "travel", "count": 2}]
    assert auth_api.get("/api/tags/", {"limit": "x"}).json()["code"] == "invalid_filter"


def test_tags_need_sign_in(api: APIClient) -> None:
    assert api.get("/api/tags/").status_code == 401
    assert api.post("/api/tags/rename/", {"from": "a", "to": "b"}, format="json").status_code == 401


# --- POST /api/tags/rename/ -------------------------------------------------------------------------


def test_rename(auth_api: APIClient, user: User) -> None:
    first = tagged(user, ["js", "web"])
    second = tagged(user, ["js"])
    untouched = tagged(user, ["web"])
    response = auth_api.post("/api/tags/rename/", {"from": "#JS", "to": "javascript"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"name": "javascript", "count": 2, "changed": 2, "merged": False}
    for note, tags in ((first, ["javascript", "web"]), (second, ["javascript"]), (untouched, ["web"])):
        note.refresh_from_db()
        assert note.tags == tags
        assert note.tag_hashes == [blind_index.tag_hash(tag) for tag in tags]
    assert vocabulary(user) == {"javascript": 2, "web": 2}
    assert auth_api.get(URL, {"tag": "js"}).json()["count"] == 0
    assert auth_api.get(URL, {"tag": "javascript"}).json()["count"] == 2


def test_merge_into_an_existing_tag(auth_api: APIClient, user: User) -> None:
    both = legacy(user, ["goals", "health", "goal"])
    only_old = legacy(user, ["goals"])
    only_new = legacy(user, ["goal"])
    assert vocabulary(user) == {"goals": 2, "health": 1, "goal": 2}
    response = auth_api.post("/api/tags/rename/", {"from": "goals", "to": "goal"}, format="json")
    assert response.json() == {"name": "goal", "count": 3, "changed": 2, "merged": True}
    both.refresh_from_db()
    assert both.tags == ["goal", "health"]  # one tag, not two
    assert both.tag_hashes == [blind_index.tag_hash("goal"), blind_index.tag_hash("health")]
    for note in (only_old, only_new):
        note.refresh_from_db()
        assert note.tags == ["goal"]
    assert vocabulary(user) == {"goal": 3, "health": 1}


def test_rename_respells(auth_api: APIClient, user: User) -> None:
    note = tagged(user, ["travel"])
    response = auth_api.post("/api/tags/rename/", {"from": "travel", "to": "Travel"}, format="json")
    assert response.json() == {"name": "Travel", "count": 1, "changed": 1, "merged": False}
    note.refresh_from_db()
    assert note.tags == ["Travel"]
    assert vocabulary(user) == {"Travel": 1}


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"from": "nope", "to": "x1"}, 404, "tag_not_found"),
        ({"from": "", "to": "x1"}, 400, "invalid_tag"),
        ({"from": "travel", "to": ""}, 400, "invalid_tag"),
        ({"from": "travel", "to": "#"}, 400, "invalid_tag"),
        ({"from": "#", "to": "x1"}, 400, "invalid_tag"),
        ({"from": "travel", "to": "two words"}, 400, "invalid_tag"),
        ({"to": "x1"}, 400, None),
        ({"from": "travel"}, 400, None),
    ],
)
def test_rename_bad_input(auth_api: APIClient, user: User, payload: dict, status: int, code: str | None) -> None:
    tagged(user, ["travel"])
    response = auth_api.post("/api/tags/rename/", payload, format="json")
    assert response.status_code == status, response.content
    assert response.json()["code"] == (code or response.json()["code"])
    assert response.json()["code"]
    assert vocabulary(user) == {"travel": 1}


def test_rename_never_touches_another_user(auth_api: APIClient, user: User, other: User) -> None:
    theirs = tagged(other, ["secret", "travel"])
    # Their tag is invisible: renaming it is a 404, as if it did not exist.
    response = auth_api.post("/api/tags/rename/", {"from": "secret", "to": "mine"}, format="json")
    assert response.status_code == 404
    mine = tagged(user, ["travel"])
    assert auth_api.post("/api/tags/rename/", {"from": "travel", "to": "trips"}, format="json").status_code == 200
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert theirs.tags == ["secret", "travel"]
    assert mine.tags == ["trips"]
    assert vocabulary(other) == {"secret": 1, "travel": 1}


def test_vocabulary_backfill_migration_counts_existing_tags(user: User, other: User) -> None:
    import importlib

    from django.apps import apps

    backfill: Any = importlib.import_module("mindpost.notes.migrations.0005_usertag_backfill").backfill
    backfill(apps, None)  # an empty vocabulary: no error, nothing made
    NoteFactory.create(user=user, tags=["travel", "food"])
    NoteFactory.create(user=user, tags=["travel"])
    NoteFactory.create(user=other, tags=["travel"])
    assert not UserTag.objects.exists()  # the factory writes tags directly, as old code did
    backfill(apps, None)
    backfill(apps, None)  # idempotent
    assert vocabulary(user) == {"travel": 2, "food": 1}
    assert vocabulary(other) == {"travel": 1}
