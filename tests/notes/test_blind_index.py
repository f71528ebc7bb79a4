"""The blind keyword index: hashed words in a tsvector, no plaintext in the database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.postgres.search import SearchRank, SearchVector
from django.db import connection
from django.db.models import Value

from mindpost.accounts.models import User
from mindpost.notes import blind_index
from mindpost.notes.models import Note, NoteStatus, Passage

pytestmark = pytest.mark.django_db


def test_normalisation_folds_case_and_accents_and_keeps_numbers() -> None:
    assert blind_index.words("Crème BRÛLÉE, policy #A-1234 in Zürich; Straße") == [
        "creme",
        "brulee",
        "policy",
        "a",
        "1234",
        "in",
        "zurich",
        "strasse",
    ]
    assert blind_index.hash_words(blind_index.words("Zürich zurich ZURICH")) == blind_index.hash_words(["zurich"])


def test_hashes_are_keyed_letters_only_and_depend_on_the_key(settings) -> None:
    first = blind_index.hash_word("athens")
    assert first.isalpha()
    assert first.islower()
    assert len(first) == 20
    assert "athens" not in blind_index.hash_text("Athens is lovely")
    settings.SEARCH_INDEX_KEY = "another secret"
    assert blind_index.hash_word("athens") != first
    settings.SEARCH_INDEX_KEY = "another secret"
    assert blind_index.hash_word("athens") == blind_index.hash_word("athens")


def test_fallback_key_follows_the_first_field_key(settings) -> None:
    settings.SEARCH_INDEX_KEY = ""
    before = blind_index.hash_word("athens")
    from cryptography.fernet import Fernet

    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    assert blind_index.hash_word("athens") != before


def test_empty_queries() -> None:
    assert blind_index.keyword_query(blind_index.hash_words(blind_index.words("  ...  "))) is None
    assert blind_index.hash_words(blind_index.words("")) == []


def _passage(user: User, note: Note, position: int, text: str) -> Passage:
    passage = Passage.objects.create(
        note=note, user=user, position=position, text=text, embedding=[0.1] * 384, embedding_model="test"
    )
    Passage.objects.filter(pk=passage.pk).update(
        keywords=SearchVector(Value(blind_index.hash_text(text)), config=blind_index.SEARCH_CONFIG)
    )
    return passage


def test_keyword_search_finds_passages_without_plaintext(make_user: Callable[..., User]) -> None:
    user = make_user()
    note = Note.objects.create(user=user, status=NoteStatus.READY, transcription="x")
    policy = _passage(user, note, 0, "My insurance policy number ends in 4471, call Crédit Agricole.")
    boats = _passage(user, note, 1, "Nikos builds wooden boats in Nafplio. Boats, boats, boats.")
    _passage(user, note, 2, "Nothing to see here.")

    def hits(query: str) -> list[int]:
        search = blind_index.keyword_query(blind_index.hash_words(blind_index.words(query)))
        assert search is not None
        return list(
            Passage.objects.filter(keywords=search)
            .annotate(rank=SearchRank("keywords", search))
            .order_by("-rank")
            .values_list("pk", flat=True)
        )

    assert hits("4471") == [policy.pk]
    assert hits("credit agricole") == [policy.pk]  # accents folded on both sides
    assert hits("BOATS") == [boats.pk]
    assert hits("boats policy")
    assert set(hits("boats policy")) == {policy.pk, boats.pk}
    assert hits("airplane") == []

    with connection.cursor() as cursor:
        cursor.execute("SELECT keywords::text, text FROM notes_passage")
        rows = cursor.fetchall()
    for keywords, ciphertext in rows:
        for word in ("4471", "boats", "nikos", "credit", "insurance"):
            assert word not in keywords.lower()
            assert word not in ciphertext.lower()
