"""Pure text steps of the pipeline: tags, titles, chunking, Prefer and Idempotency-Key parsing."""

from __future__ import annotations

import itertools

import pytest

from mindpost.core.errors import Invalid
from mindpost.notes import idempotency, prefer
from mindpost.notes.chunking import MAX_WORDS, MIN_WORDS, align_words, chunk_transcript, timed_words
from mindpost.notes.tags import extract_tags, hashtags, normalise_tag, topics
from mindpost.notes.text import derive_title

# --- tags --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Booked the flights. Hashtag travel.", ["travel"]),
        ("booked the flights hashtag travel and hash tag Family", ["travel", "family"]),
        ("Hashtag, Travel! More later.", ["travel"]),
        ("Written down: #Travel #work-life and #travel again", ["travel", "work-life"]),
        ("Ideas for #café and #über", ["café", "über"]),
        ("no tags here, and email me at a#b or issue #12", []),
        ("goals: #2026goals", ["2026goals"]),
        ("Wir fahren nach Berlin. Hashtag Reise.", ["reise"]),
    ],
)
def test_hashtags_spoken_or_written(text: str, expected: list[str]) -> None:
    assert hashtags(text) == expected


def test_topics_are_frequent_non_stopwords_with_names_first() -> None:
    text = (
        "I met Nikos in Athens. Nikos builds boats, wooden boats mostly. "
        "He said the boats take a year. I really think that I want to visit Athens again."
    )
    found = topics(text)
    assert set(found[:3]) == {"nikos", "boats", "athens"}
    assert found[0] == "nikos"  # a name said twice ranks with a word said three times
    assert len(found) <= 5
    for stopword in ("the", "i", "really", "think", "want", "that"):
        assert stopword not in found


def test_topics_handle_other_languages_and_scripts() -> None:
    german = "Ich habe heute mit der Bank telefoniert. Die Bank will einen neuen Vertrag. Vertrag prüfen!"
    assert topics(german)[:2] == ["bank", "vertrag"]
    assert "die" not in topics(german)
    # Unspaced scripts do not crash and do not turn whole sentences into topics.
    assert all(len(t) <= 24 for t in topics("今日は東京で友達に会いました。とても楽しかったです。"))
    assert "москва" in topics("Привет, я был в Москве. Москва большая.")


def test_extract_tags_puts_hashtags_first_and_does_not_repeat_them() -> None:
    text = "Hashtag boats. Boats boats boats. Nikos and Nikos."
    tags = extract_tags(text)
    assert tags[0] == "boats"
    assert tags.count("boats") == 1
    assert "nikos" in tags
    assert "hashtag" not in tags


def test_normalise_tag() -> None:
    assert normalise_tag("  #Travel ") == "travel"
    assert normalise_tag("-x-") == "x"
    assert len(normalise_tag("a" * 100)) == 40


# --- titles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Met Nikos in Athens. He builds boats.", "Met Nikos in Athens"),
        ("What a day! Long story.", "What a day!"),
        ("  no punctuation at all  ", "no punctuation at all"),
        ("", ""),
    ],
)
def test_derive_title(text: str, title: str) -> None:
    assert derive_title(text) == title


def test_long_title_is_cut_at_a_word_with_an_ellipsis() -> None:
    title = derive_title("word " * 60)
    assert title.endswith("…")
    assert len(title) <= 80
    assert not title[:-1].endswith(" ")


# --- chunking ----------------------------------------------------------------------------


def _sentences(count: int, words_each: int = 10) -> str:
    return " ".join(" ".join(f"w{i}_{j}" for j in range(words_each - 1)) + f" end{i}." for i in range(count))


def test_short_transcript_is_one_passage() -> None:
    chunks = chunk_transcript(text="Just a short note.")
    assert [c.text for c in chunks] == ["Just a short note."]
    assert chunks[0].start is None


def test_empty_transcript_has_no_passages() -> None:
    assert chunk_transcript(text="   ") == []


def test_long_transcript_overlaps_and_cuts_at_sentences() -> None:
    text = _sentences(60)  # 600 words
    chunks = chunk_transcript(text=text)
    assert len(chunks) >= 3
    words = text.split()
    for chunk in chunks[:-1]:
        size = len(chunk.text.split())
        assert MIN_WORDS <= size <= MAX_WORDS
        assert chunk.text.endswith(".")  # cut at a sentence end
    for first, second in itertools.pairwise(chunks):
        overlap = set(first.text.split()) & set(second.text.split())
        assert 10 <= len(overlap) <= 60
        assert second.text.split()[0].startswith("w")  # next passage starts a sentence
    # Every word is in some passage, in order.
    covered = set()
    for chunk in chunks:
        covered.update(chunk.text.split())
    assert covered == set(words)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_unpunctuated_transcript_still_splits() -> None:
    chunks = chunk_transcript(text=" ".join(f"w{i}" for i in range(500)))
    assert len(chunks) >= 3
    assert all(len(c.text.split()) <= MAX_WORDS for c in chunks)


def test_passages_carry_audio_times_from_segments() -> None:
    segments = [{"start": i * 5.0, "end": i * 5.0 + 5.0, "text": f" Sentence number {i} is here."} for i in range(60)]
    text = " ".join(str(s["text"]).strip() for s in segments)
    chunks = chunk_transcript(text=text, segments=segments)
    assert chunks[0].start == 0.0
    assert chunks[-1].end == 300.0
    for chunk in chunks:
        assert chunk.start is not None
        assert chunk.end is not None
        assert chunk.start < chunk.end
    second_start, first_end = chunks[1].start, chunks[0].end
    assert second_start is not None
    assert first_end is not None
    assert second_start < first_end  # overlap in time too


def test_edited_text_keeps_times_of_surviving_words() -> None:
    segments = [
        {"start": 0.0, "end": 2.0, "text": "I met Nikos in Athens."},
        {"start": 2.0, "end": 4.0, "text": "He builds boats."},
    ]
    words = align_words("I met Nikos in Nafplio. He builds wooden boats.", segments)
    by_text = {w.text: w for w in words}
    assert by_text["Nikos"].start is not None
    assert by_text["Nikos"].start < 2.0
    assert by_text["boats."].start is not None
    assert by_text["boats."].start >= 2.0
    assert by_text["Nafplio."].start is not None  # replaced word sits where the old one was
    assert len(timed_words(segments)) == 8


# --- Prefer / Idempotency-Key ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("wait=10", 10),
        ("respond-async, wait=5", 5),
        ("WAIT = 7", 7),
        ('wait="3"', 3),
        ("wait=600", 60),
        ("wait=abc", None),
        ("wait=-1", None),
        ("return=minimal", None),
        ("wait=4; foo=bar", 4),
    ],
)
def test_prefer_wait(header: str | None, expected: int | None) -> None:
    assert prefer.wait_seconds(header, maximum=60) == expected


def test_idempotency_key_rules() -> None:
    assert idempotency.clean_key(None) is None
    assert idempotency.clean_key("  ") is None
    assert idempotency.clean_key(' "abc-123" ') == "abc-123"
    for bad in ("x" * 256, "has space", "ünïcode"):
        with pytest.raises(Invalid) as info:
            idempotency.clean_key(bad)
        assert info.value.code == "invalid_idempotency_key"
    assert idempotency.fingerprint(kind="text", chunks=[b"a"]) != idempotency.fingerprint(kind="voice", chunks=[b"a"])
