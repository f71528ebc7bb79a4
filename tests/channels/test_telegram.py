"""Telegram, behind the same channel interface: the webhook secret, deep-link codes, voice /
audio / video notes into the pipeline, limits, questions, Bot API failures, setWebhook.

The Bot API is the loopback fake (tests/fakes/telegram_server.py), which checks the bot token in
every path and the bodies it receives.
"""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.channels import base, services
from mindpost.channels.models import ChannelLink, InboundMessage, InboundStatus
from mindpost.notes.models import Note, NoteStatus
from tests.channels.conftest import CHAT_ID, TG_SECRET, post_telegram, run_jobs, tg_update, voice_bytes
from tests.chat.helpers import GREECE, grounded_reply
from tests.factories import indexed_note
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.social_base import Fault
from tests.fakes.telegram_server import FakeTelegram

pytestmark = pytest.mark.django_db


def link(user: User, chat_id: int = CHAT_ID) -> ChannelLink:
    return ChannelLink.objects.create(
        user=user, channel="telegram", address=str(chat_id), address_hash=base.lookup_hash("address", str(chat_id))
    )


@pytest.fixture
def send_tg(api: APIClient, tg: FakeTelegram) -> Any:
    def send(update: dict[str, Any]) -> Any:
        response = post_telegram(api, update)
        assert response.status_code == 200, response.content
        return response

    return send


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", TG_SECRET + "x"])
def test_a_missing_or_wrong_secret_is_403_and_stores_nothing(
    api: APIClient, tg: FakeTelegram, queued: list[str], secret: str | None
) -> None:
    response = post_telegram(api, tg_update(text="hello"), secret=secret)
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_signature"
    assert not InboundMessage.objects.exists()
    assert queued == []


def test_without_a_secret_configured_everything_is_refused(api: APIClient, tg: FakeTelegram, settings: Any) -> None:
    settings.TELEGRAM_WEBHOOK_SECRET = ""
    assert post_telegram(api, tg_update(text="hello"), secret="").status_code == 403


def test_linking_through_the_deep_link(
    auth_api: APIClient, user: User, tg: FakeTelegram, send_tg: Any, queued: list[str]
) -> None:
    issued = auth_api.post("/api/channels/telegram/link-code/").json()
    assert issued["connect_url"] == f"https://t.me/MindPostTestBot?start={issued['code']}"
    send_tg(tg_update(text=f"/start {issued['code']}"))  # what Telegram sends when Start is pressed
    run_jobs(queued)
    linked = ChannelLink.objects.get()
    assert (linked.user, linked.channel, linked.address) == (user, "telegram", str(CHAT_ID))
    assert tg.texts_to(CHAT_ID) == [services.LINKED]
    (call,) = tg.calls("POST", rf"/bot{tg.token}/sendMessage")
    assert call.json()["chat_id"] == str(CHAT_ID)


def test_an_unknown_chat_gets_one_reply(tg: FakeTelegram, send_tg: Any, queued: list[str]) -> None:
    send_tg(tg_update(text="/start"))
    send_tg(tg_update(text="hi"))
    run_jobs(queued)
    assert tg.texts_to(CHAT_ID) == [services.UNKNOWN_SENDER]


def test_a_replayed_update_is_a_no_op(user: User, tg: FakeTelegram, api: APIClient, queued: list[str]) -> None:
    link(user)
    update = tg_update(photo=[{"file_id": "x"}])
    assert post_telegram(api, update).json()["received"] == 1
    assert post_telegram(api, update).json()["received"] == 0
    run_jobs(queued)
    assert tg.texts_to(CHAT_ID) == [services.ONLY_VOICE]


def test_group_chats_are_ignored(user: User, tg: FakeTelegram, send_tg: Any, queued: list[str]) -> None:
    link(user, chat_id=-100123)
    send_tg(tg_update(chat_id=-100123, chat_type="group", text="what did I say about Nikos?"))
    assert queued == []
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize("field", ["voice", "audio", "video_note"])
def test_voice_audio_and_video_notes_go_into_the_pipeline(
    user: User, tg: FakeTelegram, send_tg: Any, queued: list[str], field: str
) -> None:
    link(user)
    audio = voice_bytes()
    file_id = tg.add_file(audio, kind=field)
    update = tg_update()
    update["message"][field] = {"file_id": file_id, "duration": 2, "file_size": len(audio)}
    send_tg(update)
    run_jobs(queued)
    note = Note.objects.get(user=user)
    assert note.status == NoteStatus.PROCESSING
    assert note.audio_bytes == len(audio)
    assert tg.calls("POST", rf"/bot{tg.token}/getFile")[0].json() == {"file_id": file_id}
    assert tg.calls("GET", rf"/file/bot{tg.token}/{field}/.+")
    assert tg.texts_to(CHAT_ID) == [services.RECEIVED_VOICE]
    assert InboundMessage.objects.get().status == InboundStatus.WAITING_NOTE


def test_a_recording_over_the_length_limit_is_refused_before_download(
    user: User, tg: FakeTelegram, send_tg: Any, queued: list[str], settings: Any
) -> None:
    link(user)
    settings.NOTE_MAX_DURATION_SECONDS = 60
    file_id = tg.add_file(voice_bytes())
    send_tg(tg_update(voice={"file_id": file_id, "duration": 3600, "file_size": 1000}))
    run_jobs(queued)
    (reply,) = tg.texts_to(CHAT_ID)
    assert "60.0 minutes long; your limit is 1 minutes" in reply
    assert tg.calls("POST", rf"/bot{tg.token}/getFile") == []
    assert not Note.objects.exists()


def test_a_file_over_the_size_limit_is_refused(user: User, tg: FakeTelegram, send_tg: Any, queued: list[str]) -> None:
    link(user)
    # Announced small in the update, but getFile says 30 MB: past the bot download limit too.
    file_id = tg.add_file(voice_bytes(), declared_size=30 * 1024 * 1024)
    send_tg(tg_update(audio={"file_id": file_id, "duration": 20}))
    run_jobs(queued)
    assert tg.texts_to(CHAT_ID) == [services.TOO_LARGE.format(mb=20)]
    assert tg.calls("GET", r"/file/.+") == []


def test_a_question_is_answered_with_links(
    user: User, tg: FakeTelegram, send_tg: Any, queued: list[str], chat_fake: FakeOpenAI
) -> None:
    link(user)
    note = indexed_note(user, GREECE)
    chat_fake.chat_reply = grounded_reply
    send_tg(tg_update(text="Who did I meet in Greece?"))
    run_jobs(queued)
    (reply,) = tg.texts_to(CHAT_ID)
    assert reply.startswith("You met Stavros")
    assert f"https://mindpost.example/notes/{note.pk}/" in reply


def test_a_bot_api_failure_is_retried_without_losing_the_message(
    user: User, tg: FakeTelegram, send_tg: Any, queued: list[str]
) -> None:
    link(user)
    tg.add_fault(Fault("POST", rf"/bot{tg.token}/sendMessage", status=429, times=1))
    send_tg(tg_update(text="/help"))
    message_id = queued[0]
    with pytest.raises(base.TransientChannelError):
        run_jobs(queued)
    assert InboundMessage.objects.get(pk=message_id).status == InboundStatus.REPLYING
    run_jobs([message_id])
    assert tg.texts_to(CHAT_ID) == [services.HELP]


def test_set_webhook_command_sends_the_url_and_secret(tg: FakeTelegram) -> None:
    out = StringIO()
    call_command("telegram_set_webhook", "--url", "https://mindpost.example/telegram/webhook/", stdout=out)
    (registered,) = tg.webhooks
    assert registered["url"] == "https://mindpost.example/telegram/webhook/"
    assert registered["secret_token"] == TG_SECRET
    assert "Telegram webhook set" in out.getvalue()


def test_set_webhook_command_defaults_to_site_url_and_reports_refusals(tg: FakeTelegram, settings: Any) -> None:
    call_command("telegram_set_webhook", stdout=StringIO())
    assert tg.webhooks[0]["url"] == "https://mindpost.example/telegram/webhook/"
    settings.SITE_URL = "http://127.0.0.1:8000"  # Telegram takes HTTPS only
    with pytest.raises(CommandError, match="HTTPS URL"):
        call_command("telegram_set_webhook", stdout=StringIO())
    settings.TELEGRAM_BOT_TOKEN = ""
    with pytest.raises(CommandError, match="TELEGRAM_BOT_TOKEN"):
        call_command("telegram_set_webhook", stdout=StringIO())
