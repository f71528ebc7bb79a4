# ruff: noqa: RUF001  (Cyrillic, Greek and Chinese text on purpose)
"""The prompt layout (a fixed system prefix, llama.cpp caches it) and the token budget of the context."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from mindpost.chat.models import Message
from mindpost.chat.prompts import (
    SYSTEM_PROMPT,
    ContextPassage,
    build_messages,
    estimate_tokens,
    fit_context,
    render_passage,
)
from mindpost.core.filters import user_zone
from mindpost.notes.models import Note
from mindpost.notes.selectors import excerpt
from tests.chat.helpers import GREECE, GYM, OSAKA, RUN, grounded_reply, make_note, prompts
from tests.fakes.openai_server import FakeOpenAI

BERLIN = user_zone("Europe/Berlin")
NOW = datetime(2026, 11, 18, 23, 30, tzinfo=UTC)  # Thursday in Tokyo, Wednesday in California

# (text, tokens) from Qwen2.5's tokeniser: llama.cpp's /tokenize on the 1.5B server.
QWEN_COUNTS = [
    (GREECE, 45),
    (GYM, 26),
    (
        "Ich habe heute mit Jonas über seinen Umzug nach Hamburg gesprochen. Er sucht eine Wohnung in Altona, "
        "höchstens 1400 Euro warm.",
        34,
    ),
    ("Сегодня встретился с Дмитрием в кафе возле метро. Он рассказал, что переезжает в Санкт-Петербург в марте.", 31),
    ("今天和王芳在上海的一家咖啡馆见面。她说下个月要去成都出差，想让我帮她推荐几家川菜馆。", 28),
    ("Σήμερα γνώρισα τον Σταύρο στο λιμάνι του Ναυπλίου. Φτιάχνει ξύλινες βάρκες με το χέρι.", 76),
]
LONG_SCRIPTS = {
    "latin": "The boiler in the flat needs a new valve and the plumber comes on Thursday at nine. ",
    "cyrillic": "Сантехник придёт в четверг в девять утра, чтобы заменить клапан в котле на кухне. ",
    "chinese": "水管工周四上午九点来修厨房里的热水器，需要换一个新的阀门，记得提前把钥匙留给邻居。",
    "greek": "Ο υδραυλικός έρχεται την Πέμπτη στις εννέα για να αλλάξει τη βαλβίδα του λέβητα. ",
}


def _passages(texts: list[str]) -> list[ContextPassage]:
    return [ContextPassage(number=i, text=t, created_at=NOW, start=None) for i, t in enumerate(texts, start=1)]


def _history(turns: int, *, words: int = 120) -> list[tuple[str, str]]:
    history = []
    for turn in range(turns):
        history.append(("user", f"Question {turn} about the garden?"))
        history.append(("assistant", f"Answer {turn}: " + " ".join(["the roses need water"] * (words // 4)) + " [1]."))
    return history


# --- The fixed prefix --------------------------------------------------------------------------


def test_system_message_is_the_same_bytes_for_every_user_date_and_zone() -> None:
    systems = set()
    for zone in ("Europe/Berlin", "Asia/Tokyo", "America/Los_Angeles", "UTC"):
        for days in (0, 1, 40):
            messages = build_messages(
                question="who did I meet?",
                passages=_passages([GREECE, OSAKA]),
                history=[("user", "hi"), ("assistant", "Hello [1].")] if days else [],
                now=NOW + timedelta(days=days),
                tz=user_zone(zone),
            )
            assert messages[0]["role"] == "system"
            systems.add(messages[0]["content"])
    assert systems == {SYSTEM_PROMPT}
    assert not re.search(r"\d{4}|today", SYSTEM_PROMPT, flags=re.I)  # nothing per request in the prefix


def test_the_date_goes_in_the_last_user_message_in_the_users_zone() -> None:
    tokyo = build_messages(
        question="what did I do today?", passages=[], history=[], now=NOW, tz=user_zone("Asia/Tokyo")
    )
    zone = user_zone("America/Los_Angeles")
    california = build_messages(question="what did I do today?", passages=[], history=[], now=NOW, tz=zone)
    assert tokyo[-1]["content"].startswith("Today is Thursday 19 November 2026.")
    assert california[-1]["content"].startswith("Today is Wednesday 18 November 2026.")
    assert tokyo[0] == california[0]
    # History goes after the fixed prefix, the question stays last.
    messages = build_messages(
        question="and then?", passages=_passages([GREECE]), history=_history(1), now=NOW, tz=BERLIN
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[-1]["content"].endswith("Question: and then?")


@pytest.mark.django_db(transaction=True)
def test_over_the_api_two_users_get_the_same_system_message(
    make_user: Callable[..., User], chat_fake: FakeOpenAI
) -> None:
    chat_fake.chat_reply = grounded_reply
    for email, zone in (("ada@example.com", "Asia/Tokyo"), ("bob@example.com", "America/Los_Angeles")):
        user = make_user(email, timezone=zone)
        make_note(user, GREECE)
        api = APIClient()
        api.force_authenticate(user)
        response = api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json")
        assert response.status_code == 200, response.content
    first, second = prompts(chat_fake)
    assert first[0] == second[0] == {"role": "system", "content": SYSTEM_PROMPT}
    tz_ada, tz_bob = user_zone("Asia/Tokyo"), user_zone("America/Los_Angeles")
    today = datetime.now(UTC)
    assert f"Today is {today.astimezone(tz_ada):%A %d %B %Y}." in first[-1]["content"]
    assert f"Today is {today.astimezone(tz_bob):%A %d %B %Y}." in second[-1]["content"]


# --- Counting tokens ---------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "qwen"), QWEN_COUNTS)
def test_the_estimate_errs_high_but_not_by_much(text: str, qwen: int) -> None:
    assert qwen <= estimate_tokens(text) <= qwen * 1.4


# --- The budget --------------------------------------------------------------------------------


def _context_tokens(passages: list[ContextPassage], history: list[tuple[str, str]]) -> int:
    notes = sum(estimate_tokens(render_passage(p, tz=BERLIN)) + 1 for p in passages)
    return notes + sum(estimate_tokens(text) + 5 for _, text in history)


@pytest.mark.parametrize("script", list(LONG_SCRIPTS))
@pytest.mark.parametrize("budget", [120, 400, 900])
def test_long_passages_and_a_long_history_stay_within_the_budget(script: str, budget: int) -> None:
    texts = [LONG_SCRIPTS[script] * 12 + f" Passage {i} ends here." for i in range(5)]
    history = [(role, LONG_SCRIPTS[script] * 6) for role in ("user", "assistant") * 3]
    fitted = fit_context(passages=_passages(texts), history=history, budget=budget, tz=BERLIN)
    assert fitted.passages, "a found answer always has its best note"
    assert fitted.tokens == _context_tokens(fitted.passages, fitted.history)
    assert fitted.tokens <= budget
    for passage in fitted.passages:
        assert passage.text.strip()
    if budget >= 400:
        assert len(fitted.passages) == 5  # room for every note, each cut


def test_short_notes_keep_all_of_themselves_and_leave_room_to_the_long_one() -> None:
    long = " ".join(f"Sentence {i} is about the weather and nothing else." for i in range(40))
    fitted = fit_context(passages=_passages([GYM, long, RUN]), history=[], budget=250, tz=BERLIN)
    assert fitted.passages[0].text == GYM
    assert fitted.passages[2].text == RUN
    assert 0 < len(fitted.passages[1].text) < len(long)
    assert fitted.tokens <= 250


def test_the_newest_turns_are_kept_whole_and_the_oldest_dropped() -> None:
    history = _history(3)
    fitted = fit_context(passages=_passages([GREECE]), history=history, budget=300, tz=BERLIN)
    assert 0 < len(fitted.history) < len(history)
    assert len(fitted.history) % 2 == 0  # whole exchanges
    assert fitted.history[-1][1].startswith("Answer 2:")
    assert fitted.history[0][1].startswith("Question")
    assert all("[1]" not in text for _, text in fitted.history)  # old markers meant other notes
    assert fitted.passages[0].text == GREECE
    assert fitted.tokens <= 300
    # With room to spare, all of it.
    roomy = fit_context(passages=_passages([GREECE]), history=history, budget=4000, tz=BERLIN)
    assert len(roomy.history) == len(history)


def test_a_tiny_budget_keeps_the_best_notes_with_their_numbers() -> None:
    fitted = fit_context(passages=_passages([GREECE, OSAKA, GYM, RUN]), history=_history(2), budget=120, tz=BERLIN)
    assert [p.number for p in fitted.passages] == list(range(1, len(fitted.passages) + 1))
    assert 1 <= len(fitted.passages) < 4
    assert fitted.history == []


def test_passages_are_cut_to_the_sentences_nearest_the_question() -> None:
    long = " ".join(f"Sentence {i} is about the weather and nothing else." for i in range(20))
    text = long + " The spare key is under the blue flowerpot by the back door. " + long

    def nearest(passage: str, chars: int) -> str:
        return excerpt(passage, answer="where is the spare key?", limit=chars)

    fitted = fit_context(passages=_passages([text]), history=[], budget=60, tz=BERLIN, trim=nearest)
    assert "blue flowerpot" in fitted.passages[0].text
    assert fitted.tokens <= 60


# --- Through the API: the budget and the citations -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_small_budget_drops_the_weakest_notes_and_citations_still_number_them(
    user: User, auth_api: APIClient, note_factory: Callable[..., Note], chat_fake: FakeOpenAI, settings: Any
) -> None:
    settings.CHAT_RELEVANCE_FLOOR = 0.0  # every note is a candidate: the budget decides
    notes = [make_note(user, text) for text in (OSAKA, GREECE, GYM, RUN)]
    settings.CHAT_CONTEXT_TOKENS = 10_000
    chat_fake.chat_reply = grounded_reply
    roomy = auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json").json()
    roomy_prompt = prompts(chat_fake)[-1][-1]["content"]
    shown = len(re.findall(r"^\[\d\] ", roomy_prompt, flags=re.M))
    assert shown == 4

    settings.CHAT_CONTEXT_TOKENS = 130  # room for two of the four
    small = auth_api.post("/api/brain-dumps/chat/", {"message": "who did I meet in Greece?"}, format="json").json()
    prompt = prompts(chat_fake)[-1][-1]["content"]
    numbers = [int(n) for n in re.findall(r"^\[(\d)\] ", prompt, flags=re.M)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert 1 <= len(numbers) < 4
    # The best note is first, and the citation [n] points to the n-th note of the prompt.
    greece = notes[1]
    assert [c["note_id"] for c in roomy["citations"]] == [str(greece.pk)]
    assert "Stavros" in prompt.split("[1]", 1)[1]
    assert [(c["index"], c["note_id"]) for c in small["citations"]] == [(1, str(greece.pk))]
    # The stored retrieval lists the notes the model was given, no more.
    asked = Message.objects.filter(conversation_id=small["conversation_id"], role="user").get()
    assert len(asked.retrieval["passage_ids"]) == len(numbers)
