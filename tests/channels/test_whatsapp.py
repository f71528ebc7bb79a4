"""WhatsApp: the webhook handshake and signature, linking, replays, unknown numbers, limits, voice
messages becoming notes, questions answered from the notes, and Graph API failures retried.

The Graph API is the loopback fake (tests/fakes/graph_server.py), which checks the bearer token
and the message bodies it receives. The channel job runs in-process (`run_jobs`); the notes
pipeline runs with the stub AI of tests/notes/test_pipeline.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.jobs import Job
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.billing.metering import Metric
from mindpost.billing.models import UsageCounter
from mindpost.channels import base, services
from mindpost.channels.models import ChannelLink, InboundMessage, InboundStatus, LinkCode
from mindpost.core.jobs import SettingsRetry
from mindpost.notes import services as note_services
from mindpost.notes.models import Note, NoteStatus
from tests.billing.conftest import billing_on, fake_stripe, make_subscription  # noqa: F401
from tests.channels.conftest import (
    NUMBER,
    OTHER_NUMBER,
    messages,
    post_whatsapp,
    run_jobs,
    sign,
    voice_bytes,
    wa_message,
    wa_payload,
)
from tests.chat.helpers import GREECE, OSAKA, grounded_reply
from tests.factories import indexed_note
from tests.fakes.graph_server import FakeGraph
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.social_base import Fault
from tests.notes.test_pipeline import StubEmbedder, StubTranscriber

pytestmark = pytest.mark.django_db


def link(user: User, number: str = NUMBER) -> ChannelLink:
    return ChannelLink.objects.create(
        user=user, channel="whatsapp", address=number, address_hash=base.lookup_hash("address", number)
    )


# --- handshake -------------------------------------------------------------------------------


def test_handshake_echoes_the_challenge_for_the_right_verify_token(api: APIClient, graph: FakeGraph) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "verify-me-please", "hub.challenge": "1158201444"}
    response = api.get("/whatsapp/webhook/", params)
    assert response.status_code == 200
    assert response.content == b"1158201444"
    assert response["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "verify-me-please", "hub.challenge": "1"},
    ],
)
def test_a_failed_handshake_is_403(api: APIClient, graph: FakeGraph, params: dict[str, str]) -> None:
    response = api.get("/whatsapp/webhook/", params)
    assert response.status_code == 403
    assert response.json()["code"] == "verification_failed"


def test_without_a_verify_token_configured_no_handshake_succeeds(api: APIClient, settings: Any) -> None:
    settings.WHATSAPP_VERIFY_TOKEN = ""
    response = api.get("/whatsapp/webhook/", {"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"})
    assert response.status_code == 403


# --- signature -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [None, "sha256=" + "0" * 64, "sha1=abc", "garbage", "other-secret"],
)
def test_unsigned_or_wrongly_signed_posts_are_403_and_store_nothing(
    api: APIClient, graph: FakeGraph, queued: list[str], signature: str | None
) -> None:
    payload = wa_payload(wa_message("text", body="hello"), phone_number_id=graph.phone_number_id)
    if signature == "other-secret":
        import json

        signature = sign(json.dumps(payload).encode(), secret="not-the-app-secret")
    response = post_whatsapp(api, payload, signature=signature)
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_signature"
    assert not InboundMessage.objects.exists()
    assert queued == []
    assert graph.requests == []


def test_a_signature_of_another_body_is_refused(api: APIClient, graph: FakeGraph, queued: list[str]) -> None:
    import json

    signed = json.dumps(wa_payload(wa_message("text", body="hi"), phone_number_id=graph.phone_number_id)).encode()
    tampered = wa_payload(wa_message("text", body="tampered"), phone_number_id=graph.phone_number_id)
    assert post_whatsapp(api, tampered, signature=sign(signed)).status_code == 403
    assert not InboundMessage.objects.exists()


def test_without_an_app_secret_every_post_is_refused(api: APIClient, graph: FakeGraph, settings: Any) -> None:
    payload = wa_payload(wa_message("text", body="hello"), phone_number_id=graph.phone_number_id)
    settings.WHATSAPP_APP_SECRET = ""
    assert post_whatsapp(api, payload, signature=sign(b"{}", secret="")).status_code == 403


def test_a_signed_body_that_is_not_json_is_400(api: APIClient, graph: FakeGraph) -> None:
    body = b"{not json"
    response = api.generic(
        "POST",
        "/whatsapp/webhook/",
        body.decode(),
        content_type="application/json",
        headers={"X-Hub-Signature-256": sign(body)},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payload"


def test_status_updates_are_accepted_and_ignored(api: APIClient, graph: FakeGraph, queued: list[str]) -> None:
    payload = wa_payload(wa_message("text", body="x"), phone_number_id=graph.phone_number_id)
    value = payload["entry"][0]["changes"][0]["value"]
    value["statuses"] = [{"id": "wamid.1", "status": "delivered", "recipient_id": NUMBER}]
    value["messages"] = []
    response = post_whatsapp(api, payload)
    assert response.status_code == 200
    assert response.json()["received"] == 0
    assert not InboundMessage.objects.exists()


# --- storing, replays, the job ----------------------------------------------------------------


def test_a_message_is_stored_encrypted_and_its_job_queued_after_commit(
    api: APIClient, graph: FakeGraph, django_capture_on_commit_callbacks: Any
) -> None:
    message = wa_message("text", body="who did I meet?")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_whatsapp(api, wa_payload(message, phone_number_id=graph.phone_number_id))
    assert response.status_code == 200
    stored = InboundMessage.objects.get()
    job = ProcrastinateJob.objects.get(task_name="channels.handle_inbound")
    assert job.args == {"message_id": str(stored.pk)}
    assert job.lock == f"inbound:{stored.pk}"
    assert job.queue_name == "channels"
    # Neither the number nor the text nor the message id (it encodes the number) is in plaintext.
    with connection.cursor() as cursor:
        cursor.execute("SELECT sender, payload, dedup_hash, sender_hash FROM channels_inboundmessage")
        row = " ".join(str(value) for value in cursor.fetchone())
    assert NUMBER not in row
    assert "who did I meet" not in row
    assert message["id"] not in row


def test_a_replayed_message_is_a_no_op(
    api: APIClient, user: User, graph: FakeGraph, send_wa: Any, queued: list[str]
) -> None:
    link(user)
    message = wa_message("image")
    send_wa(message)
    run_jobs(queued)
    replay = send_wa(message)  # WhatsApp retries a delivery it thinks failed
    assert replay.json()["received"] == 0
    assert queued == []
    assert InboundMessage.objects.count() == 1
    assert len(graph.texts_to(NUMBER)) == 1


# --- unknown numbers and linking ---------------------------------------------------------------


def test_an_unknown_number_gets_one_polite_reply_then_silence(
    graph: FakeGraph, send_wa: Any, queued: list[str]
) -> None:
    send_wa(wa_message("text", body="hello?"))
    send_wa(wa_message("audio", media_id="123"))
    send_wa(wa_message("text", body="anyone?"))
    run_jobs(queued)
    replies = graph.texts_to(NUMBER)
    assert replies == [services.UNKNOWN_SENDER]
    # The fake checked the bearer token and the body of the one send.
    (call,) = graph.calls("POST", rf"/v21.0/{graph.phone_number_id}/messages")
    assert call.headers["authorization"] == f"Bearer {graph.token}"
    assert call.json()["to"] == NUMBER
    assert {m.outcome for m in messages()} == {"unknown_sender"}
    assert all(m.status == InboundStatus.DONE for m in messages())
    assert not Note.objects.exists()
    assert graph.calls("GET", r"/v21.0/123") == []  # an unknown sender's media is never fetched


def test_linking_with_a_code_from_settings(
    auth_api: APIClient, user: User, graph: FakeGraph, send_wa: Any, queued: list[str]
) -> None:
    issued = auth_api.post("/api/channels/whatsapp/link-code/")
    assert issued.status_code == 201, issued.content
    code = issued.json()["code"]
    assert not ChannelLink.objects.exists()  # nothing is attached before the code comes back
    send_wa(wa_message("text", body=f"MP-{code}"))
    run_jobs(queued)
    linked = ChannelLink.objects.get()
    assert linked.user == user
    assert linked.address == NUMBER
    assert graph.texts_to(NUMBER) == [services.LINKED]
    assert not LinkCode.objects.exists()  # used up
    with connection.cursor() as cursor:
        cursor.execute("SELECT address, address_hash FROM channels_channellink")
        assert NUMBER not in " ".join(cursor.fetchone())
    listed = auth_api.get("/api/channels/").json()["results"]
    whatsapp = next(row for row in listed if row["channel"] == "whatsapp")
    assert whatsapp["link"]["address"] == "•••• 4567"
    assert whatsapp["link"]["id"] == str(linked.pk)

    # The code worked once: sent again from another number it links nothing.
    send_wa(wa_message("text", body=f"MP-{code}", sender=OTHER_NUMBER))
    run_jobs(queued)
    assert ChannelLink.objects.count() == 1
    assert graph.texts_to(OTHER_NUMBER) == [services.BAD_CODE]


def test_an_expired_code_links_nothing(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str], settings: Any
) -> None:
    settings.CHANNELS_LINK_CODE_MINUTES = -1
    issued = services.link_code_create(user=user, channel=base.get("whatsapp"))
    send_wa(wa_message("text", body=f"mp-{issued.code.lower()}"))
    run_jobs(queued)
    assert not ChannelLink.objects.exists()
    assert graph.texts_to(NUMBER) == [services.BAD_CODE]


def test_a_new_code_replaces_the_old_one(user: User, graph: FakeGraph, send_wa: Any, queued: list[str]) -> None:
    old = services.link_code_create(user=user, channel=base.get("whatsapp"))
    services.link_code_create(user=user, channel=base.get("whatsapp"))
    send_wa(wa_message("text", body=f"MP-{old.code}"))
    run_jobs(queued)
    assert not ChannelLink.objects.exists()


# --- what linked numbers send -------------------------------------------------------------------


def test_non_audio_media_gets_a_clear_reply(user: User, graph: FakeGraph, send_wa: Any, queued: list[str]) -> None:
    link(user)
    send_wa(wa_message("image"), wa_message("document"))
    run_jobs(queued)
    assert graph.texts_to(NUMBER) == [services.ONLY_VOICE, services.ONLY_VOICE]
    assert not Note.objects.exists()


@pytest.fixture
def ai(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    stubs: dict[str, Any] = {
        "transcriber": StubTranscriber("I met Nikos in Athens. He builds wooden boats in Nafplio."),
        "embedder": StubEmbedder(),
    }
    monkeypatch.setattr(note_services, "get_transcriber", lambda: stubs["transcriber"])
    monkeypatch.setattr(note_services, "get_embedder", lambda: stubs["embedder"])
    return stubs


def test_a_voice_message_becomes_a_note_and_the_sender_gets_its_title_and_link(
    user: User,
    graph: FakeGraph,
    send_wa: Any,
    queued: list[str],
    ai: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    link(user)
    audio = voice_bytes()
    media_id = graph.add_media(audio)
    send_wa(wa_message("audio", media_id=media_id))
    run_jobs(queued)
    note = Note.objects.get(user=user)
    assert note.status == NoteStatus.PROCESSING
    assert note.audio_bytes == len(audio)
    assert graph.texts_to(NUMBER) == [services.RECEIVED_VOICE]
    # Both Graph steps carried the bearer token.
    for call in [*graph.calls("GET", rf"/v21.0/{media_id}"), *graph.calls("GET", rf"/media/{media_id}/download")]:
        assert call.headers["authorization"] == f"Bearer {graph.token}"
    assert InboundMessage.objects.get().status == InboundStatus.WAITING_NOTE

    # The notes pipeline finishes: its signal queues the message's job again.
    with django_capture_on_commit_callbacks(execute=True):
        note_services.note_process(note_id=note.pk, final_attempt=False)
    assert Note.objects.get(pk=note.pk).status == NoteStatus.READY
    assert len(queued) == 1
    run_jobs(queued)
    ready = graph.texts_to(NUMBER)[-1]
    assert ready.startswith("Saved: I met Nikos in Athens")
    assert "He builds wooden boats in Nafplio." in ready
    assert f"https://mindpost.example/notes/{note.pk}/" in ready
    assert InboundMessage.objects.get().status == InboundStatus.DONE
    assert UsageCounter.objects.get(user=user, metric=Metric.RECORDINGS).used == 1  # the upload's quota


def test_a_failed_note_is_reported_to_the_sender(
    user: User,
    graph: FakeGraph,
    send_wa: Any,
    queued: list[str],
    ai: dict[str, Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    link(user)
    send_wa(wa_message("audio", media_id=graph.add_media(voice_bytes())))
    run_jobs(queued)
    ai["transcriber"].text = "   "
    with django_capture_on_commit_callbacks(execute=True):
        note_services.note_process(note_id=Note.objects.get().pk, final_attempt=False)
    run_jobs(queued)
    assert graph.texts_to(NUMBER)[-1] == services.NOTE_FAILED.format(reason=note_services.FAILURE_MESSAGES["no_speech"])


def test_media_over_the_size_limit_is_refused_before_download(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str], settings: Any
) -> None:
    link(user)
    settings.NOTE_MAX_UPLOAD_BYTES = 1024 * 1024
    media_id = graph.add_media(voice_bytes(), declared_size=5 * 1024 * 1024)
    send_wa(wa_message("audio", media_id=media_id))
    run_jobs(queued)
    assert graph.texts_to(NUMBER) == [services.TOO_LARGE.format(mb=1)]
    assert graph.calls("GET", rf"/media/{media_id}/download") == []
    assert not Note.objects.exists()


def test_media_larger_than_announced_is_cut_off_while_downloading(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str], settings: Any
) -> None:
    link(user)
    settings.NOTE_MAX_UPLOAD_BYTES = 1024 * 1024
    media_id = graph.add_media(b"\0" * (2 * 1024 * 1024), declared_size=1000)
    send_wa(wa_message("audio", media_id=media_id))
    run_jobs(queued)
    assert graph.texts_to(NUMBER) == [services.TOO_LARGE.format(mb=1)]
    assert not Note.objects.exists()


def test_a_recording_over_the_length_limit_gets_the_upload_message(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str], settings: Any
) -> None:
    link(user)
    settings.NOTE_MAX_DURATION_SECONDS = 60
    send_wa(wa_message("audio", media_id=graph.add_media(voice_bytes(seconds=65))))
    run_jobs(queued)
    (reply,) = graph.texts_to(NUMBER)
    assert "minutes long; your limit is 1 minutes" in reply
    assert InboundMessage.objects.get().outcome == "recording_too_long"
    assert not Note.objects.exists()


def test_audio_that_is_not_a_recording_gets_the_upload_message(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str]
) -> None:
    link(user)
    send_wa(wa_message("audio", media_id=graph.add_media(b"this is not audio at all" * 10)))
    run_jobs(queued)
    assert InboundMessage.objects.get().outcome == "unsupported_format"
    assert graph.texts_to(NUMBER)[0].startswith("This file is not a recording we can read.")


def test_over_the_recordings_quota(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str], request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue("billing_on")
    plan = request.getfixturevalue("plans")["basic"]
    plan.recordings_per_period = 0
    plan.save()
    make_subscription(user, plan)
    link(user)
    send_wa(wa_message("audio", media_id=graph.add_media(voice_bytes())))
    run_jobs(queued)
    assert InboundMessage.objects.get().outcome == "limit_reached"
    assert graph.texts_to(NUMBER) == ["Recording limit reached. Please upgrade your plan."]
    assert not Note.objects.exists()


# --- questions ---------------------------------------------------------------------------------------


def test_a_text_message_is_answered_from_the_notes_with_links(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str], chat_fake: FakeOpenAI
) -> None:
    link(user)
    greece = indexed_note(user, GREECE)
    indexed_note(user, OSAKA)
    chat_fake.chat_reply = grounded_reply
    send_wa(wa_message("text", body="Who did I meet in Greece?"))
    run_jobs(queued)
    (reply,) = graph.texts_to(NUMBER)
    assert reply.startswith("You met Stavros in Nafplio")
    assert "Sources:\n[1] https://mindpost.example/notes/" in reply
    assert f"/notes/{greece.pk}/" in reply
    assert UsageCounter.objects.get(user=user, metric=Metric.CHAT).used == 1
    # A follow-up continues the same conversation.
    send_wa(wa_message("text", body="What else did he say?"))
    run_jobs(queued)
    assert "workshop" in graph.texts_to(NUMBER)[-1]
    assert ChannelLink.objects.get().conversation is not None


def test_over_the_chat_quota(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str], chat_fake: FakeOpenAI, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue("billing_on")
    plan = request.getfixturevalue("plans")["basic"]
    plan.chat_messages_per_period = 0
    plan.save()
    make_subscription(user, plan)
    link(user)
    send_wa(wa_message("text", body="Who did I meet in Greece?"))
    run_jobs(queued)
    assert graph.texts_to(NUMBER) == ["Chat message limit reached. Please upgrade your plan."]
    assert chat_fake.calls("/v1/chat/completions") == []


# --- Graph API failures ------------------------------------------------------------------------------


def test_a_failed_reply_is_retried_without_losing_the_message(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str]
) -> None:
    link(user)
    graph.add_fault(Fault("POST", rf"/v21.0/{graph.phone_number_id}/messages", status=500, times=1))
    send_wa(wa_message("image"))
    message_id = queued[0]
    with pytest.raises(base.TransientChannelError) as failure:
        run_jobs(queued)
    # The job's retry policy retries exactly this error.
    decision = SettingsRetry("channels").get_retry_decision(exception=failure.value, job=_job(attempts=0))
    assert decision is not None
    stored = InboundMessage.objects.get(pk=message_id)
    assert stored.status == InboundStatus.REPLYING
    assert stored.reply == services.ONLY_VOICE
    run_jobs([message_id])  # the retry
    assert graph.texts_to(NUMBER) == [services.ONLY_VOICE]
    assert InboundMessage.objects.get(pk=message_id).status == InboundStatus.DONE


def test_a_failed_media_download_is_retried_and_makes_one_note(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str]
) -> None:
    link(user)
    media_id = graph.add_media(voice_bytes())
    graph.add_fault(Fault("GET", rf"/media/{media_id}/download", status=503, times=1))
    send_wa(wa_message("audio", media_id=media_id))
    message_id = queued[0]
    with pytest.raises(base.TransientChannelError):
        run_jobs(queued)
    assert InboundMessage.objects.get(pk=message_id).status == InboundStatus.RECEIVED
    assert not Note.objects.exists()
    run_jobs([message_id])
    assert Note.objects.count() == 1
    assert graph.texts_to(NUMBER) == [services.RECEIVED_VOICE]


def test_the_last_attempt_tells_the_sender_instead_of_failing_silently(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str]
) -> None:
    link(user)
    media_id = graph.add_media(voice_bytes())
    graph.add_fault(Fault("GET", rf"/v21.0/{media_id}", status=500, times=1))
    send_wa(wa_message("audio", media_id=media_id))
    run_jobs(queued, final_attempt=True)
    assert graph.texts_to(NUMBER) == [services.DOWNLOAD_FAILED]


def test_a_reply_that_never_goes_through_marks_the_message_failed(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str]
) -> None:
    link(user)
    graph.add_fault(Fault("POST", rf"/v21.0/{graph.phone_number_id}/messages", status=503, times=1))
    send_wa(wa_message("image"))
    message_id = queued[0]
    with pytest.raises(base.TransientChannelError):
        run_jobs(queued, final_attempt=True)
    assert InboundMessage.objects.get(pk=message_id).status == InboundStatus.FAILED


def _job(*, attempts: int) -> Job:
    return Job(
        id=1, queue="channels", lock=None, queueing_lock=None, task_name="channels.handle_inbound", attempts=attempts
    )


def test_messages_to_another_number_of_the_same_app_are_ignored(
    api: APIClient, graph: FakeGraph, queued: list[str]
) -> None:
    payload = wa_payload(wa_message("text", body="hello"), phone_number_id="5550001111")
    response = post_whatsapp(api, payload)
    assert response.status_code == 200
    assert response.json()["received"] == 0
    assert queued == []


def test_a_question_long_after_the_last_one_starts_a_new_conversation(user: User, settings: Any) -> None:
    from mindpost.chat.models import Conversation

    linked = link(user)
    linked.conversation = Conversation.objects.create(user=user, title="Greece")
    linked.save()
    assert services._conversation_for(linked) == linked.conversation
    settings.CHANNELS_CONVERSATION_MINUTES = 0
    assert services._conversation_for(linked) is None


def test_a_message_whose_job_was_lost_is_queued_again_by_the_sweep(
    user: User, graph: FakeGraph, send_wa: Any, queued: list[str]
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    link(user)
    send_wa(wa_message("image"))
    message_id = queued.pop()  # the queue was unreachable: the job never ran
    assert services.inbound_requeue_orphans(older_than_seconds=300) == 0  # too recent to tell
    InboundMessage.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    assert services.inbound_requeue_orphans(older_than_seconds=300) == 1
    assert queued == [message_id]
    run_jobs(queued)
    assert graph.texts_to(NUMBER) == [services.ONLY_VOICE]
    InboundMessage.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    assert services.inbound_requeue_orphans(older_than_seconds=300) == 0  # done: nothing to do
