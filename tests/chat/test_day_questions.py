"""Questions about a whole day, over the real streaming API (uvicorn on 127.0.0.1, an SSE client):
"what did I record today?" gives the model every note of that day, and "what did I note
yesterday?" with nothing recorded yesterday answers so without a model call."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from mindpost.accounts.models import User
from mindpost.chat.models import AnswerKind, Message
from tests.chat.helpers import make_note
from tests.chat.test_stream_sources import SSE, iter_events
from tests.fakes.openai_server import FakeOpenAI

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

TODAY = [
    "Took the car to the garage, the mechanic will call about the brakes.",
    "Standup: Priya wants the release notes for version 2.4 by Thursday.",
    "Idea: a weekly photo walk with the kids, a different colour each week.",
    "Lunch with Omar, he is moving to Lisbon in January.",
    "Ordered the chocolate cake for Emma's party on Saturday.",
    "Call the electrician about the flickering kitchen light.",
    "Finished chapter five of Thinking, Fast and Slow, about anchoring.",
    "The evening yoga class moves to half past seven on Tuesdays.",
]


def _zone_at_midday() -> ZoneInfo:
    """A fixed-offset zone where it is now between 10:00 and 14:00, so that "today" and the
    minutes before now are the same local day whenever the test runs."""
    hour = datetime.now(ZoneInfo("UTC")).hour
    offset = (12 - hour + 12) % 24 - 12  # UTC+offset puts local time near noon
    return ZoneInfo(f"Etc/GMT{-offset:+d}" if offset else "UTC")


@pytest.fixture
def ada(client: httpx.Client) -> User:
    user = User.objects.get(email="ada@example.com")
    user.timezone = _zone_at_midday().key
    user.save(update_fields=["timezone"])
    return user


def ask(client: httpx.Client, message: str) -> list[tuple[str, dict]]:
    conversation = client.post("/api/chat/conversations/", json={}).json()
    url = f"/api/chat/conversations/{conversation['id']}/messages/"
    with client.stream("POST", url, json={"message": message}, headers=SSE) as response:
        assert response.status_code == 200, response.read()
        return list(iter_events(response))


def test_what_did_i_record_today_gives_the_model_every_note_of_that_day(
    client: httpx.Client, ada: User, chat_fake: FakeOpenAI
) -> None:
    now = datetime.now(ZoneInfo("UTC"))
    for minutes, text in enumerate(reversed(TODAY), start=1):  # the first one the earliest
        make_note(ada, text, created_at=now - timedelta(minutes=10 * minutes))
    make_note(ada, "Dinner with Ben, he wants to buy a boat.", created_at=now - timedelta(days=3))
    chat_fake.chat_reply = "You went to the garage, had standup, lunch with Omar and more [1][4]."

    received = ask(client, "What did I record today?")

    calls = chat_fake.calls("/v1/chat/completions")
    assert len(calls) == 1
    prompt = calls[0].json()["messages"][-1]["content"]
    for marker in ("garage", "Priya", "photo walk", "Omar", "cake", "electrician", "anchoring", "yoga"):
        assert marker in prompt, marker
    assert "Ben" not in prompt  # another day
    # In the order they were recorded, numbered [1]..[8], and all eight are the sources.
    assert prompt.index("[1]") < prompt.index("garage") < prompt.index("[2]") < prompt.index("yoga")
    sources = next(data for name, data in received if name == "sources")["sources"]
    assert len(sources) == len(TODAY)
    assert [name for name, _ in received][-1] == "done"


def test_what_did_i_note_yesterday_with_nothing_yesterday_answers_without_the_model(
    client: httpx.Client, ada: User, chat_fake: FakeOpenAI
) -> None:
    now = datetime.now(ZoneInfo("UTC"))
    make_note(ada, TODAY[0], created_at=now - timedelta(minutes=5))
    make_note(ada, "Dinner with Ben, he wants to buy a boat.", created_at=now - timedelta(days=3))
    yesterday = (now.astimezone(_zone_at_midday()) - timedelta(days=1)).date()

    received = ask(client, "What did I note yesterday?")

    assert chat_fake.calls("/v1/chat/completions") == []
    names = [name for name, _ in received]
    assert names[0] == "start"
    assert names[-1] == "done"
    assert received[0][1]["found"] is False
    text = "".join(data["text"] for name, data in received if name == "token")
    assert text == f"You didn't record anything yesterday ({yesterday:%a} {yesterday.day} {yesterday:%b})."
    # Stored like the not-found answer.
    reply = Message.objects.get(kind=AnswerKind.NOT_FOUND)
    assert reply.content == text
    assert reply.conversation.user == ada


def test_a_day_with_notes_but_none_on_the_topic_is_not_nothing_recorded(
    client: httpx.Client, ada: User, chat_fake: FakeOpenAI
) -> None:
    make_note(ada, TODAY[0], created_at=datetime.now(ZoneInfo("UTC")) - timedelta(minutes=5))

    received = ask(client, "What did I record about the 1998 world cup today?")

    text = "".join(data["text"] for name, data in received if name == "token")
    assert "didn't record anything" not in text
    assert chat_fake.calls("/v1/chat/completions") == []
