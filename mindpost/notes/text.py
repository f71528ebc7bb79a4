"""Small text helpers for notes."""

from __future__ import annotations

import re

TITLE_MAX_CHARS = 80
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?\u3002\uff01\uff1f])(?:\s|$)", re.DOTALL)


def derive_title(text: str, *, max_chars: int = TITLE_MAX_CHARS) -> str:
    """A short title: the first sentence, cut at a word boundary with an ellipsis if too long."""
    text = " ".join(text.split())
    if not text:
        return ""
    match = _FIRST_SENTENCE.match(text)
    sentence = match.group(1) if match else text
    sentence = sentence.rstrip(".\u3002")
    if len(sentence) <= max_chars:
        return sentence
    cut = sentence[: max_chars - 1]
    if " " in cut[max_chars // 2 :]:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-") + "…"
