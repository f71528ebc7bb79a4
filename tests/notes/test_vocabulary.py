"""The user's own words (issue 11, part 6): vocabulary settings, the Whisper prompt, names learnt
from edits, and "fix this name everywhere" (service, API, re-index, isolation)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.ai.types import Segment, Transcript
from mindpost.core.errors import Invalid
from mindpost.notes import blind_index, services, storage, tasks, vocabulary
from mindpost.notes.models import ActionItem, Note, NoteKind, NoteSettings, NoteStatus, UserTag
from tests.factories import NoteFactory
from tests.notes import audio_files

pytestmark = pytest.mark.django_db

SETTINGS_URL = "/api/brain-dumps/settings/"
REPLACE_URL = "/api/vocabulary/replace/"


@pytest.fixture
def other(make_user: Callable[..., User]) -> User:
    return make_user("mallory@example.com")


@pytest.fixture
def reindexed(monkeypatch: pytest.MonkeyPatch) -> list[uuid.UUID]:
    """Note ids whose re-index job was queued (the real on-commit path, minus the queue)."""
    jobs: list[uuid.UUID] = []

    def record(task_name: str, task: Any, note_id: uuid.UUID) -> None:
        assert task_name == "reindex"
        jobs.append(note_id)

    monkeypatch.setattr(tasks, "_defer_once", record)
    return jobs


def set_vocabulary(user: User, text: str) -> None:
    NoteSettings.objects.update_or_create(user=user, defaults={"vocabulary": text})


def add_tag(user: User, name: str, count: int) -> None:
    UserTag.objects.create(user=user, tag_hash=blind_index.tag_hash(name), name=name, note_count=count)


# --- terms and the prompt ---------------------------------------------------------------------


def test_parse_terms_cleans_and_drops_duplicates_in_any_case_or_accent() -> None:
    text = "  Stavros \n\nNafplio\nstavros\n Joaquín  Sorolla \nJoaquin sorolla\n"
    assert vocabulary.parse_terms(text) == ["Stavros", "Nafplio", "Joaquín Sorolla"]


def test_validate_vocabulary_limits_terms_and_length() -> None:
    assert vocabulary.validate_vocabulary(["Stavros", " Nafplio "]) == "Stavros\nNafplio"
    with pytest.raises(Invalid) as too_many:
        vocabulary.validate_vocabulary("\n".join(f"Name{i}" for i in range(201)))
    assert too_many.value.code == "vocabulary_too_many_terms"
    with pytest.raises(Invalid) as too_long:
        vocabulary.validate_vocabulary("Stavros\n" + "x" * 61)
    assert too_long.value.code == "vocabulary_term_too_long"
    assert vocabulary.validate_vocabulary("\n".join(f"Name{i}" for i in range(200))).count("\n") == 199


def test_prompt_keeps_the_leading_terms_within_the_budget() -> None:
    terms = [f"Verylongname{i:03d}" for i in range(200)]
    prompt = vocabulary.prompt_from_terms(terms)
    kept = prompt.rstrip(".").split(", ")
    assert kept == terms[: len(kept)]  # the most important (first) ones, in order
    assert 10 < len(kept) < 200
    assert sum(vocabulary._token_cost(term) for term in kept) <= vocabulary.PROMPT_TOKEN_BUDGET
    assert vocabulary.prompt_from_terms([]) == ""


def test_transcription_prompt_is_settings_then_learnt_then_tags_and_only_yours(user: User, other: User) -> None:
    set_vocabulary(user, "Stavros\nNafplio")
    vocabulary.vocabulary_add(user=user, terms=["Siobhan"])  # learnt from an edit: appended
    add_tag(user, "sailing", 5)
    add_tag(user, "harbour", 9)
    add_tag(user, "stavros", 2)  # already in the vocabulary: once
    set_vocabulary(other, "Wojciech")
    add_tag(other, "secret", 50)
    prompt = vocabulary.transcription_prompt(user=user)
    assert prompt == "Stavros, Nafplio, Siobhan, harbour, sailing."
    assert vocabulary.transcription_prompt(user=other) == "Wojciech, secret."


def test_no_words_means_no_prompt(user: User) -> None:
    assert vocabulary.transcription_prompt(user=user) == ""


# --- names learnt from edits --------------------------------------------------------------------


def test_learned_terms_are_new_capitalised_words_of_the_edit() -> None:
    before = "I met Tavroza to the harbor in Afrio. the boat is blue."
    after = "I met Stavros at the harbour in Nafplio. The boat is blue."
    assert vocabulary.learned_terms(before=before, after=after) == ["Stavros", "Nafplio"]
    # Capitalising an ordinary word, or a word also written in lower case, is no name.
    assert vocabulary.learned_terms(before="call stavros today", after="Call Stavros today.") == ["Stavros"]
    assert vocabulary.learned_terms(before="we met richard powers", after="We met Richard Powers") == ["Richard Powers"]
    assert vocabulary.learned_terms(before="Nothing new here.", after="Nothing new here!") == []
    assert vocabulary.learned_terms(before="ask tavroza", after="Ask Stavros's brother, and Maria.") == [
        "Stavros",
        "Maria",
    ]


def test_a_transcript_edit_adds_the_corrected_names_to_the_vocabulary(auth_api: APIClient, user: User) -> None:
    set_vocabulary(user, "Wojciech")
    note = NoteFactory.create(user=user, text="I met Tavroza at the harbour in Afrio.")
    response = auth_api.patch(
        f"/api/brain-dumps/{note.pk}/", {"transcription": "I met Stavros at the harbour in Nafplio."}, format="json"
    )
    assert response.status_code == 200
    assert NoteSettings.objects.get(user=user).vocabulary == "Wojciech\nStavros\nNafplio"
    assert vocabulary.transcription_prompt(user=user).startswith("Wojciech, Stavros, Nafplio")


def test_learning_stops_when_the_vocabulary_is_full(user: User) -> None:
    set_vocabulary(user, "\n".join(f"Name{i}" for i in range(200)))
    assert vocabulary.vocabulary_add(user=user, terms=["Stavros"]) == []
    assert "Stavros" not in NoteSettings.objects.get(user=user).vocabulary


# --- the pipeline passes the prompt -------------------------------------------------------------


class PromptRecorder:
    model_name = "stub-whisper"

    def __init__(self) -> None:
        self.prompts: list[str | None] = []

    def transcribe(self, *, audio: Any, language: str | None = None, prompt: str | None = None, **_: Any) -> Transcript:
        assert isinstance(audio, np.ndarray)
        self.prompts.append(prompt)
        return Transcript(
            text="I met Stavros.", language="en", duration=2.0, segments=[Segment(0, 2, "I met Stavros.")]
        )


def _voice_note(user: User, media_dir: Path) -> Note:
    note = Note.objects.create(user=user, kind=NoteKind.VOICE, audio_format="wav")
    name = storage.audio_path(user_id=user.pk, note_id=note.pk, audio_format="wav")
    (media_dir / name).parent.mkdir(parents=True, exist_ok=True)
    (media_dir / name).write_bytes(audio_files.wav_bytes(audio_files.tone(1.0)))
    note.audio = name
    note.save()
    return note


def test_transcription_gets_the_users_words_as_prompt(
    user: User, other: User, media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = PromptRecorder()
    monkeypatch.setattr(services, "get_transcriber", lambda: recorder)
    set_vocabulary(user, "Stavros\nNafplio")
    services._transcribe(_voice_note(user, media_dir))
    services._transcribe(_voice_note(other, media_dir))  # no words: no prompt at all
    assert recorder.prompts == ["Stavros, Nafplio.", None]


# --- settings API ---------------------------------------------------------------------------------


def test_settings_api_reads_and_writes_the_vocabulary(auth_api: APIClient, user: User) -> None:
    assert auth_api.get(SETTINGS_URL).json()["vocabulary"] == ""
    response = auth_api.patch(SETTINGS_URL, {"vocabulary": "Stavros\n Nafplio \nstavros\n"}, format="json")
    assert response.status_code == 200
    assert response.json()["vocabulary"] == "Stavros\nNafplio"
    assert auth_api.get(SETTINGS_URL).json()["vocabulary"] == "Stavros\nNafplio"
    # Other settings are left alone by a vocabulary-only PATCH, and the other way round.
    assert auth_api.patch(SETTINGS_URL, {"keep_audio": False}, format="json").json()["vocabulary"] == "Stavros\nNafplio"


@pytest.mark.parametrize(
    ("vocabulary_text", "code"),
    [
        ("\n".join(f"Name{i}" for i in range(201)), "vocabulary_too_many_terms"),
        ("Stavros\n" + "y" * 61, "vocabulary_term_too_long"),
    ],
)
def test_settings_api_refuses_a_bad_vocabulary_with_a_code(
    auth_api: APIClient, user: User, vocabulary_text: str, code: str
) -> None:
    set_vocabulary(user, "Kept")
    response = auth_api.patch(SETTINGS_URL, {"vocabulary": vocabulary_text}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert "vocabulary" in response.json()["fields"]
    assert NoteSettings.objects.get(user=user).vocabulary == "Kept"


def test_settings_api_refuses_a_vocabulary_that_is_not_text(auth_api: APIClient) -> None:
    response = auth_api.patch(SETTINGS_URL, {"vocabulary": {"a": 1}}, format="json")
    assert response.status_code == 400
    assert response.json()["code"]


# --- fix a name everywhere ------------------------------------------------------------------------


def _misheard_note(user: User) -> Note:
    note = NoteFactory.create(
        user=user, kind=NoteKind.VOICE, text="I met Tavroza at the harbour in Afrio. Tavroza builds boats."
    )
    note.title = "Tavroza in Afrio"
    note.summary = "A chat with TAVROZA about boats."
    note.key_points = ["Tavroza builds boats", "Afrion is another word"]
    note.segments = [
        {"start": 0.0, "end": 3.0, "text": "I met Tavroza at the harbour in Afrio."},
        {"start": 3.0, "end": 5.0, "text": "Tavroza builds boats."},
    ]
    note.save()
    ActionItem.objects.create(user=user, note=note, text="Send tavróza the photos")
    ActionItem.objects.create(user=user, note=note, text="Book the ferry", position=1)
    return note


def test_replace_fixes_every_field_on_word_boundaries(
    user: User, reindexed: list, django_capture_on_commit_callbacks: Any
) -> None:
    note = _misheard_note(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert vocabulary.vocabulary_replace(user=user, find="tavroza", replace="Stavros") == 1
        assert vocabulary.vocabulary_replace(user=user, find="Afrio", replace="Nafplio") == 1
    note.refresh_from_db()
    assert note.transcription == "I met Stavros at the harbour in Nafplio. Stavros builds boats."
    assert note.title == "Stavros in Nafplio"
    assert note.summary == "A chat with Stavros about boats."
    assert note.key_points == ["Stavros builds boats", "Afrion is another word"]  # "Afrion" is another word
    assert [s["text"] for s in note.segments] == ["I met Stavros at the harbour in Nafplio.", "Stavros builds boats."]
    assert [s["start"] for s in note.segments] == [0.0, 3.0]
    assert sorted(item.text for item in ActionItem.objects.filter(note=note)) == [
        "Book the ferry",
        "Send Stavros the photos",
    ]
    assert note.edited
    assert reindexed == [note.pk, note.pk]
    assert NoteSettings.objects.get(user=user).vocabulary == "Stavros\nNafplio"


def test_replace_handles_multi_word_names_and_accents(user: User, reindexed: list) -> None:
    note = NoteFactory.create(user=user, text="Lunch with  Joaquin   sorolla, then joaquín sorolla's talk.")
    assert vocabulary.vocabulary_replace(user=user, find="Joaquín Sorolla", replace="Joaquín Sorolla y Bastida") == 1
    note.refresh_from_db()
    assert note.transcription == "Lunch with  Joaquín Sorolla y Bastida, then Joaquín Sorolla y Bastida's talk."


def test_replace_reindexes_only_the_notes_it_changed(
    user: User, reindexed: list, django_capture_on_commit_callbacks: Any
) -> None:
    changed = NoteFactory.create(user=user, text="Tavroza called about the boat.")
    untouched = NoteFactory.create(user=user, text="Nothing about him here.")
    summary_only = NoteFactory.create(user=user, text="A quiet day at sea.")
    summary_only.summary = "Thought about Tavroza."
    summary_only.save(update_fields=["summary"])
    processing = NoteFactory.create(user=user, text="Tavroza again.", status=NoteStatus.PROCESSING)
    with django_capture_on_commit_callbacks(execute=True):
        count = vocabulary.vocabulary_replace(user=user, find="Tavroza", replace="Stavros")
    assert count == 2
    assert reindexed == [changed.pk]  # the summary-only change needs no new passages
    untouched.refresh_from_db()
    processing.refresh_from_db()
    summary_only.refresh_from_db()
    assert not untouched.edited
    assert summary_only.summary == "Thought about Stavros."
    assert summary_only.edited
    assert processing.transcription == "Tavroza again."  # its job owns the transcript until it is ready


def test_replace_never_touches_another_users_notes(user: User, other: User, reindexed: list) -> None:
    NoteFactory.create(user=user, text="Tavroza is here.")
    theirs = NoteFactory.create(user=other, text="Tavroza is theirs.")
    assert vocabulary.vocabulary_replace(user=user, find="Tavroza", replace="Stavros") == 1
    theirs.refresh_from_db()
    assert theirs.transcription == "Tavroza is theirs."
    assert not theirs.edited
    assert not NoteSettings.objects.filter(user=other).exclude(vocabulary="").exists()


def test_replace_api_counts_applies_and_previews(auth_api: APIClient, user: User, reindexed: list) -> None:
    note = NoteFactory.create(user=user, text="I met Tavroza.")
    preview = auth_api.post(REPLACE_URL, {"find": "Tavroza", "replace": "Stavros", "dry_run": True}, format="json")
    assert preview.status_code == 200
    assert preview.json() == {"notes_changed": 1, "applied": False}
    note.refresh_from_db()
    assert note.transcription == "I met Tavroza."
    response = auth_api.post(REPLACE_URL, {"find": "Tavroza", "replace": "Stavros"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"notes_changed": 1, "applied": True}
    note.refresh_from_db()
    assert note.transcription == "I met Stavros."
    again = auth_api.post(REPLACE_URL, {"find": "Tavroza", "replace": "Stavros"}, format="json")
    assert again.json()["notes_changed"] == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"find": "", "replace": "Stavros"}, "empty_term"),
        ({"find": "Tavroza", "replace": "   "}, "empty_term"),
        ({"find": "x" * 61, "replace": "Stavros"}, "term_too_long"),
        ({"find": "Tavroza", "replace": "y" * 61}, "term_too_long"),
        ({"find": "...", "replace": "Stavros"}, "invalid_term"),
    ],
)
def test_replace_api_refuses_bad_input_with_a_code(auth_api: APIClient, body: dict, code: str) -> None:
    response = auth_api.post(REPLACE_URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_replace_api_needs_both_fields_and_a_user(auth_api: APIClient, api: APIClient) -> None:
    missing = auth_api.post(REPLACE_URL, {"find": "Tavroza"}, format="json")
    assert missing.status_code == 400
    assert "replace" in missing.json()["fields"]
    assert api.post(REPLACE_URL, {"find": "a", "replace": "b"}, format="json").status_code == 401


def test_replace_api_isolation(api: APIClient, user: User, other: User, reindexed: list) -> None:
    mine = NoteFactory.create(user=user, text="Tavroza here.")
    api.force_authenticate(other)
    response = api.post(REPLACE_URL, {"find": "Tavroza", "replace": "Stavros"}, format="json")
    assert response.json()["notes_changed"] == 0
    mine.refresh_from_db()
    assert mine.transcription == "Tavroza here."


# --- web ----------------------------------------------------------------------------------------------


def test_web_fix_name_asks_then_replaces_and_404s_for_another_users_note(
    web: Any, user: User, other: User, reindexed: list
) -> None:
    note = NoteFactory.create(user=user, text="I met Tavroza.")
    NoteFactory.create(user=user, text="Tavroza again.")
    url = f"/notes/{note.pk}/fix-name/"
    ask = web.post(url, {"find": "Tavroza", "replace": "Stavros"}, HTTP_HX_REQUEST="true")
    assert ask.status_code == 200
    assert "Replace in 2 notes" in ask.content.decode()
    note.refresh_from_db()
    assert note.transcription == "I met Tavroza."
    done = web.post(url, {"find": "Tavroza", "replace": "Stavros", "confirm": "1"}, HTTP_HX_REQUEST="true")
    assert "in 2 notes" in done.content.decode()
    assert "I met Stavros." in done.content.decode()  # the transcript comes back corrected (out of band)
    theirs = NoteFactory.create(user=other, text="Tavroza.")
    assert web.post(f"/notes/{theirs.pk}/fix-name/", {"find": "Tavroza", "replace": "X"}).status_code == 404


def test_web_settings_saves_the_vocabulary(web: Any, user: User) -> None:
    response = web.post("/settings/vocabulary/", {"vocabulary": "Stavros\r\nNafplio"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert NoteSettings.objects.get(user=user).vocabulary == "Stavros\nNafplio"
    assert "Stavros" in web.get("/settings/").content.decode()
    bad = web.post("/settings/vocabulary/", {"vocabulary": "z" * 61}, HTTP_HX_REQUEST="true")
    assert bad.status_code == 400
    assert "vocabulary_term_too_long" in bad.content.decode()
