"""Generation: variants that really fit (checked with the weighted counter), robust parsing,
no malformed output reaching the client, quotas, and the end-to-end flow to a published post."""

from __future__ import annotations

import json
import uuid

import pytest

from mindpost.billing.models import UsageCounter
from mindpost.posts import length
from mindpost.posts.models import Post
from tests.billing.conftest import make_subscription
from tests.posts.conftest import api_for, connect_x, variants_json

pytestmark = pytest.mark.django_db

GENERATE = "/api/posts/generate_from_dumps/"


def generations_used(user) -> int:
    counter = UsageCounter.objects.filter(user=user, metric="generations").first()
    return counter.used if counter else 0


def assert_all_fit(body: dict) -> None:
    """Every variant (and every thread part) checked with the weighted counter."""
    limit = body["char_limit"]
    for variant in body["posts"]:
        texts = variant["parts"] or [variant["post_text"]]
        for text in texts:
            assert length.weighted_length(text) <= limit, text
        assert variant["character_count"] == max(length.weighted_length(t) for t in texts)


def test_three_short_variants_in_the_reference_shape(user, make_note, chat) -> None:
    note = make_note(user, "Met Stavros at the harbour in Nafplio. He fixes fishing nets every morning.")
    chat.reply(
        variants_json(
            "Met Stavros at the harbour in Nafplio this morning. He fixes fishing nets every day.",
            "Nafplio harbour: Stavros was mending nets again. Every single morning.",
            "Every morning in Nafplio, Stavros fixes his nets at the harbour. I finally said hello.",
        )
    )
    response = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["char_limit"] == 280
    assert len(body["posts"]) == 3
    assert set(body["posts"][0]) >= {"post_text", "topics", "character_count"}
    assert body["posts"][0]["topics"] == ["harbour"]
    assert_all_fit(body)
    assert generations_used(user) == 1

    request = chat.completions[0].json()
    prompt = "\n".join(m["content"] for m in request["messages"])
    assert "Stavros" in prompt  # the note went in
    assert "JSON" in prompt
    assert "3 different versions" in prompt
    assert request["response_format"] == {"type": "json_object"}


def test_counts_are_computed_not_trusted(user, make_note, chat) -> None:
    note = make_note(user)
    text = "Harbour day 😀😀 https://example.org/" + "a" * 60
    chat.reply(json.dumps({"posts": [{"post_text": text, "topics": [], "character_count": 3}] * 3}))
    body = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").json()
    assert body["posts"][0]["character_count"] == length.weighted_length(text) == 12 + 4 + 1 + 23
    assert_all_fit(body)


@pytest.mark.parametrize(
    "reply",
    [
        "```json\n" + variants_json("One.", "Two.", "Three.") + "\n```",
        "Sure! Here are your posts:\n" + variants_json("One.", "Two.", "Three.") + "\nEnjoy.",
        json.dumps([{"post_text": "One."}, {"post_text": "Two."}, {"post_text": "Three."}]),
    ],
)
def test_fenced_or_wrapped_json_is_parsed(user, make_note, chat, reply) -> None:
    note = make_note(user)
    chat.reply(reply)
    body = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").json()
    assert [p["post_text"] for p in body["posts"]] == ["One.", "Two.", "Three."]
    assert len(chat.completions) == 1
    assert_all_fit(body)


def test_bad_json_is_retried_once_and_never_shown(user, make_note, chat) -> None:
    note = make_note(user)
    chat.reply('{"posts": [{"post_text": "unterminated', variants_json("Fixed one.", "Fixed two.", "Fixed three."))
    body = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").json()
    assert [p["post_text"] for p in body["posts"]] == ["Fixed one.", "Fixed two.", "Fixed three."]
    assert_all_fit(body)
    repair = chat.completions[1].json()["messages"]
    assert repair[-1]["role"] == "user"
    assert "JSON" in repair[-1]["content"]
    assert generations_used(user) == 1


def test_a_reply_cut_at_the_token_budget_keeps_its_whole_sentences_without_a_repair(user, make_note, chat) -> None:
    note = make_note(user)
    cut = '{"post_text": "I walked to the harbour at dawn. The boats were already out. And then I saw the'
    chat.reply(cut, variants_json("Two."), variants_json("Three."))
    body = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").json()
    assert [p["post_text"] for p in body["posts"]] == [
        "I walked to the harbour at dawn. The boats were already out.",
        "Two.",
        "Three.",
    ]
    assert len(chat.completions) == 3  # one per angle, no repair
    assert_all_fit(body)


@pytest.mark.parametrize(
    "replies",
    [
        ("not json at all", "still not json"),
        ('{"posts": "a string"}', '{"posts": [{"post_text": ""}]}'),
        ('{"wrong": 1}', "[1, 2, 3]"),
    ],
)
def test_malformed_twice_fails_and_is_not_counted(user, make_note, chat, replies) -> None:
    note = make_note(user)
    chat.reply(*replies)
    response = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json")
    assert response.status_code == 502
    assert response.json()["code"] == "generation_failed"
    assert "posts" not in response.json()
    assert generations_used(user) == 0


def test_model_down_is_503_and_not_counted(user, make_note, chat) -> None:
    note = make_note(user)
    chat.reply(503)
    response = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json")
    assert response.status_code == 503
    assert response.json()["code"] == "model_unavailable"
    assert generations_used(user) == 0


@pytest.mark.parametrize(
    ("rewrite", "expected"),
    [("A shorter walk to the harbour.", "A shorter walk to the harbour."), ("x " * 200, "…")],
)
def test_too_long_variants_lose_sentences_or_are_rewritten_once_in_their_conversation(
    user, make_note, chat, rewrite, expected
) -> None:
    note = make_note(user)
    sentences = "I walked to the harbour. " * 20  # 500 characters of whole sentences
    run_on = "I walked to the harbour and " * 12 + "back."  # one sentence of 341 characters
    first = variants_json("Short and fine.", sentences.strip(), run_on)
    chat.reply(first, variants_json(rewrite))
    body = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").json()
    texts = [p["post_text"] for p in body["posts"]]
    assert texts[0] == "Short and fine."
    # Whole sentences dropped from the end, no model call: what is left is still a post.
    assert texts[1] == ("I walked to the harbour. " * 11).strip()
    # The run-on sentence can't lose a sentence: written again once, then cut at a word if still too long.
    assert texts[2].endswith(expected) if expected == "…" else texts[2] == expected
    assert_all_fit(body)
    assert len(chat.completions) == 2
    # The rewrite goes on from the conversation that wrote the drafts (llama.cpp reuses its prompt).
    asked, shorten = (c.json()["messages"] for c in chat.completions)
    assert shorten[: len(asked)] == asked
    assert shorten[len(asked)] == {"role": "assistant", "content": first}
    assert shorten[-1]["role"] == "user"
    assert "341 characters" in shorten[-1]["content"]
    assert "at most 280 characters" in shorten[-1]["content"]


def test_two_run_ons_in_one_reply_are_rewritten_in_one_request(user, make_note, chat) -> None:
    note = make_note(user)
    run_on = "I walked to the harbour and " * 12 + "back."
    chat.reply(
        variants_json("Short and fine.", run_on, run_on.replace("walked", "ran")),
        variants_json("A shorter walk.", "A shorter run."),
    )
    body = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").json()
    assert [p["post_text"] for p in body["posts"]] == ["Short and fine.", "A shorter walk.", "A shorter run."]
    assert len(chat.completions) == 2
    request = chat.completions[1].json()["messages"][-1]["content"]
    assert "341 and 305 characters" in request
    assert "each of the 2 posts" in request


def test_a_closing_question_survives_the_trim(user, make_note, chat) -> None:
    note = make_note(user)
    text = "I walked to the harbour this morning. " * 8 + "Where do you walk?"
    chat.reply(variants_json(text, "Two.", "Three."))
    body = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").json()
    trimmed = body["posts"][0]["post_text"]
    assert trimmed.endswith("this morning. Where do you walk?")
    assert length.weighted_length(trimmed) <= 280
    assert len(chat.completions) == 1
    assert_all_fit(body)


def test_medium_and_long_ask_for_fewer_variants(user, make_note, chat) -> None:
    note = make_note(user)
    chat.reply(variants_json("A" * 600, "B" * 700))
    body = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(note.pk)], "max_chars": 1000}, format="json").json()
    # max_chars 1000 on an ordinary account is capped at its 280 limit: still three asked for.
    assert body["char_limit"] == 280
    assert_all_fit(body)


def test_long_posts_for_a_verified_account(user, make_note, chat, fake_x) -> None:
    fake_x.add_user("blue", name="Blue", verified_type="blue")
    connect_x(user, fake_x)
    note = make_note(user)
    chat.reply(variants_json("Long " * 300, "Longer " * 300, "Longest " * 300))
    body = (
        api_for(user)
        .post(GENERATE, {"brain_dump_uuids": [str(note.pk)], "min_chars": 1000, "max_chars": 3000}, format="json")
        .json()
    )
    assert body["char_limit"] == 25_000
    assert len(body["posts"]) == 2  # 1-2 variants for long posts
    system = chat.completions[0].json()["messages"][0]["content"]
    assert "2 different versions" in system
    assert "between 1000 and 3000" in system
    for post in body["posts"]:
        assert length.weighted_length(post["post_text"]) <= 3000


def test_thread_format_returns_numbered_posts_that_each_fit(user, make_note, chat) -> None:
    note = make_note(user)
    long_part = " ".join(f"Sentence {i} about the harbour and the boats." for i in range(12))
    chat.reply(
        json.dumps(
            {
                "posts": [
                    {"parts": ["The harbour at dawn.", long_part, "Home by noon."], "topics": ["travel"]},
                    {"parts": ["Another take.", "With two parts."], "topics": []},
                    {"post_text": "A single text thread.", "topics": []},
                ]
            }
        )
    )
    body = (
        api_for(user)
        .post(GENERATE, {"brain_dump_uuids": [str(note.pk)], "format": "thread", "max_chars": 900}, format="json")
        .json()
    )
    assert body["format"] == "thread"
    first = body["posts"][0]["parts"]
    assert len(first) > 3  # the long part was split
    assert first[0].startswith(f"1/{len(first)} ")
    assert body["posts"][2]["parts"] == ["A single text thread."]
    assert_all_fit(body)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({}, "notes_required"),
        ({"brain_dump_uuids": []}, "notes_required"),
        ({"brain_dump_uuids": ["nope"]}, "invalid"),
        ({"brain_dump_uuids": "nope"}, "invalid"),
        ({"brain_dump_uuids": [str(uuid.uuid4())]}, "notes_not_found"),
        ({"min_chars": 500, "max_chars": 100}, "invalid_length_range"),
        ({"max_chars": 5}, "invalid"),
        ({"max_chars": "lots"}, "invalid"),
        ({"format": "poem"}, "invalid"),
        ({"post_type": "linkedin", "format": "thread"}, "thread_not_supported"),
    ],
)
def test_bad_generation_input(user, make_note, chat, payload, code) -> None:
    note = make_note(user)
    if "brain_dump_uuids" not in payload and code not in ("notes_required",):
        payload = {**payload, "brain_dump_uuids": [str(note.pk)]}
    response = api_for(user).post(GENERATE, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert chat.completions == []
    assert generations_used(user) == 0


def test_notes_that_are_not_ready_are_refused(user, make_note, chat) -> None:
    pending = make_note(user, status="processing")
    response = api_for(user).post(GENERATE, {"brain_dump_uuids": [str(pending.pk)]}, format="json")
    assert response.json()["code"] == "notes_not_ready"
    assert chat.completions == []


def test_generation_quota_at_the_limit(user, make_note, chat, settings, plans) -> None:
    settings.STRIPE_SECRET_KEY = "sk_test_posts"
    plan = plans["basic"]
    plan.generations_per_period = 1
    plan.max_post_chars = 280
    plan.save()
    make_subscription(user, plan)
    note = make_note(user)
    chat.reply("garbage", "more garbage", variants_json("One.", "Two.", "Three."))
    client = api_for(user)
    assert client.post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").status_code == 502
    assert generations_used(user) == 0  # the failure gave its unit back
    assert client.post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").status_code == 200
    refused = client.post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "limit_reached"
    assert len(chat.completions) == 3


def test_connect_generate_edit_publish_flow(user, make_note, chat, fake_x, x_user) -> None:
    connect_x(user, fake_x)
    note = make_note(user, "Met Stavros in Nafplio; he has mended nets at the harbour for forty years.")
    chat.reply(
        variants_json(
            "Met Stavros in Nafplio today. Forty years of mending nets at the same harbour.",
            "Stavros has mended nets in Nafplio's harbour for forty years. I met him today.",
            "Forty years, one harbour, endless nets: Stavros in Nafplio.",
        )
    )
    client = api_for(user)
    generated = client.post(GENERATE, {"brain_dump_uuids": [str(note.pk)]}, format="json").json()
    chosen = generated["posts"][1]["post_text"]

    draft = client.post("/api/posts/", {"content": chosen, "brain_dump_ids": [str(note.pk)]}, format="json").json()
    assert draft["status"] == "draft"
    edited = chosen + " What a life."
    assert client.patch(f"/api/posts/{draft['id']}/", {"content": edited}, format="json").status_code == 200
    published = client.post(f"/api/posts/{draft['id']}/publish/")
    assert published.status_code == 200, published.content
    body = published.json()
    assert body["status"] == "published"
    assert body["brain_dump_ids"] == [str(note.pk)]
    [tweet] = fake_x.tweets_of(x_user.id)
    assert tweet.text == edited
    assert body["post_id"] == tweet.id
    assert Post.objects.get(pk=draft["id"]).post_url.endswith(tweet.id)
