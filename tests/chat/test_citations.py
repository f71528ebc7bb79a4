from __future__ import annotations

from datetime import UTC, datetime

from mindpost.chat import citations as cite
from mindpost.chat.prompts import NOT_FOUND_ANSWER, ContextPassage, build_messages
from mindpost.core.filters import user_zone
from mindpost.notes.selectors import excerpt

PASSAGES = [
    "Osaka, second night. Dinner at a tiny ramen place run by Hiroshi, who quit his office job to make noodles.",
    "Last day in Nafplio. I met Stavros at the harbour, he builds wooden fishing boats by hand.",
    "The gym side door code is 7319, you need it before six in the morning.",
    "Ich habe mit Jonas über seinen Umzug nach Hamburg gesprochen. Er sucht eine Wohnung in Altona.",
]


def test_answer_without_markers_is_attributed_to_the_matching_passage() -> None:
    # The 1.5B model answers correctly but writes no [n] (DESIGN §3).
    found = cite.attribute(
        answer="You met Stavros in Nafplio; he builds wooden fishing boats by hand.",
        question="remind me about the person I met in Greece",
        passages=PASSAGES,
    )
    assert [a.index for a in found] == [2]
    assert found[0].marked is False


def test_a_single_rare_word_like_a_number_is_enough() -> None:
    found = cite.attribute(answer="It's 7319.", question="what's the gym door code?", passages=PASSAGES)
    assert [a.index for a in found] == [3]


def test_cross_language_answer_matches_by_names() -> None:
    found = cite.attribute(
        answer="Jonas is looking for a flat in Altona, Hamburg.",
        question="where is Jonas looking for a flat?",
        passages=PASSAGES,
    )
    assert [a.index for a in found] == [4]


def test_valid_markers_are_kept_and_invalid_ones_removed() -> None:
    answer = "You met Stavros in Nafplio [2]. He also runs a ramen shop [7]. The code is 7319 [1]."
    cleaned, valid = cite.check_markers(answer, passages=PASSAGES)
    # [7] was never given; [1] is about ramen, not the code: both go.
    assert valid == [2]
    assert "[7]" not in cleaned
    assert "[1]" not in cleaned
    assert "Nafplio [2]." in cleaned
    found = cite.attribute(answer=answer, question="who did I meet?", passages=PASSAGES)
    assert found[0].index == 2
    assert found[0].marked
    assert 3 in [a.index for a in found]  # 7319 is in the answer, so the code passage is cited too


def test_grouped_markers() -> None:
    cleaned, valid = cite.check_markers("Stavros builds boats and Hiroshi makes noodles [2, 1].", passages=PASSAGES)
    assert valid == [2, 1]
    assert cleaned.endswith("[2][1].")


def test_not_found_answers_cite_nothing() -> None:
    for answer in (NOT_FOUND_ANSWER, "I don't know, the notes don't say.", "There is no information about that."):
        assert cite.says_not_found(answer)
        assert cite.attribute(answer=answer, question="what is my passport number?", passages=PASSAGES) == []


def test_unrelated_answer_cites_nothing() -> None:
    assert cite.attribute(answer="Canberra is the capital.", question="capital of Australia?", passages=PASSAGES) == []


def test_excerpt_prefers_the_supporting_sentences() -> None:
    long = " ".join(["Filler sentence number one about nothing much."] * 8) + " The boiler is fixed on Thursday."
    text = excerpt(long, answer="The boiler gets fixed on Thursday.", limit=80)
    assert "boiler" in text
    assert len(text) <= 80
    assert excerpt("short passage", answer="x") == "short passage"
    # No sentence ends: cut on a word boundary with an ellipsis.
    assert excerpt("word " * 100, limit=30).endswith("…")


def test_prompt_numbers_the_notes_and_strips_old_markers() -> None:
    now = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
    messages = build_messages(
        question="what else did he say?",
        passages=[ContextPassage(number=1, text=PASSAGES[1], created_at=now, start=102.0)],
        history=[("user", "who did I meet in Greece?"), ("assistant", "You met Stavros [1].")],
        now=now,
        tz=user_zone("Europe/Berlin"),
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert "[1] or [2][3]" in messages[0]["content"]
    assert NOT_FOUND_ANSWER in messages[0]["content"]
    assert messages[3]["content"].startswith("Today is Wednesday 18 November 2026.")  # not in the cached prefix
    assert messages[2]["content"] == "You met Stavros."
    assert "[1] (Wed 18 Nov 2026 10:30, at 1:42) Last day in Nafplio." in messages[3]["content"]
    assert messages[3]["content"].endswith("Question: what else did he say?")
