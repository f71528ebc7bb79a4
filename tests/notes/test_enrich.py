"""Enrichment (mindpost.notes.enrich): title, summary, key points, action items and tags from one
strict-JSON model call, parsed defensively, idempotent, with the user's own edits kept.

The model is the loopback OpenAI fake (deterministic replies, bad replies, failures); one test
runs the real SmolLM2 server to prove the path end to end (format only: it makes things up)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.ai.queue import Lane
from mindpost.ai.types import TransientAIError
from mindpost.notes import enrich, services, tasks
from mindpost.notes.models import ActionItem, EnrichmentStatus, Note, NoteKind, NoteStatus
from tests.factories import NoteFactory
from tests.fakes.openai_server import FakeOpenAI

URL = "/api/brain-dumps/"
# Sunday 29 November 2026, 15:30 UTC: already Monday 30 November (00:30) in Tokyo.
CREATED = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)
TEXT = (
    "Okay so, um, the dentist called, Dr. Patel, about the crown. I need to call her back next week "
    "to book the appointment. And, uh, I have to send the insurance form to Maria by Friday. "
    "Also the garden looks great this year."
)
REPLY: dict[str, Any] = {
    "title": "Dentist crown and insurance paperwork",
    "summary": "Dr. Patel's office called about the crown. The insurance form is due soon.",
    "key_points": ["The dentist called about the crown", "The insurance form goes to Maria"],
    "action_items": [
        {"text": "Call Dr. Patel to book the appointment", "due": "next week"},
        {"text": "Send the insurance form to Maria", "due": "by Friday"},
    ],
    "tags": ["dentist", "insurance"],
}


@pytest.fixture
def model(openai_backends: FakeOpenAI, settings: Any) -> FakeOpenAI:
    settings.LLM_QUEUE_SLOTS = 0  # a cloud backend: no admission queue (its lane is tested below)
    openai_backends.chat_reply = json.dumps(REPLY)
    return openai_backends


def make_note(user: User, text: str = TEXT, **kwargs: Any) -> Note:
    return NoteFactory.create(user=user, text=text, created_at=CREATED, **kwargs)


def chat_calls(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [call.json() for call in fake.calls("/v1/chat/completions")]


def run(note: Note, *, final_attempt: bool = True) -> Note:
    enrich.note_enrich(note_id=note.pk, final_attempt=final_attempt)
    note.refresh_from_db()
    return note


def test_enrichment_writes_title_summary_points_items_and_tags(
    model: FakeOpenAI, make_user: Callable[..., User]
) -> None:
    user = make_user("tokyo@example.com", timezone="Asia/Tokyo")
    note = run(make_note(user))

    assert note.title == "Dentist crown and insurance paperwork"
    assert note.summary.startswith("Dr. Patel's office called")
    assert note.key_points == REPLY["key_points"]
    assert note.enrichment_status == EnrichmentStatus.DONE
    assert note.enriched_digest == enrich.digest(TEXT)
    assert note.enrichment_model == "gpt-4o-mini"
    assert note.enriched_at is not None
    assert {"dentist", "insurance"} <= {tag.casefold() for tag in note.tags}
    items = list(ActionItem.objects.filter(note=note).order_by("position"))
    assert [item.text for item in items] == [i["text"] for i in REPLY["action_items"]]
    # Resolved in Tokyo, where the note was made on Monday 30 November.
    assert [item.due_date for item in items] == [date(2026, 12, 7), date(2026, 12, 4)]
    assert all(item.user_id == user.pk and item.start_seconds is None for item in items)  # a text note
    # One strict-JSON request that tells the model the user's date and the note's language.
    (request,) = chat_calls(model)
    assert request["response_format"] == {"type": "json_object"}
    assert "2026-11-30" in request["messages"][-1]["content"]
    assert "English" in request["messages"][0]["content"]


def test_the_same_date_in_utc_is_a_day_earlier(model: FakeOpenAI, user: User) -> None:
    note = run(make_note(user))  # user.timezone is UTC: Sunday 29 November
    dues = list(ActionItem.objects.filter(note=note).order_by("position").values_list("due_date", flat=True))
    assert dues == [date(2026, 11, 30), date(2026, 12, 4)]


def test_same_text_again_makes_no_model_call(model: FakeOpenAI, user: User) -> None:
    note = run(make_note(user))
    first_items = set(ActionItem.objects.filter(note=note).values_list("id", flat=True))
    assert enrich.note_enrich(note_id=note.pk, final_attempt=True) is False
    assert len(chat_calls(model)) == 1
    assert set(ActionItem.objects.filter(note=note).values_list("id", flat=True)) == first_items


def test_a_title_the_user_set_survives_re_enrichment(model: FakeOpenAI, user: User) -> None:
    note = make_note(user, title="My own title", title_edited=True)
    note = run(note)
    assert note.title == "My own title"
    assert note.summary  # everything else was still written
    enrich.note_enrich(note_id=note.pk, final_attempt=True, force=True)
    note.refresh_from_db()
    assert note.title == "My own title"


def test_tags_the_user_set_survive_enrichment(model: FakeOpenAI, user: User) -> None:
    note = make_note(user, tags=["teeth"], tags_edited=True)
    note = run(note)
    assert note.tags == ["teeth"]


def test_a_transcript_edit_queues_enrichment_and_reruns_it(
    model: FakeOpenAI, user: User, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = run(make_note(user))
    queued: list[Any] = []
    monkeypatch.setattr(tasks, "defer_enrich_note", lambda *, note_id: queued.append(note_id))
    with django_capture_on_commit_callbacks(execute=False):
        services.note_update_transcription(note=note, transcription=TEXT + " I should also buy seeds tomorrow.")
    assert queued == [note.pk]

    model.chat_reply = json.dumps({**REPLY, "action_items": [{"text": "Buy seeds", "due": "tomorrow"}]})
    note = run(note)
    assert len(chat_calls(model)) == 2  # new text, new digest: the model is asked again
    assert note.enriched_digest == enrich.digest(note.transcription)
    items = list(ActionItem.objects.filter(note=note))
    assert [(i.text, i.due_date) for i in items] == [("Buy seeds", date(2026, 11, 30))]


def test_a_note_that_becomes_ready_queues_enrichment(user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[Any] = []
    monkeypatch.setattr(tasks, "defer_enrich_note", lambda *, note_id: queued.append(note_id))
    note = make_note(user, status=NoteStatus.PROCESSING)
    services._finish(note)
    assert queued == [note.pk]


@pytest.mark.django_db(transaction=True)
def test_the_job_is_queued_on_commit_with_low_priority_and_its_own_lock(user: User) -> None:
    from procrastinate.contrib.django.models import ProcrastinateJob

    note = make_note(user)
    tasks.defer_enrich_note(note_id=note.pk)
    tasks.defer_enrich_note(note_id=note.pk)  # a burst of edits: one waiting job
    (job,) = ProcrastinateJob.objects.filter(task_name="notes.enrich_note", args__note_id=str(note.pk))
    assert (job.queue_name, job.lock, job.priority) == ("enrich", f"enrich-note:{note.pk}", tasks.ENRICH_PRIORITY)
    assert job.priority < 0  # below the note pipeline's jobs (priority 0)


def test_done_items_are_kept_and_the_others_replaced(model: FakeOpenAI, user: User) -> None:
    note = run(make_note(user))
    call, send = ActionItem.objects.filter(note=note).order_by("position")
    ActionItem.objects.filter(pk=send.pk).update(done=True)

    # The next enrichment words the done item slightly differently and drops the other one.
    model.chat_reply = json.dumps(
        {**REPLY, "action_items": [{"text": "send the insurance form to Maria!", "due": ""}, {"text": "Water roses"}]}
    )
    enrich.note_enrich(note_id=note.pk, final_attempt=True, force=True)
    items = {item.text: item for item in ActionItem.objects.filter(note=note)}
    assert set(items) == {"Send the insurance form to Maria", "Water roses"}
    assert items["Send the insurance form to Maria"].pk == send.pk
    assert items["Send the insurance form to Maria"].done
    assert not ActionItem.objects.filter(pk=call.pk).exists()


def test_an_item_the_user_edited_survives_re_enrichment_and_is_not_added_again(model: FakeOpenAI, user: User) -> None:
    from mindpost.notes.action_items import action_item_update

    note = run(make_note(user))
    call, send = ActionItem.objects.filter(note=note).order_by("position")
    action_item_update(user=user, item_id=call.pk, text="Ring Dr. Patel's office", due_date=date(2026, 12, 9))

    # The transcript changes; the model finds the same call again (as first worded) and a new one.
    model.chat_reply = json.dumps(
        {**REPLY, "action_items": [{"text": "Call Dr. Patel to book the appointment"}, {"text": "Water roses"}]}
    )
    enrich.note_enrich(note_id=note.pk, final_attempt=True, force=True)
    items = {item.text: item for item in ActionItem.objects.filter(note=note)}
    assert set(items) == {"Ring Dr. Patel's office", "Water roses"}
    edited = items["Ring Dr. Patel's office"]
    assert (edited.pk, edited.edited, edited.due_date) == (call.pk, True, date(2026, 12, 9))
    assert not ActionItem.objects.filter(pk=send.pk).exists()  # neither done nor edited: replaced


def test_marking_done_is_not_an_edit(model: FakeOpenAI, user: User) -> None:
    from mindpost.notes.action_items import action_item_update

    item = ActionItem.objects.filter(note=run(make_note(user))).first()
    assert item is not None
    updated = action_item_update(user=user, item_id=item.pk, done=True, text=item.text, due_date=item.due_date)
    assert updated.done
    assert not updated.edited


def test_voice_items_point_at_the_segment_they_were_said_in(model: FakeOpenAI, user: User) -> None:
    segments = [
        {"start": 0.0, "end": 4.2, "text": "Okay so, um, the dentist called, Dr. Patel, about the crown."},
        {"start": 4.2, "end": 9.8, "text": "I need to call her back next week to book the appointment."},
        {"start": 9.8, "end": 15.0, "text": "And, uh, I have to send the insurance form to Maria by Friday."},
    ]
    note = run(make_note(user, kind=NoteKind.VOICE, segments=segments))
    starts = list(ActionItem.objects.filter(note=note).order_by("position").values_list("start_seconds", flat=True))
    assert starts == [4.2, 9.8]


@pytest.mark.parametrize(
    "reply",
    [
        "Sure! Here is the summary of your note.",  # no JSON at all
        "{",  # cut off
        "[1, 2, 3]",  # JSON, not an object
        json.dumps({"title": 5, "summary": ["x"], "key_points": "a; b", "action_items": {"text": 3}, "tags": "x"}),
        json.dumps({"title": "one two three four five six seven eight nine ten eleven twelve"}),
        "```json\n" + json.dumps({"title": "Okay so, um, the dentist"}) + "\n```",  # a prefix of the transcript
        json.dumps({"action_items": [None, 7, {"due": "tomorrow"}, "Call Maria tomorrow"]}),
    ],
)
def test_bad_replies_fall_back_to_rules_and_never_fail(model: FakeOpenAI, user: User, reply: str) -> None:
    model.chat_reply = reply
    note = run(make_note(user))
    assert note.enrichment_status == EnrichmentStatus.DONE
    words = note.title.split()
    assert 0 < len(words) <= enrich.TITLE_MAX_WORDS
    assert not TEXT.casefold().startswith(note.title.casefold())
    assert isinstance(note.key_points, list)
    for item in ActionItem.objects.filter(note=note):
        assert item.text.strip()


def test_no_usable_item_list_falls_back_to_task_sentences(model: FakeOpenAI, user: User) -> None:
    model.chat_reply = "not json"
    note = run(make_note(user))
    items = list(ActionItem.objects.filter(note=note).order_by("position"))
    assert len(items) == 2
    assert "call her back next week" in items[0].text
    assert items[0].due_date == date(2026, 11, 30)
    assert "Maria by Friday" in items[1].text
    assert items[1].due_date == date(2026, 12, 4)


def test_an_unreachable_model_is_retried_and_marked_failed_only_on_the_last_attempt(
    model: FakeOpenAI, user: User
) -> None:
    note = make_note(user)
    model.fail("/v1/chat/completions", status=500, times=2)
    with pytest.raises(TransientAIError):
        enrich.note_enrich(note_id=note.pk, final_attempt=False)
    note.refresh_from_db()
    assert note.enrichment_status == EnrichmentStatus.PENDING
    with pytest.raises(TransientAIError):
        enrich.note_enrich(note_id=note.pk, final_attempt=True)
    note.refresh_from_db()
    assert note.enrichment_status == EnrichmentStatus.FAILED
    assert note.summary == ""
    assert not ActionItem.objects.filter(note=note).exists()
    # A later run (the user edits, or a retry) still works.
    assert run(note).enrichment_status == EnrichmentStatus.DONE


def test_a_refused_request_uses_rules_instead_of_failing(model: FakeOpenAI, user: User) -> None:
    model.fail("/v1/chat/completions", status=400)
    note = run(make_note(user))
    assert note.enrichment_status == EnrichmentStatus.DONE
    assert note.enrichment_model == "rules"


def test_not_ready_notes_are_left_alone(model: FakeOpenAI, user: User) -> None:
    note = make_note(user, status=NoteStatus.PROCESSING)
    assert enrich.note_enrich(note_id=note.pk, final_attempt=True) is False
    assert chat_calls(model) == []


def test_the_call_waits_in_the_background_lane(model: FakeOpenAI, user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    lanes: list[Lane] = []

    @contextmanager
    def slot(*, lane: Lane, **kwargs: Any) -> Iterator[None]:
        lanes.append(lane)
        yield

    monkeypatch.setattr(enrich, "llm_slot", slot)
    run(make_note(user))
    assert lanes == [Lane.BACKGROUND]


def test_the_note_language_is_used_for_the_prompt(model: FakeOpenAI, user: User) -> None:
    text = "Also, ähm, ich muss bis Freitag die Steuererklärung machen. Und nächste Woche den Klempner anrufen."
    model.chat_reply = json.dumps(
        {"title": "Steuer und Klempner", "action_items": [{"text": "Steuererklärung machen", "due": "bis Freitag"}]}
    )
    note = run(make_note(user, text=text))
    assert "German" in chat_calls(model)[0]["messages"][0]["content"]
    assert note.language == "de"  # a typed note gets the detected language
    assert ActionItem.objects.get(note=note).due_date == date(2026, 12, 4)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("I need to call my sister and tell her about the trip to the lake.", "en"),
        ("Ich muss morgen noch die Unterlagen für die Versicherung schicken, das ist wichtig.", "de"),
        ("Tengo que llamar a mi hermana para hablar del viaje al lago con los niños.", "es"),
        ("Je dois appeler ma sœur pour parler du voyage au lac avec les enfants.", "fr"),
        ("ok", ""),
    ],
)
def test_detect_language(text: str, code: str) -> None:
    assert enrich.detect_language(text) == code


def test_the_api_shows_enrichment_and_hides_other_users_notes(
    model: FakeOpenAI, user: User, auth_api: APIClient, make_user: Callable[..., User]
) -> None:
    note = make_note(user)
    body = auth_api.get(f"{URL}{note.pk}/").json()
    assert (body["summary"], body["key_points"], body["action_items"], body["enrichment_status"]) == ("", [], [], None)

    run(note)
    body = auth_api.get(f"{URL}{note.pk}/").json()
    assert body["enrichment_status"] == "done"
    assert body["summary"]
    assert body["key_points"] == REPLY["key_points"]
    first = body["action_items"][0]
    assert set(first) == {"id", "text", "due_date", "done", "start_seconds"}
    assert (first["text"], first["due_date"], first["done"]) == (
        "Call Dr. Patel to book the appointment",
        "2026-11-30",
        False,
    )
    listed = auth_api.get(URL).json()["results"]
    assert listed[0]["action_items"][1]["due_date"] == "2026-12-04"

    other = make_note(make_user("eve@example.com"))
    run(other)
    assert auth_api.get(f"{URL}{other.pk}/").status_code == 404
    assert [n["id"] for n in auth_api.get(URL).json()["results"]] == [str(note.pk)]


def test_the_list_loads_action_items_in_one_query(
    model: FakeOpenAI, user: User, auth_api: APIClient, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        run(make_note(user))
    auth_api.get(URL)  # warm up (session, throttles)
    with django_assert_max_num_queries(12) as captured:
        auth_api.get(URL)
    assert sum("notes_actionitem" in q["sql"] for q in captured.captured_queries) == 1


@pytest.mark.slow
def test_the_real_small_model_runs_the_whole_path(
    smollm2_server: str, settings: Any, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.CHAT_BACKEND = "local"
    settings.LLM_PRESET = "smollm2"
    settings.LLM_SERVER_URL = smollm2_server
    settings.LLM_QUEUE_SLOTS = 1
    settings.AI_MAX_RETRIES = 0
    settings.AI_TIMEOUT_SECONDS = 180.0  # generous: the suite may keep both cores busy
    monkeypatch.setattr(enrich, "MAX_REPLY_TOKENS", 160)  # SmolLM2 may ramble until the limit
    note = run(make_note(user))
    # SmolLM2 makes facts up: only the shape is checked.
    assert note.enrichment_status == EnrichmentStatus.DONE
    assert 0 < len(note.title.split()) <= enrich.TITLE_MAX_WORDS
    assert note.enrichment_model
    assert note.enrichment_model != "rules"
    assert note.enriched_digest == enrich.digest(TEXT)


def test_the_note_page_shows_summary_points_and_to_dos(model: FakeOpenAI, user: User, web: Any) -> None:
    note = make_note(user)
    page = web.get(f"/notes/{note.pk}/").content.decode()
    assert 'id="note-summary"' in page
    assert 'hx-trigger="every 4s"' in page

    run(note)
    ActionItem.objects.filter(note=note, position=1).update(done=True)
    page = web.get(f"/notes/{note.pk}/").content.decode()
    assert "every 4s" not in page
    assert "Dr. Patel&#x27;s office called about the crown." in page
    assert "The insurance form goes to Maria" in page
    assert "Call Dr. Patel to book the appointment" in page
    assert "Due Mon 30 Nov" in page
    assert "<s>Send the insurance form to Maria</s>" in page


def test_an_empty_model_list_still_keeps_explicit_task_sentences(model: FakeOpenAI, user: User) -> None:
    model.chat_reply = json.dumps({**REPLY, "action_items": []})
    note = run(make_note(user))
    texts = list(ActionItem.objects.filter(note=note).order_by("position").values_list("text", flat=True))
    assert len(texts) == 2
    assert "call her back next week" in texts[0]


def test_an_empty_model_list_on_a_note_without_tasks_stays_empty(model: FakeOpenAI, user: User) -> None:
    model.chat_reply = json.dumps({**REPLY, "action_items": []})
    note = run(make_note(user, text="Walked by the harbour at sunset. The light was golden and calm."))
    assert not ActionItem.objects.filter(note=note).exists()


def _items(reply: dict[str, Any], text: str) -> list[str]:
    return [item.text for item in enrich.interpret(json.dumps(reply), text=text).items]


def test_key_points_phrased_as_tasks_become_items_with_one_verb_per_errand() -> None:
    # The 1.5B model often leaves the list empty and files the errands under key points.
    text = "We're out of oat milk. So, buy flour and eggs, and like, bake the lemon cake on Saturday morning."
    reply = {"action_items": [], "key_points": ["Out of oat milk", "Buy flour", "Buy eggs", "Bake lemon cake"]}
    assert _items(reply, text) == ["Buy flour and eggs", "Bake lemon cake"]


def test_bare_imperatives_in_speech_become_items_without_their_reasons() -> None:
    text = (
        "Note for the newsletter. Um, interview Kate about her four-day week, and draft the intro by Thursday "
        "so Ben can edit it. And, uh, cancel the gym membership because I never go."
    )
    assert _items({"action_items": [], "key_points": []}, text) == [
        "Interview Kate about her four-day week",
        "Draft the intro by Thursday",
        "Cancel the gym membership",
    ]


def test_a_task_said_twice_is_one_item_and_a_when_only_restatement_is_none() -> None:
    text = "Erinnerung an mich selbst: morgen Oma anrufen. Also übermorgen anrufen. Und ein Geschenk besorgen."
    reply = {
        "action_items": [{"text": "Morgen Oma anrufen"}],
        "key_points": ["Oma morgen anrufen", "übermorgen anrufen", "Geschenk besorgen, vielleicht ein Buch"],
    }
    assert _items(reply, text) == ["Morgen Oma anrufen", "Geschenk besorgen, vielleicht ein Buch"]


def test_a_task_the_speaker_took_back_is_not_an_item() -> None:
    text = "The tap drips. I need to buy a new washer, or, actually just call a plumber by Wednesday."
    reply = {"action_items": [], "key_points": ["Buy a new washer", "Call a plumber"]}
    assert _items(reply, text) == ["Call a plumber"]


def test_a_note_without_tasks_gets_no_items_from_its_key_points() -> None:
    text = "Mom called. Dad's knee surgery went fine and he is home now."
    reply = {"action_items": [], "key_points": ["Mom called", "Dad's surgery went fine"]}
    assert _items(reply, text) == []


@pytest.mark.parametrize(
    "sentence",
    [
        "I must pay the electricity bill",
        "I should practise with Carlos on Thursday",
        "Reminder to self: renew the passport",
        "Ich muss die Belege suchen",
    ],
)
def test_task_cue_sentences(sentence: str) -> None:
    assert enrich.rule_action_items(f"The weather was fine. {sentence}.") == [sentence]


def test_a_date_belongs_to_the_clause_it_was_said_in_not_to_the_model_s_guess(model: FakeOpenAI, user: User) -> None:
    # Said on Sunday 29 November (UTC); the model repeats one date on every item and invents one.
    text = "My part: write the release notes by Thursday and, uh, ping legal about the new terms."
    model.chat_reply = json.dumps(
        {
            **REPLY,
            "action_items": [
                {"text": "Write the release notes", "due": "next week"},
                {"text": "Ping legal about the new terms", "due": "Thursday"},
            ],
        }
    )
    note = run(make_note(user, text=text))
    items = {item.text: item.due_date for item in ActionItem.objects.filter(note=note)}
    assert items == {"Write the release notes": date(2026, 12, 3), "Ping legal about the new terms": None}


def test_a_key_point_is_a_task_only_if_it_was_said_as_one() -> None:
    text = "I finished the Ishiguro, loved the ending. Next I want to read something lighter."
    reply = {"action_items": [], "key_points": ["Read Ishiguro", "Read something lighter"]}
    assert _items(reply, text) == ["Read something lighter"]


def test_sobre_todo_is_not_a_to_do() -> None:
    assert enrich.rule_action_items("El equipo nuevo parece majo, sobre todo Andrés.") == []


def test_the_prompt_s_example_is_not_a_to_do_even_with_a_name_from_the_note() -> None:
    text = "Anna said flights get dearer after December, so book them this week."
    reply = {"action_items": [{"text": "Call Anna about the boat"}, {"text": "Book flights this week"}]}
    assert _items(reply, text) == ["Book flights this week"]
    assert _items(reply, "Anna wants to sell the boat. Call Anna about the boat.")[0] == "Call Anna about the boat"
