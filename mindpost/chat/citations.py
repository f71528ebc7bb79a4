"""Which of the given passages an answer came from.

The prompt asks the model to cite with [n] markers, but the 1.5B model often writes none
(DESIGN §3), and a small model can also cite a number it was never given. So:
- markers are checked: a marker counts only if n is a passage that was given and that passage
  shares a content word with the sentence carrying the marker; other markers are removed;
- the server attributes citations itself by matching the answer against the passages: the
  answer's content words that the question did not already contain (the new information:
  "Stavros", "Nafplio", "7319"), each weighted by how few of the given passages contain it.
An answer that says it found nothing cites nothing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from mindpost.notes.selectors import match_terms

_MARKER_GROUP = re.compile(r"\[(\s*\d{1,2}(?:\s*[,;]\s*\d{1,2})*\s*)\]")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# A passage is cited when it carries at least this share of the best passage's support.
_RELATIVE_SUPPORT = 0.5

NOT_FOUND_PATTERNS = re.compile(
    r"\b(?:i\s+(?:couldn'?t|could\s+not|can'?t|cannot|didn'?t|did\s+not|don'?t|do\s+not)\s+"
    r"(?:find|see|know)|(?:no|not\s+any)\s+(?:information|mention|notes?)|"
    r"(?:notes?|context)\s+(?:do(?:es)?\s*n[o']t|don'?t)\s+(?:say|mention|contain))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Attribution:
    index: int  # 1-based number of the passage in the prompt
    support: float
    marked: bool  # the model cited it with a valid marker


def says_not_found(answer: str) -> bool:
    return bool(NOT_FOUND_PATTERNS.search(answer[:300]))


def _support_scores(answer_terms: set[str], passages: list[set[str]]) -> list[float]:
    n = len(passages)
    df = Counter(term for terms in passages for term in terms)
    return [sum(math.log(1 + n / df[t]) for t in answer_terms & terms) for terms in passages]


def check_markers(answer: str, *, passages: list[str]) -> tuple[str, list[int]]:
    """The answer with invalid markers removed, and the valid cited numbers in order of appearance."""
    passage_terms = [match_terms(p) for p in passages]
    valid: list[int] = []
    pieces: list[str] = []
    for sentence_match in _SENTENCE.finditer(answer) if answer else []:
        sentence = sentence_match.group(0)
        sentence_terms = match_terms(_MARKER_GROUP.sub(" ", sentence))

        def keep(match: re.Match[str], sentence_terms: set[str] = sentence_terms) -> str:
            numbers = [int(x) for x in re.findall(r"\d+", match.group(1))]
            good = [
                n
                for n in numbers
                if 1 <= n <= len(passages) and (not sentence_terms or sentence_terms & passage_terms[n - 1])
            ]
            for n in good:
                if n not in valid:
                    valid.append(n)
            return "".join(f"[{n}]" for n in good)

        pieces.append(_MARKER_GROUP.sub(keep, sentence))
    # Keep whatever separators the sentence splitter skipped (newlines).
    cleaned = _rejoin(answer, pieces)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    cleaned = re.sub(r"[ \t]{2,}", " ", cleaned).strip()
    return cleaned, valid


def _rejoin(original: str, pieces: list[str]) -> str:
    out, cursor = [], 0
    for match, piece in zip(_SENTENCE.finditer(original), pieces, strict=False):
        out.append(original[cursor : match.start()])
        out.append(piece)
        cursor = match.end()
    out.append(original[cursor:])
    return "".join(out)


def attribute(*, answer: str, question: str, passages: list[str]) -> list[Attribution]:
    """Citations for `answer`, best first: valid markers, then passages the answer matches."""
    if not passages or not answer.strip() or says_not_found(answer):
        return []
    _, marked = check_markers(answer, passages=passages)
    passage_terms = [match_terms(p) for p in passages]
    answer_terms = match_terms(_MARKER_GROUP.sub(" ", answer))
    new_terms = answer_terms - match_terms(question)
    scores = _support_scores(new_terms or answer_terms, passage_terms)
    best = max(scores, default=0.0)
    found: list[Attribution] = [Attribution(index=n, support=scores[n - 1], marked=True) for n in marked]
    if best > 0:
        shared = [len((new_terms or answer_terms) & terms) for terms in passage_terms]
        ranked = sorted(range(len(passages)), key=lambda i: -scores[i])
        for i in ranked:
            if i + 1 in marked:
                continue
            # One shared rare word (a name, a number) can be enough; otherwise two.
            telling = shared[i] >= 2 or (shared[i] == 1 and scores[i] >= math.log(1 + len(passages)) - 1e-9)
            if scores[i] >= _RELATIVE_SUPPORT * best and telling:
                found.append(Attribution(index=i + 1, support=scores[i], marked=False))
    return found
