"""Issue 15, bug 3: search results mark only the query's meaningful words, on word boundaries,
and say "best matches" rather than claiming how many notes match."""

from __future__ import annotations

import re
from typing import Any

from tests.factories import IndexedNoteFactory

TEXT = "In the morning the business meeting went over the lighthouse budget. Nothing in it was final."


def test_search_marks_whole_meaningful_words(alice: Any, settings: Any) -> None:
    settings.EMBED_BACKEND = "local"
    IndexedNoteFactory.create(user=alice.user, text=TEXT)
    page = alice.page
    alice.goto("/notes/")
    page.get_by_label("Search your notes").fill("the lighthouse in the morning")
    page.locator("#note-results mark").first.wait_for()
    marks = [text.lower() for text in page.locator("#note-results mark").all_inner_texts()]
    assert marks, "nothing marked"
    # Only whole meaningful words: never "the"/"in", never part of "business" or "morning".
    assert set(marks) <= {"lighthouse", "morning"}, marks
    assert "lighthouse" in marks
    html = page.locator("#note-results").inner_html()
    assert "<mark>morning</mark>" in html.lower()
    assert not re.search(r"\w<mark>|</mark>\w", html), html
    summary = page.locator("#note-results").inner_text()
    assert "Best matches" in summary
    assert not re.search(r"\d+ notes? match", summary), summary
    alice.assert_clean()
