"""Generated hashtags are valid X hashtags: words joined in CamelCase, nothing that X would cut
short or ignore (spaces, punctuation, pure digits), and the draft text carries the ones that fit."""

from __future__ import annotations

import pytest

from mindpost.posts import length
from mindpost.posts.generation import MAX_TOPICS, hashtag, hashtags, with_hashtags
from tests.posts.conftest import api_for, variants_json

GENERATE = "/api/posts/generate_from_dumps/"


@pytest.mark.parametrize(
    ("topic", "tag"),
    [
        ("remote work", "RemoteWork"),
        ("#remote work", "RemoteWork"),
        ("\uff03remote  work ", "RemoteWork"),
        ("self-care", "SelfCare"),
        ("AI", "AI"),
        ("python", "python"),
        ("#Nafplio", "Nafplio"),
        ("work_life", "work_life"),
        ("café culture", "CaféCulture"),
        ("Αθήνα", "Αθήνα"),
        ("東京", "東京"),
        ("web3", "web3"),
        ("2024 goals", "2024Goals"),
        ("what's next?", "WhatSNext"),
    ],
)
def test_topics_become_valid_hashtags(topic: str, tag: str) -> None:
    assert hashtag(topic) == tag


@pytest.mark.parametrize("topic", ["", "   ", "#", "2024", "#1 2 3", "!!!", "🙂", "x" * 41, None, 42, ["a"]])
def test_topics_that_cannot_be_hashtags_are_dropped(topic: object) -> None:
    assert hashtag(topic) is None


def test_hashtags_are_distinct_and_capped() -> None:
    topics = ["remote work", "RemoteWork", "#remotework", "2024", "focus", "a", "b", "c", "d", "e"]
    assert hashtags(topics) == ["RemoteWork", "focus", "a", "b", "c"][:MAX_TOPICS]
    assert hashtags("remote work") == []  # not a list


def test_draft_text_adds_the_hashtags_that_fit() -> None:
    assert with_hashtags("Hello.", ["RemoteWork", "focus"], limit=280) == "Hello.\n\n#RemoteWork #focus"
    assert with_hashtags("Working from #remotework again.", ["RemoteWork"], limit=280) == (
        "Working from #remotework again."
    )
    text = "x" * 272  # room for "\n\n#ok" (5), not for "\n\n#Toolong" (10)
    draft = with_hashtags(text, ["Toolong", "ok"], limit=280)
    assert draft == f"{text}\n\n#ok"
    assert length.weighted_length(draft) <= 280


@pytest.mark.django_db
def test_generated_topics_with_spaces_come_back_as_valid_hashtags(user, make_note, chat) -> None:
    note = make_note(user, "Working remotely from the harbour in Nafplio, with Stavros fixing nets nearby.")
    texts = (
        "Remote work from the harbour in Nafplio today.",
        "Stavros fixed his nets while I answered email.",
        "Nafplio harbour, laptop open, nets drying.",
    )
    chat.reply(variants_json(*texts, topics=["remote work", "#digital nomad", "2024", "Nafplio!"]))
    response = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json")
    assert response.status_code == 200, response.content
    for post in response.json()["posts"]:
        assert post["topics"] == ["RemoteWork", "DigitalNomad", "Nafplio"]
        assert all(" " not in topic and not topic.isdigit() for topic in post["topics"])
