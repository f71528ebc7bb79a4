"""What a chat question searches for (mindpost.chat.query): filler and reference codes cut off,
family words said the other ways, questions that name only a time, and the "nothing recorded
then" answer."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from mindpost.chat.dates import parse_time_filter
from mindpost.chat.query import clean_question, names_topic, nothing_recorded_answer, variants

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 30, 18, 0, tzinfo=BERLIN)  # a Monday


@pytest.mark.parametrize(
    ("question", "searched"),
    [
        ("Quick question: remind me about the person I met in Greece", "remind me about the person I met in Greece"),
        (
            "hey, can you tell me the booking reference for the Athens flight? (ref 4821)",
            "the booking reference for the Athens flight?",
        ),
        ("what salary did we agree on? (ref 4821)", "what salary did we agree on?"),
        (
            "Hi! Could you please remind me what's wrong with my tomato plants? Thanks!",
            "what's wrong with my tomato plants?",
        ),
        ("Quick question: did I book a hotel in Rome? [ref: AB-77]", "did I book a hotel in Rome?"),
        ("when is the dentist, ref 4821", "when is the dentist"),
    ],
)
def test_filler_and_reference_codes_around_a_question_are_cut(question: str, searched: str) -> None:
    assert clean_question(question) == searched


@pytest.mark.parametrize(
    "question",
    [
        "which policy has 4471 in it?",  # the number is what is asked about
        "HB-99812",
        "what is the reference for ticket 12?",
        "ref 4821",  # nothing else to search for: searched as it is
        "remind me about the person I met in Greece",
    ],
)
def test_real_content_stays(question: str) -> None:
    assert clean_question(question) == question


def test_family_words_are_searched_the_other_ways_too() -> None:
    (mother,) = variants("present ideas for my mother")
    assert {"mum", "mom", "gift"} <= set(mother.split())
    assert mother.startswith("present ideas for my mother ")
    (mum,) = variants("what does my mum's friend want?")
    assert {"mother", "mom"} <= set(mum.split())
    assert "father" in variants("what did Dad say about the tree?")[0].split()
    assert variants("who builds boats?") == []


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("what did I record today?", False),
        ("what did I note yesterday?", False),
        ("what did I write down on Monday?", False),
        ("what did I say about Stavros yesterday?", True),
        ("what did I record about the garden today?", True),
    ],
)
def test_a_question_that_names_only_a_time_has_no_topic(question: str, topic: bool) -> None:
    _, query = parse_time_filter(question, now=NOW, tz=BERLIN)
    assert names_topic(query) is topic


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("what did I note yesterday?", "You didn't record anything yesterday (Sun 29 Nov)."),
        ("what did I record last Sunday?", "You didn't record anything last Sunday (Sun 29 Nov)."),
        ("what did I say last week?", "You didn't record anything last week (23-29 Nov)."),
        ("what did I say in March?", "You didn't record anything in March (1-31 Mar)."),
        ("what did I say in December 2025?", "You didn't record anything in December 2025 (1-31 Dec 2025)."),
    ],
)
def test_nothing_recorded_names_the_period_in_the_users_time_zone(question: str, answer: str) -> None:
    time_filter, _ = parse_time_filter(question, now=NOW, tz=BERLIN)
    assert time_filter is not None
    assert nothing_recorded_answer(time_filter, tz=BERLIN, now=NOW) == answer


def test_the_period_is_the_users_day_not_utcs() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    late = datetime(2026, 11, 30, 16, 30, tzinfo=ZoneInfo("UTC"))  # already Tuesday 1 Dec in Tokyo
    time_filter, _ = parse_time_filter("what did I note yesterday?", now=late, tz=tokyo)
    assert time_filter is not None
    answer = nothing_recorded_answer(time_filter, tz=tokyo, now=late)
    assert answer == "You didn't record anything yesterday (Mon 30 Nov)."
