"""Drafts as a job: POST /api/posts/drafts/ answers 202 at once, the job (posts.generate_drafts)
writes one variant per angle and records its stage and each variant as it comes, a failure
gives the GENERATIONS unit back and records the error, and other users' requests are 404."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import pytest

from mindpost.ai.queue import Lane, llm_slot
from mindpost.billing.models import UsageCounter
from mindpost.posts import generation, services, tasks
from mindpost.posts.models import DraftRequest
from tests.posts.conftest import api_for

pytestmark = pytest.mark.django_db

DRAFTS = "/api/posts/drafts/"
NOTE = "Met Stavros at the harbour in Nafplio. He has mended fishing nets there for forty years."


def one(text: str, topics: list[str] | None = None) -> str:
    """A reply carrying one version, as the model writes it for one angle."""
    return json.dumps({"post_text": text, "topics": topics or ["Nafplio"]})


REPLIES = (
    one("Forty years. One harbour. Endless nets. Today I met Stavros in Nafplio."),
    one("Meeting Stavros taught me patience: forty years of mending nets at the same harbour."),
    one("Stavros has mended nets in Nafplio for forty years. What would you do for forty years?"),
)


def generations_used(user: Any) -> int:
    counter = UsageCounter.objects.filter(user=user, metric="generations").first()
    return counter.used if counter else 0


@pytest.fixture
def snapshots(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, int]]:
    """(status, stage, variants so far) after every update the job makes to its request."""
    seen: list[tuple[str, str, int]] = []
    original = services._draft_update

    def record(draft_id: uuid.UUID, **values: Any) -> None:
        original(draft_id, **values)
        row = DraftRequest.objects.get(pk=draft_id)
        seen.append((row.status, row.stage, len(row.variants)))

    monkeypatch.setattr(services, "_draft_update", record)
    return seen


def start(user: Any, note: Any, **extra: Any) -> str:
    response = api_for(user).post(DRAFTS, {"brain_dump_uuids": [str(note.pk)], **extra}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert set(body) == {"id", "status"}
    return str(body["id"])


def test_the_job_writes_the_variants_one_by_one(user, make_note, chat, snapshots, django_capture_on_commit_callbacks):
    note = make_note(user, NOTE)
    chat.reply(*REPLIES)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        draft_id = start(user, note)
    assert len(callbacks) == 1  # the job is queued on commit, not before
    assert chat.completions == []  # nothing ran in the request
    assert generations_used(user) == 1

    queued = api_for(user).get(f"{DRAFTS}{draft_id}/").json()
    assert queued["status"] == "queued"
    assert queued["variants"] == []

    tasks.generate_drafts(request_id=draft_id)

    body = api_for(user).get(f"{DRAFTS}{draft_id}/").json()
    assert body["status"] == "done", body
    assert body["stage"] == "Done"
    assert body["error"] is None
    assert [v["post_text"] for v in body["variants"]] == [json.loads(r)["post_text"] for r in REPLIES]
    assert [v["angle"] for v in body["variants"]] == ["hook", "lesson", "question"]
    assert body["variants"][0]["topics"] == ["Nafplio"]
    assert body["char_limit"] == 280
    # Progress: running, a stage per draft, and the count of variants growing 1, 2, 3.
    stages = [stage for _, stage, _ in snapshots]
    assert snapshots[0][0] == "running"  # the job took the request (queued -> running) before writing
    assert stages[0] == "Writing draft 1 of 3 (hook)"
    assert "Writing draft 1 of 3 (hook)" in stages
    assert "Writing draft 2 of 3 (lesson)" in stages
    assert "Writing draft 3 of 3 (question)" in stages
    counts = [count for _, _, count in snapshots]
    assert counts == sorted(counts)
    assert {1, 2, 3} <= set(counts)
    # Draft 2 is asked for after draft 1 was saved.
    assert stages.index("Writing draft 2 of 3 (lesson)") > counts.index(1)
    assert generations_used(user) == 1
    assert DraftRequest.objects.get(pk=draft_id).finished_at is not None


def test_variants_are_encrypted_at_rest(user, make_note, chat):
    from django.db import connection

    note = make_note(user, NOTE)
    chat.reply(*REPLIES)
    draft_id = start(user, note)
    tasks.generate_drafts(request_id=draft_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT variants FROM posts_draftrequest WHERE id = %s", [draft_id])
        stored = cursor.fetchone()[0]
    assert "Stavros" not in stored
    assert DraftRequest.objects.get(pk=draft_id).variants[0]["post_text"].startswith("Forty years")


def test_each_angle_is_its_own_call_after_the_same_prefix(user, make_note, chat):
    note = make_note(user, NOTE)
    chat.reply(*REPLIES)
    tasks.generate_drafts(request_id=start(user, note))
    requests = [call.json() for call in chat.completions]
    assert len(requests) == 3  # usable replies: no repair round-trips
    systems = {r["messages"][0]["content"] for r in requests}
    assert len(systems) == 1  # the same fixed rules for every angle...
    users = [r["messages"][1]["content"] for r in requests]
    prefix = f"My notes:\n\n{NOTE}\n\n"
    assert all(u.startswith(prefix) for u in users)  # ...then the same notes, so the prompt cache reuses them
    tails = [u.removeprefix(prefix) for u in users]
    assert [t.split("Angle: ")[1].split(".")[0] for t in tails] == ["hook", "lesson", "question"]
    assert all(r["response_format"] == {"type": "json_object"} for r in requests)


def test_a_near_copy_of_an_earlier_draft_is_dropped(user, make_note, chat):
    note = make_note(user, NOTE)
    chat.reply(REPLIES[0], one("Forty years. One harbour. Endless nets. Today I met Stavros in Nafplio!"), REPLIES[2])
    draft_id = start(user, note)
    tasks.generate_drafts(request_id=draft_id)
    variants = DraftRequest.objects.get(pk=draft_id).variants
    assert [v["angle"] for v in variants] == ["hook", "question"]
    assert generation.similarity(variants[0]["post_text"], variants[1]["post_text"]) < generation.NEAR_COPY


def test_similarity_measures_shared_wording() -> None:
    assert generation.similarity("I met Stavros at the harbour today", "I met Stavros at the harbour today") == 1.0
    assert generation.similarity("I met Stavros at the harbour", "What would you do for forty years?") == 0.0
    assert (
        0 < generation.similarity("I met Stavros at the harbour", "Stavros was at the harbour in Nafplio today") < 0.5
    )


@pytest.mark.parametrize(
    ("replies", "code"),
    [((503,), "model_unavailable"), (("not json", "still not json"), "generation_failed")],
)
def test_a_failure_is_recorded_and_gives_the_unit_back(user, make_note, chat, snapshots, replies, code):
    note = make_note(user, NOTE)
    chat.reply(*replies)
    draft_id = start(user, note)
    assert generations_used(user) == 1
    tasks.generate_drafts(request_id=draft_id)
    body = api_for(user).get(f"{DRAFTS}{draft_id}/").json()
    assert body["status"] == "failed"
    assert body["stage"] == "Failed"
    assert body["error"]["code"] == code
    assert body["error"]["detail"]
    assert body["variants"] == []
    assert generations_used(user) == 0


def test_a_later_failure_keeps_the_drafts_already_written(user, make_note, chat):
    note = make_note(user, NOTE)
    chat.reply(REPLIES[0], 503)
    draft_id = start(user, note)
    tasks.generate_drafts(request_id=draft_id)
    draft = DraftRequest.objects.get(pk=draft_id)
    assert draft.status == "failed"
    assert draft.error_code == "model_unavailable"
    assert len(draft.variants) == 1  # what was shown stays readable
    assert generations_used(user) == 0


def test_a_job_runs_once(user, make_note, chat):
    note = make_note(user, NOTE)
    chat.reply(*REPLIES)
    draft_id = start(user, note)
    tasks.generate_drafts(request_id=draft_id)
    tasks.generate_drafts(request_id=draft_id)  # a duplicate delivery
    assert len(chat.completions) == 3


def test_waiting_for_the_model_shows_the_place_in_line(user, make_note, chat, snapshots, settings):
    settings.LLM_QUEUE_SLOTS = 1
    note = make_note(user, NOTE)
    chat.reply(*REPLIES)
    draft_id = start(user, note)
    held, saw_wait = threading.Event(), threading.Event()

    def chat_in_progress() -> None:
        from django.db import connection

        try:
            with llm_slot(lane=Lane.CHAT):
                held.set()
                saw_wait.wait(20)
        finally:
            connection.close()

    holder = threading.Thread(target=chat_in_progress)
    holder.start()
    assert held.wait(20)
    original = services._draft_update

    def watch(draft_id: uuid.UUID, **values: Any) -> None:
        original(draft_id, **values)
        if str(values.get("stage", "")).startswith("Waiting for the model"):
            saw_wait.set()

    # (restored by the snapshots fixture)
    services._draft_update = watch
    try:
        tasks.generate_drafts(request_id=draft_id)
    finally:
        holder.join(20)
    assert "Waiting for the model (1 ahead)" in [stage for _, stage, _ in snapshots]
    assert DraftRequest.objects.get(pk=draft_id).status == "done"


def test_other_users_cannot_see_a_request(user, make_user, make_note, chat):
    note = make_note(user, NOTE)
    draft_id = start(user, note)
    stranger = api_for(make_user("eve@example.com"))
    response = stranger.get(f"{DRAFTS}{draft_id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert api_for(user).get(f"{DRAFTS}{uuid.uuid4()}/").status_code == 404
    # Nor start one from someone else's notes.
    refused = stranger.post(DRAFTS, {"brain_dump_uuids": [str(note.pk)]}, format="json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "notes_not_found"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "notes_required"),
        ({"brain_dump_uuids": ["nope"]}, "invalid"),
        ({"brain_dump_uuids": [str(uuid.uuid4())]}, "notes_not_found"),
        ({"min_chars": 500, "max_chars": 100}, "invalid_length_range"),
        ({"format": "poem"}, "invalid"),
        ({"network": "myspace"}, "unknown_network"),
        ({"network": "linkedin", "format": "thread"}, "thread_not_supported"),
    ],
)
def test_bad_input_is_400_with_a_code_and_queues_nothing(user, make_note, chat, payload, code):
    note = make_note(user, NOTE)
    if "brain_dump_uuids" not in payload and code != "notes_required":
        payload = {**payload, "brain_dump_uuids": [str(note.pk)]}
    response = api_for(user).post(DRAFTS, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not DraftRequest.objects.exists()
    assert generations_used(user) == 0


def test_the_synchronous_path_keeps_its_shape_and_names_the_angles(user, make_note, chat):
    note = make_note(user, NOTE)
    chat.reply(*REPLIES)
    response = api_for(user).post(
        "/api/posts/generate_from_dumps/", {"brain_dump_uuids": [str(note.pk)]}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"posts", "char_limit", "format", "model"}
    assert [p["angle"] for p in body["posts"]] == ["hook", "lesson", "question"]
    assert len(chat.completions) == 3
