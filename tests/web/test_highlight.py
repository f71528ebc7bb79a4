"""Issue 15, bug 3: search excerpts mark the query's meaningful words, whole words only."""

from __future__ import annotations

import pytest

from mindpost.web.templatetags.web import highlight


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        # Stopwords are never marked, and a word is never marked inside another one.
        (
            "In the morning the business plan",
            "the business in the morning",
            "In the <mark>morning</mark> the <mark>business</mark> plan",
        ),
        ("Singing in the rain", "in", "Singing in the rain"),
        # The query's words meet their other forms, as search does (stems, case, accents).
        ("Fresh Tomatoes for the café", "tomato cafe", "Fresh <mark>Tomatoes</mark> for the <mark>café</mark>"),
        ("Tomatoes & <basil>", "basil", "Tomatoes &amp; &lt;<mark>basil</mark>&gt;"),
        ("Nothing here", "", "Nothing here"),
    ],
)
def test_highlight_marks_whole_meaningful_words(text: str, query: str, expected: str) -> None:
    assert str(highlight(text, query)) == expected
