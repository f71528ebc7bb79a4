from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.billing.metering import Metric
from mindpost.billing.models import UsageCounter
from mindpost.chat.models import Conversation, Message
from mindpost.chat.prompts import NOT_FOUND_ANSWER
from mindpost.core import userdata
from mindpost.notes.models import Note
from tests.billing.conftest import billing_on, fake_stripe, make_subscription  # noqa: F401
from tests.chat.helpers import GREECE, GYM, OSAKA, RUN, grounded_reply, prompts
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.django_db


def client_for(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def chat_units(user: User) -> int:
    return sum(UsageCounter.objects.filter(user=user, metric=Metric.CHAT.value).values_list("used", flat=True))


@pytest.fixture
def notes(user: User, note_factory: Callable[..., Note]) -> dict[str, Note]:
    return {"greece": note_factory(user, GREECE), "osaka": note_factory(user, OSAKA), "gym": note_factory(user, GYM)}


def test_reference_chat_answers_with_citations_and_a_conversation(
    user: User, auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = grounded_reply
    response = auth_api.post(
        "/api/brain-dumps/chat/", {"message": "Remind me about the person I met in Greece"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"response", "citations", "conversation_id", "message_id", "found"}
    assert "Stavros" in body["response"]
    assert body["found"] is True
    assert [c["note_id"] for c in body["citations"]] == [str(notes["greece"].pk)]
    citation = body["citations"][0]
    assert citation["marked"] is True
    assert "Stavros" in citation["excerpt"]
    assert {"start", "end", "passage_id", "note_created_at", "index"} <= set(citation)

    # What the model was given: the rules, then numbered notes and the question.
    (messages,) = prompts(chat_fake)
    assert messages[0]["role"] == "system"
    assert "Use only the numbered notes" in messages[0]["content"]
    assert "[1] or [2][3]" in messages[0]["content"]
    assert messages[-1]["content"].endswith("Question: Remind me about the person I met in Greece")
    assert "Stavros" in messages[-1]["content"]
    assert "[1] (" in messages[-1]["content"]

    conversation = Conversation.objects.get(pk=body["conversation_id"])
    assert conversation.user == user
    assert conversation.title == "Remind me about the person I met in Greece"
    stored = list(conversation.messages.order_by("position"))
    assert [(m.role, m.kind) for m in stored] == [("user", "question"), ("assistant", "answer")]
    assert stored[1].citations == body["citations"]
    assert stored[1].model_name == "gpt-4o-mini"
    assert stored[0].retrieval["passage_ids"]
    assert chat_units(user) == 1


def test_server_attributes_citations_when_the_model_writes_no_markers(
    auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = grounded_reply  # answers the door code without a marker
    body = auth_api.post("/api/brain-dumps/chat/", {"message": "what's the gym door code?"}, format="json").json()
    assert body["response"] == "The side door code is 7319."
    assert [(c["note_id"], c["marked"]) for c in body["citations"]] == [(str(notes["gym"].pk), False)]


def test_markers_for_passages_that_were_not_given_are_dropped(
    auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = "Stavros builds boats in Nafplio [1][9]. He likes ramen [42]."
    body = auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json").json()
    assert "[9]" not in body["response"]
    assert "[42]" not in body["response"]
    assert all(c["index"] <= 5 for c in body["citations"])
    assert str(notes["greece"].pk) in [c["note_id"] for c in body["citations"]]


def test_follow_up_uses_the_earlier_turns(auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI) -> None:
    chat_fake.chat_reply = grounded_reply
    first = auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json").json()
    second = auth_api.post(
        "/api/brain-dumps/chat/",
        {"message": "What else did he say?", "conversation_id": first["conversation_id"]},
        format="json",
    )
    assert second.status_code == 200, second.content
    body = second.json()
    assert body["conversation_id"] == first["conversation_id"]
    assert "workshop" in body["response"]
    assert [c["note_id"] for c in body["citations"]] == [str(notes["greece"].pk)]
    follow_up = prompts(chat_fake)[1]
    # The history is passed to the model (without the old [n] markers)...
    assert [m["role"] for m in follow_up] == ["system", "user", "assistant", "user"]
    assert follow_up[1]["content"] == "who did I meet in Greece?"
    assert "Stavros" in follow_up[2]["content"]
    assert "[1]" not in follow_up[2]["content"]
    # ...and retrieval searched with the previous question too, so the Greece note is in the context.
    assert "Nafplio" in follow_up[-1]["content"]
    detail = auth_api.get(f"/api/chat/conversations/{first['conversation_id']}/").json()
    assert detail["message_count"] == 4
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant", "user", "assistant"]


def test_nothing_relevant_answers_without_calling_the_model(
    user: User, auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    response = auth_api.post("/api/brain-dumps/chat/", {"message": "Who won the 1998 world cup?"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["response"] == NOT_FOUND_ANSWER
    assert body["citations"] == []
    assert body["found"] is False
    assert chat_fake.calls("/v1/chat/completions") == []
    kinds = list(Message.objects.filter(conversation_id=body["conversation_id"]).values_list("kind", flat=True))
    assert kinds == ["question", "not_found"]


def test_user_without_notes_gets_the_not_found_answer(auth_api: APIClient, chat_fake: FakeOpenAI) -> None:
    body = auth_api.post("/api/brain-dumps/chat/", {"message": "what did I say about boats?"}, format="json").json()
    assert body["response"] == NOT_FOUND_ANSWER
    assert chat_fake.calls("/v1/chat/completions") == []


def test_model_that_says_it_does_not_know_cites_nothing(
    auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = grounded_reply
    body = auth_api.post("/api/brain-dumps/chat/", {"message": "What's my passport number?"}, format="json").json()
    assert len(chat_fake.calls("/v1/chat/completions")) == 1  # close enough to the notes: the model decides
    assert body["response"] == NOT_FOUND_ANSWER
    assert body["citations"] == []


def test_time_words_become_a_date_filter_in_the_users_zone(
    make_user: Callable[..., User], note_factory: Callable[..., Note], chat_fake: FakeOpenAI
) -> None:
    tokyo = make_user("tokyo@example.com", timezone="Asia/Tokyo")
    now = timezone.now()
    recent = note_factory(tokyo, RUN, created_at=now - timedelta(days=7))
    note_factory(tokyo, "Ran a slow 5k by the harbour, my calf was tight.", created_at=now - timedelta(days=60))
    chat_fake.chat_reply = "You ran ten kilometres in 52 minutes."
    body = (
        client_for(tokyo)
        .post("/api/brain-dumps/chat/", {"message": "What did I say last week about running?"}, format="json")
        .json()
    )
    context = prompts(chat_fake)[0][-1]["content"]
    assert "52 minutes" in context
    assert "calf" not in context  # the older run is outside last week
    assert [c["note_id"] for c in body["citations"]] == [str(recent.pk)]
    stored = Message.objects.get(conversation_id=body["conversation_id"], role="user").retrieval
    assert stored["time_filter"]["phrase"] == "last week"
    assert stored["time_filter"]["since"].endswith("+09:00")


def test_a_time_with_no_topic_gives_that_times_notes(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note], chat_fake: FakeOpenAI
) -> None:
    note_factory(user, GREECE, created_at=timezone.now() - timedelta(days=1))
    note_factory(user, GYM, created_at=timezone.now() - timedelta(days=5))
    chat_fake.chat_reply = "Yesterday you met Stavros."
    auth_api.post("/api/brain-dumps/chat/", {"message": "What did I say yesterday?"}, format="json")
    context = prompts(chat_fake)[0][-1]["content"]
    assert "Stavros" in context
    assert "7319" not in context


def test_nothing_in_the_time_window_falls_back_to_all_notes(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note], chat_fake: FakeOpenAI
) -> None:
    note_factory(user, GREECE, created_at=timezone.now() - timedelta(days=90))
    chat_fake.chat_reply = grounded_reply
    body = auth_api.post(
        "/api/brain-dumps/chat/", {"message": "who did I meet in Greece yesterday?"}, format="json"
    ).json()
    assert "Stavros" in body["response"]  # the dated context lets the model say when it really was


# --- Conversations ---------------------------------------------------------------------------------


def test_conversation_lifecycle(user: User, auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI) -> None:
    chat_fake.chat_reply = grounded_reply
    created = auth_api.post("/api/chat/conversations/", {"title": "Travel"}, format="json")
    assert created.status_code == 201
    conversation = created.json()
    assert conversation["title"] == "Travel"
    assert conversation["messages"] == []

    answer = auth_api.post(
        f"/api/chat/conversations/{conversation['id']}/messages/", {"message": "who did I meet in Greece?"}
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["conversation_id"] == conversation["id"]
    assert answer.json()["citations"][0]["note_id"] == str(notes["greece"].pk)

    auth_api.post("/api/chat/conversations/", {}, format="json")
    listing = auth_api.get("/api/chat/conversations/").json()
    assert listing["count"] == 2
    first = listing["results"][0]
    assert set(first) == {"id", "title", "created_at", "updated_at", "message_count"}
    counts = {row["id"]: row["message_count"] for row in listing["results"]}
    assert counts[conversation["id"]] == 2

    detail = auth_api.get(f"/api/chat/conversations/{conversation['id']}/").json()
    assert detail["messages"][1]["citations"][0]["note_id"] == str(notes["greece"].pk)
    assert detail["messages"][0]["content"] == "who did I meet in Greece?"

    assert auth_api.delete(f"/api/chat/conversations/{conversation['id']}/").status_code == 204
    assert auth_api.get(f"/api/chat/conversations/{conversation['id']}/").status_code == 404
    assert not Message.objects.filter(conversation_id=conversation["id"]).exists()


def test_conversations_are_exported_with_the_account(
    user: User, auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = grounded_reply
    auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json")
    exported = userdata.exporters()["conversations"](user)
    assert len(exported) == 1
    assert [m["role"] for m in exported[0]["messages"]] == ["user", "assistant"]
    assert exported[0]["messages"][1]["citations"][0]["note_id"] == str(notes["greece"].pk)


# --- Isolation -------------------------------------------------------------------------------------


def test_chat_never_cites_or_sees_another_users_notes(
    user: User, make_user: Callable[..., User], note_factory: Callable[..., Note], chat_fake: FakeOpenAI
) -> None:
    other = make_user("mallory@example.com")
    theirs = note_factory(other, GREECE)
    note_factory(user, OSAKA)
    note_factory(user, RUN)
    # A model that cites every number it can: nothing of the other user's may reach it.
    chat_fake.chat_reply = "You met Stavros in Nafplio [1][2][3][4][5]."
    response = client_for(user).post(
        "/api/brain-dumps/chat/", {"message": "Remind me about Stavros, the boat builder in Nafplio"}, format="json"
    )
    body = response.json()
    assert str(theirs.pk) not in [c["note_id"] for c in body["citations"]]
    for messages in prompts(chat_fake):
        assert "harbour" not in messages[-1]["content"]
    # and their conversations are not ours
    their_conversation = Conversation.objects.create(user=other, title="secret")
    mine = client_for(user)
    assert mine.get(f"/api/chat/conversations/{their_conversation.pk}/").status_code == 404
    assert mine.delete(f"/api/chat/conversations/{their_conversation.pk}/").status_code == 404
    posted = mine.post(f"/api/chat/conversations/{their_conversation.pk}/messages/", {"message": "hi"})
    assert posted.status_code == 404
    assert posted.json()["code"] == "not_found"
    continued = mine.post(
        "/api/brain-dumps/chat/", {"message": "hi", "conversation_id": str(their_conversation.pk)}, format="json"
    )
    assert continued.status_code == 404
    assert mine.get("/api/chat/conversations/").json()["count"] == 1
    assert not their_conversation.messages.exists()


# --- Bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 400, "empty_message"),
        ({"message": ""}, 400, "empty_message"),
        ({"message": "   \n"}, 400, "empty_message"),
        ({"message": "x" * 4001}, 400, "message_too_long"),
        ({"message": 42}, 400, "invalid"),
        ({"message": "hi", "conversation_id": "not-a-uuid"}, 400, "invalid_conversation_id"),
        ({"message": "hi", "conversation_id": "7a1f3c52-8a55-4c0e-9a55-000000000000"}, 404, "not_found"),
    ],
)
def test_bad_chat_input_is_a_4xx_with_a_code_and_changes_nothing(
    user: User, auth_api: APIClient, chat_fake: FakeOpenAI, body: dict[str, Any], status: int, code: str
) -> None:
    response = auth_api.post("/api/brain-dumps/chat/", body, format="json")
    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    assert not Message.objects.exists()
    assert chat_units(user) == 0
    assert chat_fake.calls("/v1/chat/completions") == []


def test_message_limit_is_a_setting(auth_api: APIClient, settings: Any, chat_fake: FakeOpenAI) -> None:
    settings.CHAT_MAX_MESSAGE_CHARS = 10
    response = auth_api.post("/api/brain-dumps/chat/", {"message": "x" * 11}, format="json")
    assert response.json()["code"] == "message_too_long"
    assert response.json()["max_chars"] == 10


def test_malformed_bodies_and_ids(auth_api: APIClient, chat_fake: FakeOpenAI) -> None:
    response = auth_api.post("/api/brain-dumps/chat/", [1, 2], format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    response = auth_api.post("/api/brain-dumps/chat/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    response = auth_api.get("/api/chat/conversations/not-a-uuid/")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_conversation_id"
    response = auth_api.post("/api/chat/conversations/not-a-uuid/messages/", {"message": "hi"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_conversation_id"
    response = auth_api.post("/api/chat/conversations/", {"title": "x" * 201}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "title_too_long"
    assert auth_api.get("/api/chat/conversations/").json()["count"] == 0


def test_chat_needs_a_token(api: APIClient) -> None:
    assert api.post("/api/brain-dumps/chat/", {"message": "hi"}, format="json").status_code == 401
    assert api.get("/api/chat/conversations/").status_code == 401


# --- The model is down / the quota is used up ------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_model_down_is_a_503_with_the_passages_and_gives_the_unit_back(
    user: User, auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI, settings: Any
) -> None:
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{_closed_port()}/v1"  # nothing listens there
    response = auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "model_unavailable"
    assert response["Retry-After"]
    assert body["passages"][0]["note_id"] == str(notes["greece"].pk)
    assert "Stavros" in body["passages"][0]["excerpt"]
    assert not Message.objects.exists()  # nothing half-written
    assert not Conversation.objects.exists()
    assert chat_units(user) == 0


def test_model_errors_and_timeouts_are_503s(
    user: User, auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI, settings: Any
) -> None:
    conversation = auth_api.post("/api/chat/conversations/", {}, format="json").json()
    chat_fake.fail("/v1/chat/completions", status=500)
    response = auth_api.post(f"/api/chat/conversations/{conversation['id']}/messages/", {"message": "Stavros?"})
    assert response.status_code == 503
    assert response.json()["conversation_id"] == conversation["id"]
    settings.AI_TIMEOUT_SECONDS = 0.5
    chat_fake.fail("/v1/chat/completions", delay=3)
    response = auth_api.post(f"/api/chat/conversations/{conversation['id']}/messages/", {"message": "Stavros?"})
    assert response.status_code == 503
    assert not Message.objects.exists()
    assert chat_units(user) == 0


def test_over_quota_is_refused_before_any_model_call(
    user: User, auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI, request: pytest.FixtureRequest
) -> None:
    request.getfixturevalue("billing_on")  # billing's fixtures: seeded plans and a loopback fake Stripe
    plan = request.getfixturevalue("plans")["basic"]
    plan.chat_messages_per_period = 1
    plan.save()
    make_subscription(user, plan)
    chat_fake.chat_reply = grounded_reply
    first = auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json")
    assert first.status_code == 200
    second = auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Osaka?"}, format="json")
    assert second.status_code == 403
    assert second.json()["code"] == "limit_reached"
    assert len(chat_fake.calls("/v1/chat/completions")) == 1


def test_embedder_down_is_a_503_too(user: User, openai_backends: FakeOpenAI, auth_api: APIClient) -> None:
    openai_backends.fail("/v1/embeddings", status=503, times=5)
    response = auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"
    assert response.json()["passages"] == []
    assert chat_units(user) == 0
    assert openai_backends.calls("/v1/chat/completions") == []


def test_conversations_in_the_admin(
    make_user: Callable[..., User], user: User, auth_api: APIClient, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = grounded_reply
    body = auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json").json()
    admin = make_user("root@example.com", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(admin)
    assert client.get("/admin/chat/conversation/").status_code == 200
    page = client.get(f"/admin/chat/conversation/{body['conversation_id']}/change/")
    assert page.status_code == 200
    assert b"Stavros" not in page.content  # staff see metadata, not what was asked or answered
    assert client.get("/admin/chat/message/").status_code == 200
    page = client.get(f"/admin/chat/message/{body['message_id']}/change/")
    assert page.status_code == 200
    assert b"Stavros" not in page.content


def test_conversation_deleted_while_the_model_answers(
    user: User, notes: dict[str, Note], chat_fake: FakeOpenAI
) -> None:
    from mindpost.chat import services
    from mindpost.core.errors import NotFound

    chat_fake.chat_reply = grounded_reply
    conversation = Conversation.objects.create(user=user)
    prepared = services.chat_prepare(user=user, message="who did I meet in Greece?", conversation=conversation)
    conversation.delete()
    with pytest.raises(NotFound) as info:
        services.chat_complete(prepared=prepared)
    assert info.value.code == "not_found"
    assert not Message.objects.exists()


def test_long_passages_are_cut_to_the_sentences_nearest_the_question(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note], chat_fake: FakeOpenAI, settings: Any
) -> None:
    settings.CHAT_PASSAGE_CHARS = 200
    filler = " ".join(f"Sentence {i} is about the weather and nothing else." for i in range(12))
    note = note_factory(user, filler + " The spare key is under the blue flowerpot by the back door.")
    chat_fake.chat_reply = "The spare key is under the blue flowerpot."
    body = auth_api.post("/api/brain-dumps/chat/", {"message": "where is the spare key?"}, format="json").json()
    context = prompts(chat_fake)[0][-1]["content"]
    assert "blue flowerpot" in context
    assert "Sentence 0 " not in context
    assert [c["note_id"] for c in body["citations"]] == [str(note.pk)]
