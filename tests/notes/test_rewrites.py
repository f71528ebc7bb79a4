"""Rewrites: POST /api/brain-dumps/{id}/rewrite/ answers 202 with a pending version, the job
(notes.rewrite_note) writes its body with the chat model (the loopback OpenAI fake here), the
user's own styles live in the notes settings, failures give the generation back, other users'
notes and versions are 404, and the transcript never changes."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from mindpost.billing.models import UsageCounter
from mindpost.notes import api_rewrites, rewrites, tasks
from mindpost.notes.models import Note, NoteStatus, NoteVersion, RewriteStatus
from tests.billing.conftest import make_subscription
from tests.factories import NoteFactory
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.django_db

TEXT = "Um so I met Stavros at the harbour in Nafplio, uh, he mends nets. We should call him next week."
SEGMENTS = [{"start": 0.0, "end": 4.0, "text": "Um so I met Stavros at the harbour in Nafplio,"}]
SETTINGS_URL = "/api/brain-dumps/settings/"


def rewrite_url(note: Any) -> str:
    return f"/api/brain-dumps/{note.pk}/rewrite/"


def versions_url(note: Any, version_id: Any = None) -> str:
    return f"/api/brain-dumps/{note.pk}/versions/" + (f"{version_id}/" if version_id else "")


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def generations_used(user: Any) -> int:
    counter = UsageCounter.objects.filter(user=user, metric="generations").first()
    return counter.used if counter else 0


@pytest.fixture
def note(user: Any) -> Note:
    made: Note = NoteFactory.create(user=user, text=TEXT)
    made.segments = SEGMENTS
    made.save(update_fields=["segments_data"])
    return made


@pytest.fixture
def fake(openai_backends: FakeOpenAI) -> FakeOpenAI:
    """The chat model is the loopback fake; its reply names the style it was asked for."""

    def reply(request: dict[str, Any]) -> str:
        system = request["messages"][0]["content"]
        style = system.split("Style: ", 1)[1] if "Style: " in system else "?"
        return f"Rewritten ({style[:20]}): I met Stavros in Nafplio."

    openai_backends.chat_reply = reply
    return openai_backends


def snapshot(note: Note) -> tuple[str, str, str, str, str]:
    fresh = Note.objects.get(pk=note.pk)
    return (fresh.transcription, fresh.title, fresh.segments_data, fresh.status, fresh.updated_at.isoformat())


def run_pending(note: Note) -> None:
    for version_id in NoteVersion.objects.filter(note=note, status=RewriteStatus.PENDING).values_list("pk", flat=True):
        tasks.rewrite_note(version_id=str(version_id))


# --- the happy path --------------------------------------------------------------------------


def test_rewrite_answers_202_pending_then_the_job_writes_the_version(
    auth_api: APIClient, user: Any, note: Note, fake: FakeOpenAI, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = auth_api.post(rewrite_url(note), {"style": "clean_up"}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["style"] == "clean_up"
    assert body["style_label"] == "Clean up"
    assert body["body"] == ""
    assert body["failure_code"] is None
    assert len(callbacks) == 1  # the job is queued on commit
    assert fake.calls("/v1/chat/completions") == []  # nothing ran in the request
    assert generations_used(user) == 1  # metered like a post draft

    tasks.rewrite_note(version_id=body["id"])

    done = auth_api.get(versions_url(note, body["id"])).json()
    assert done["status"] == "done"
    assert done["body"].startswith("Rewritten (Rewrite it as clean")
    assert done["model"]
    listed = auth_api.get(versions_url(note)).json()
    assert [v["id"] for v in listed] == [body["id"]]
    assert generations_used(user) == 1
    # The model got the transcript and the style's instructions.
    request = fake.calls("/v1/chat/completions")[0].json()
    assert TEXT in request["messages"][-1]["content"]
    assert rewrites.STYLES[0].instructions in request["messages"][0]["content"]


@pytest.mark.parametrize("style", [s.key for s in rewrites.STYLES])
def test_every_built_in_style_sends_its_instructions(auth_api: APIClient, note: Note, fake: FakeOpenAI, style: str):
    response = auth_api.post(rewrite_url(note), {"style": style}, format="json")
    assert response.status_code == 202, response.content
    run_pending(note)
    version = NoteVersion.objects.get(pk=response.json()["id"])
    assert version.status == RewriteStatus.DONE
    assert version.style == style
    instructions = next(s.instructions for s in rewrites.STYLES if s.key == style)
    assert instructions in fake.calls("/v1/chat/completions")[-1].json()["messages"][0]["content"]


def test_versions_list_newest_first_and_delete(auth_api: APIClient, note: Note, fake: FakeOpenAI) -> None:
    first = auth_api.post(rewrite_url(note), {"style": "summary"}, format="json").json()
    second = auth_api.post(rewrite_url(note), {"style": "email"}, format="json").json()
    run_pending(note)
    assert [v["id"] for v in auth_api.get(versions_url(note)).json()] == [second["id"], first["id"]]
    assert auth_api.delete(versions_url(note, first["id"])).status_code == 204
    assert auth_api.get(versions_url(note, first["id"])).status_code == 404
    assert [v["id"] for v in auth_api.get(versions_url(note)).json()] == [second["id"]]
    assert Note.objects.filter(pk=note.pk).exists()


# --- the user's own styles ---------------------------------------------------------------------


def test_custom_style_saved_in_settings_and_used(auth_api: APIClient, note: Note, fake: FakeOpenAI) -> None:
    styles = [{"name": "Pirate", "instructions": "Talk like a pirate, matey."}]
    saved = auth_api.patch(SETTINGS_URL, {"rewrite_styles": styles}, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["rewrite_styles"] == styles
    assert auth_api.get(SETTINGS_URL).json()["rewrite_styles"] == styles
    # Other settings are left alone by a styles-only PATCH, and vice versa.
    assert auth_api.patch(SETTINGS_URL, {"keep_audio": False}, format="json").json()["rewrite_styles"] == styles

    response = auth_api.post(rewrite_url(note), {"style": "custom:Pirate"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["style_label"] == "Pirate"
    run_pending(note)
    assert NoteVersion.objects.get(pk=response.json()["id"]).status == RewriteStatus.DONE
    assert "Talk like a pirate, matey." in fake.calls("/v1/chat/completions")[-1].json()["messages"][0]["content"]

    assert auth_api.patch(SETTINGS_URL, {"rewrite_styles": []}, format="json").json()["rewrite_styles"] == []
    gone = auth_api.post(rewrite_url(note), {"style": "custom:Pirate"}, format="json")
    assert gone.status_code == 400
    assert gone.json()["code"] == "unknown_style"


@pytest.mark.parametrize(
    ("styles", "code"),
    [
        ([{"name": f"S{i}", "instructions": "x"} for i in range(11)], "too_many_styles"),
        ([{"name": "N" * 41, "instructions": "x"}], "style_name_too_long"),
        ([{"name": "Short", "instructions": "x" * 501}], "style_instructions_too_long"),
        ([{"name": "  ", "instructions": "x"}], "style_name_required"),
        ([{"name": "Terse", "instructions": " "}], "style_instructions_required"),
        ([{"name": "Terse", "instructions": "a"}, {"name": "terse", "instructions": "b"}], "duplicate_style"),
        ([{"name": 3, "instructions": "b"}], "invalid_styles"),
        (["just a string"], "invalid_styles"),
        ({"name": "not a list"}, "invalid_styles"),
    ],
)
def test_custom_styles_are_validated(auth_api: APIClient, user: Any, styles: Any, code: str) -> None:
    response = auth_api.patch(SETTINGS_URL, {"rewrite_styles": styles}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert rewrites.custom_styles(user=user) == []


def test_limits_are_inclusive(auth_api: APIClient) -> None:
    styles = [{"name": ("N" * 38) + f"{i:02}", "instructions": "x" * 500} for i in range(10)]
    response = auth_api.patch(SETTINGS_URL, {"rewrite_styles": styles}, format="json")
    assert response.status_code == 200, response.content
    assert len(response.json()["rewrite_styles"]) == 10


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [{"style": "sonnet"}, {"style": "custom:nothing"}, {"style": ""}, {}])
def test_unknown_style_is_400_and_takes_no_unit(auth_api: APIClient, user: Any, note: Note, payload: Any) -> None:
    response = auth_api.post(rewrite_url(note), payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_style"
    assert generations_used(user) == 0
    assert not NoteVersion.objects.exists()


def test_a_note_still_processing_is_409(auth_api: APIClient, user: Any) -> None:
    processing = NoteFactory.create(user=user, text=TEXT, status=NoteStatus.PROCESSING)
    response = auth_api.post(rewrite_url(processing), {"style": "summary"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "note_not_ready"
    assert generations_used(user) == 0


# --- isolation -----------------------------------------------------------------------------------


def test_another_users_note_and_versions_are_404(
    auth_api: APIClient, user: Any, note: Note, make_user: Any, fake: FakeOpenAI
) -> None:
    mine = auth_api.post(rewrite_url(note), {"style": "summary"}, format="json").json()
    bob = make_user("bob@example.com")
    bobs_note = NoteFactory.create(user=bob, text="Bob's private thoughts.")
    bob_client = client_for(bob)

    assert bob_client.post(rewrite_url(note), {"style": "summary"}, format="json").status_code == 404
    assert bob_client.get(versions_url(note)).status_code == 404
    assert bob_client.get(versions_url(note, mine["id"])).status_code == 404
    assert bob_client.delete(versions_url(note, mine["id"])).status_code == 404
    # Alice's version reached through Bob's own note is not found either.
    assert bob_client.get(versions_url(bobs_note, mine["id"])).status_code == 404
    assert bob_client.delete(versions_url(bobs_note, mine["id"])).status_code == 404
    assert NoteVersion.objects.filter(pk=mine["id"]).exists()
    # Alice cannot rewrite Bob's note, and Bob's own styles are not Alice's.
    assert auth_api.post(rewrite_url(bobs_note), {"style": "summary"}, format="json").status_code == 404
    bob_client.patch(SETTINGS_URL, {"rewrite_styles": [{"name": "Bobby", "instructions": "b"}]}, format="json")
    theirs = auth_api.post(rewrite_url(note), {"style": "custom:Bobby"}, format="json")
    assert theirs.status_code == 400
    assert theirs.json()["code"] == "unknown_style"
    assert auth_api.get(SETTINGS_URL).json()["rewrite_styles"] == []


# --- Prefer: wait ----------------------------------------------------------------------------------


def test_prefer_wait_returns_the_finished_version(
    auth_api: APIClient, note: Note, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_status = rewrites.version_status
    polls = {"n": 0}

    def job_runs_during_the_wait(*, version_id: Any) -> str | None:
        polls["n"] += 1
        if polls["n"] == 2:  # the worker finishes while the request waits
            tasks.rewrite_note(version_id=str(version_id))
        return real_status(version_id=version_id)

    monkeypatch.setattr(api_rewrites.rewrites, "version_status", job_runs_during_the_wait)
    response = auth_api.post(rewrite_url(note), {"style": "journal"}, format="json", HTTP_PREFER="wait=30")
    assert response.status_code == 202
    assert response["Preference-Applied"] == "wait=30"
    assert response.json()["status"] == "done"
    assert response.json()["body"].startswith("Rewritten")
    assert polls["n"] >= 2


def test_prefer_wait_gives_up_and_returns_pending(auth_api: APIClient, note: Note) -> None:
    response = auth_api.post(rewrite_url(note), {"style": "journal"}, format="json", HTTP_PREFER="wait=1")
    assert response.status_code == 202
    assert response["Preference-Applied"] == "wait=1"
    assert response.json()["status"] == "pending"


def test_no_prefer_header_means_no_preference_applied(auth_api: APIClient, note: Note) -> None:
    response = auth_api.post(rewrite_url(note), {"style": "journal"}, format="json")
    assert "Preference-Applied" not in response


# --- the transcript never changes, failures give the unit back -----------------------------------------


def test_a_rewrite_never_changes_the_transcript(auth_api: APIClient, note: Note, fake: FakeOpenAI) -> None:
    before = snapshot(note)
    for style in ("clean_up", "summary", "meeting_notes"):
        auth_api.post(rewrite_url(note), {"style": style}, format="json")
    run_pending(note)
    assert NoteVersion.objects.filter(note=note, status=RewriteStatus.DONE).count() == 3
    assert snapshot(note) == before
    assert auth_api.get(f"/api/brain-dumps/{note.pk}/").json()["transcription"] == TEXT


def test_model_down_fails_the_version_gives_the_unit_back_and_keeps_the_transcript(
    auth_api: APIClient, user: Any, note: Note, fake: FakeOpenAI
) -> None:
    before = snapshot(note)
    fake.fail("/v1/chat/completions", status=503)
    version_id = auth_api.post(rewrite_url(note), {"style": "email"}, format="json").json()["id"]
    assert generations_used(user) == 1
    tasks.rewrite_note(version_id=version_id)
    failed = auth_api.get(versions_url(note, version_id)).json()
    assert failed["status"] == "failed"
    assert failed["failure_code"] == "model_unavailable"
    assert failed["failure_reason"]
    assert failed["body"] == ""
    assert generations_used(user) == 0
    assert snapshot(note) == before
    # A duplicate delivery of the job changes nothing and gives nothing back twice.
    tasks.rewrite_note(version_id=version_id)
    assert generations_used(user) == 0


def test_model_busy_fails_the_version_with_model_busy(
    auth_api: APIClient, user: Any, note: Note, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contextlib import contextmanager

    from mindpost.ai.queue import busy_error

    @contextmanager
    def busy(**kwargs: Any) -> Any:
        raise busy_error(ahead=3)
        yield

    monkeypatch.setattr(rewrites, "llm_slot", busy)
    before = snapshot(note)
    version_id = auth_api.post(rewrite_url(note), {"style": "email"}, format="json").json()["id"]
    tasks.rewrite_note(version_id=version_id)
    version = NoteVersion.objects.get(pk=version_id)
    assert (version.status, version.failure_code) == (RewriteStatus.FAILED, "model_busy")
    assert generations_used(user) == 0
    assert fake.calls("/v1/chat/completions") == []
    assert snapshot(note) == before


def test_the_job_uses_the_draft_lane(auth_api: APIClient, note: Note, fake: FakeOpenAI, monkeypatch: Any) -> None:
    lanes: list[Any] = []
    real = rewrites.llm_slot

    def spy(**kwargs: Any) -> Any:
        lanes.append(kwargs["lane"])
        return real(**kwargs)

    monkeypatch.setattr(rewrites, "llm_slot", spy)
    auth_api.post(rewrite_url(note), {"style": "summary"}, format="json")
    run_pending(note)
    assert [lane.name for lane in lanes] == ["DRAFT"]


def test_a_pending_version_whose_job_died_is_shown_failed(auth_api: APIClient, user: Any, note: Note) -> None:
    from datetime import timedelta

    from django.utils import timezone

    version_id = auth_api.post(rewrite_url(note), {"style": "summary"}, format="json").json()["id"]
    NoteVersion.objects.filter(pk=version_id).update(updated_at=timezone.now() - timedelta(hours=1))
    listed = auth_api.get(versions_url(note)).json()
    assert (listed[0]["status"], listed[0]["failure_code"]) == ("failed", "rewrite_timed_out")
    assert generations_used(user) == 0


def test_clean_reply_strips_fences_and_preambles() -> None:
    assert rewrites.clean_reply("```markdown\n## Decisions\n- none\n```") == "## Decisions\n- none"
    assert rewrites.clean_reply("Here is the rewritten note:\n\nI met Stavros.") == "I met Stavros."
    assert rewrites.clean_reply("  I met Stavros.  ") == "I met Stavros."


def test_rewrites_share_the_plans_generation_quota(
    auth_api: APIClient, user: Any, note: Note, fake: FakeOpenAI, settings: Any, plans: Any
) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_rewrites"
    plan = plans["basic"]
    plan.generations_per_period = 1
    plan.save()
    make_subscription(user, plan)
    fake.fail("/v1/chat/completions", status=503)
    failed = auth_api.post(rewrite_url(note), {"style": "summary"}, format="json")
    assert failed.status_code == 202
    run_pending(note)
    assert generations_used(user) == 0  # the failed rewrite gave its unit back
    assert auth_api.post(rewrite_url(note), {"style": "summary"}, format="json").status_code == 202
    refused = auth_api.post(rewrite_url(note), {"style": "email"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "limit_reached"
    assert NoteVersion.objects.filter(note=note).count() == 2  # nothing stored for the refused one
