"""The weighted counter is twitter-text's: check how it counts, and our fitting helpers."""

from __future__ import annotations

import sys

import pytest

from mindpost.posts import length


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello", 5),
        ("a" * 280, 280),
        # Every URL counts 23, however long, and so does a bare domain X would link.
        ("https://example.com/" + "x" * 100, 23),
        ("see example.com", 4 + 23),
        # Emoji count 2, including multi-codepoint sequences (family, skin tone, flag).
        ("😀", 2),
        ("👨‍👩‍👧", 2),
        ("👍🏽", 2),
        ("🇬🇷", 2),
        # CJK counts 2 per character; Latin with accents, Greek, Cyrillic count 1.
        ("日本語", 6),
        ("한국어", 6),
        ("café", 4),
        ("Καλημέρα", 8),
        ("Привет", 6),
        # A decomposed accent is normalised (NFC) first.
        ("cafe\u0301", 4),
    ],
)
def test_weighted_length_follows_x_rules(text: str, expected: int) -> None:
    assert length.weighted_length(text) == expected


def test_import_leaves_no_fake_pkg_resources_behind() -> None:
    module = sys.modules.get("pkg_resources")
    assert module is None or hasattr(module, "working_set")


def test_trim_keeps_whole_sentences() -> None:
    text = "First point here. Second point follows! Third one is a question? " * 5
    trimmed = length.trim_to_limit(text, 60)
    assert length.weighted_length(trimmed) <= 60
    assert trimmed == "First point here. Second point follows!"


def test_trim_counts_weighted_characters() -> None:
    text = "日本語の文章です。" * 40
    trimmed = length.trim_to_limit(text, 280)
    assert length.weighted_length(trimmed) <= 280
    assert trimmed.endswith("。")


def test_trim_falls_back_to_words_with_an_ellipsis() -> None:
    trimmed = length.trim_to_limit("word " * 200, 50)
    assert length.weighted_length(trimmed) <= 50
    assert trimmed.endswith("…")
    assert "wor…" not in trimmed


def test_trim_sentences_keeps_a_closing_question_and_never_cuts_a_sentence() -> None:
    text = "We sailed at dawn. The sea was calm. We saw dolphins near the cape. Have you ever seen one?"
    trimmed = length.trim_sentences(text, 50)
    assert trimmed == "We sailed at dawn. Have you ever seen one?"
    assert length.trim_sentences("日本語の文章です。" * 40 + "行きますか\uff1f", 40).endswith("か\uff1f")
    assert length.trim_sentences("one endless sentence " * 20, 50) == ""  # nothing whole fits
    assert length.trim_sentences("Short and sweet.", 280) == "Short and sweet."


def test_finished_sentences_keeps_what_a_cut_left_whole_as_written() -> None:
    assert length.finished_sentences("One.\n\nTwo! And then I sa") == "One.\n\nTwo!"
    assert length.finished_sentences("He said \u201cgo.\u201d Then") == "He said \u201cgo.\u201d"
    assert length.finished_sentences("Ends here.") == "Ends here."
    assert length.finished_sentences("日本語です。続き") == "日本語です。"
    assert length.finished_sentences("no stop at all") == ""


def test_text_that_fits_is_untouched() -> None:
    assert length.trim_to_limit("Short and sweet.", 280) == "Short and sweet."


def test_split_thread_numbers_posts_that_each_fit() -> None:
    text = " ".join(f"Sentence number {i} says something worth reading 😀." for i in range(40))
    parts = length.split_thread(text, 280)
    assert len(parts) > 3
    assert all(length.weighted_length(part) <= 280 for part in parts)
    assert parts[0].startswith(f"1/{len(parts)} ")
    assert parts[-1].startswith(f"{len(parts)}/{len(parts)} ")
    # Nothing is lost or reordered.
    joined = " ".join(length.strip_numbering(part) for part in parts)
    assert joined == text


def test_split_thread_keeps_parts_that_fit_and_renumbers() -> None:
    parts = length.split_thread(["3/9 Already numbered.", "Second."], 280)
    assert parts == ["1/2 Already numbered.", "2/2 Second."]


def test_one_part_thread_is_not_numbered() -> None:
    assert length.split_thread("Just one.", 280) == ["Just one."]


def test_strip_urls_removes_what_x_would_shorten() -> None:
    assert " ".join(length.strip_urls("read https://example.org/x and b.com now").split()) == "read and now"
