"""Post length the way X counts it (twitter-text weighted length), and ways to fit a limit.

X counts every URL as 23, emoji and most CJK characters as 2 and everything else as 1.
The counting is done by `twitter-text-parser` (a port of X's own twitter-text config v3).
"""

from __future__ import annotations

import re

# twitter-text-parser 3.0.0 reads its bundled emoji list through setuptools' pkg_resources,
# which setuptools 82 removed: requirements/base.txt pins a setuptools that still ships it.
from twitter_text import parse_tweet as _parse_tweet
from twitter_text.extract_urls import extract_urls_with_indices

# Sentence ends: . ! ? … (then closing quotes/brackets, then space), or the CJK full stop and
# full-width ! ? (no space needed after them).
_SENTENCE_END = re.compile(
    "(?:(?<=[.!?\u2026])[\"'\u201d\u2019)\\]]*(?=\\s))|(?:(?<=[\u3002\uff01\uff1f])[\u300d\u300f\uff09]*)"
)
_ELLIPSIS = "…"


def weighted_length(text: str) -> int:
    """X's weighted length of `text` (URLs 23, emoji and CJK 2, others 1)."""
    if not text:
        return 0
    return int(_parse_tweet(text).weightedLength)


def fits(text: str, limit: int) -> bool:
    return weighted_length(text) <= limit


def sentences(text: str) -> list[str]:
    """Split text into sentences, keeping each sentence's own punctuation."""
    text = text.strip()
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()].strip())
            start = match.end()
    pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]


def _sentence_prefixes(text: str) -> list[str]:
    """Every prefix of `text` that ends at a sentence boundary, shortest first, as written."""
    text = text.strip()
    return [text[: match.end()].strip() for match in _SENTENCE_END.finditer(text) if match.end() > 0]


def _longest_fitting(candidates: list[str], limit: int) -> str:
    """The longest candidate that fits; candidates grow, so their lengths are sorted (bisect)."""
    low, high, best = 0, len(candidates) - 1, ""
    while low <= high:
        middle = (low + high) // 2
        if fits(candidates[middle], limit):
            best, low = candidates[middle], middle + 1
        else:
            high = middle - 1
    return best


def _cut_words(text: str, limit: int) -> str:
    """The longest prefix of whole words that fits `limit` with an ellipsis appended."""
    words = text.split()
    prefixes = [" ".join(words[: count + 1]).rstrip(",;:-\u2013\u2014") + _ELLIPSIS for count in range(len(words))]
    best = _longest_fitting(prefixes, limit)
    if best:
        return best
    # A single word longer than the limit: cut characters (never happens with real limits).
    out = ""
    for char in text:
        if not fits(out + char + _ELLIPSIS, limit):
            break
        out += char
    return out + _ELLIPSIS


def trim_to_limit(text: str, limit: int) -> str:
    """Shorten `text` to fit `limit`: drop whole trailing sentences, or cut at a word.

    Returns `text` unchanged when it already fits.
    """
    text = text.strip()
    if fits(text, limit):
        return text
    return _longest_fitting(_sentence_prefixes(text), limit) or _cut_words(text, limit)


def _chunks(text: str, limit: int) -> list[str]:
    """Greedy packing of whole sentences (or word runs for overlong sentences) into chunks."""
    pieces: list[str] = []
    for sentence in sentences(text.replace("\n", " ")):
        if fits(sentence, limit):
            pieces.append(sentence)
            continue
        # An overlong sentence: break it into word runs that each fit.
        run: list[str] = []
        for word in sentence.split():
            if run and not fits(" ".join([*run, word]), limit):
                pieces.append(" ".join(run))
                run = []
            run.append(word)
        if run:
            pieces.append(" ".join(run))
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        candidate = f"{current} {piece}".strip()
        if current and not fits(candidate, limit):
            chunks.append(current)
            current = piece
        else:
            current = candidate
    if current:
        chunks.append(current)
    return chunks


def number_parts(parts: list[str]) -> list[str]:
    total = len(parts)
    if total <= 1:
        return parts
    return [f"{index}/{total} {part}" for index, part in enumerate(parts, start=1)]


def strip_numbering(part: str) -> str:
    return re.sub(r"^\s*\d+\s*/\s*\d+\s+", "", part)


def split_thread(text: str | list[str], limit: int) -> list[str]:
    """Split content into numbered posts ("1/3 ...") that each fit `limit`.

    Accepts one text or a list of parts (for example a model's thread); parts that fit
    with their numbering are kept as they are, longer ones are split at sentences.
    """
    raw = [text] if isinstance(text, str) else list(text)
    raw = [strip_numbering(part).strip() for part in raw if part and part.strip()]
    if not raw:
        return []
    # The "nn/nn " prefix costs at most 6 for threads shorter than 100 posts.
    budget = max(limit - 6, 1)
    parts: list[str] = []
    for part in raw:
        parts.extend([part] if fits(part, budget) else _chunks(part, budget))
    return number_parts(parts)


def strip_urls(text: str) -> str:
    """`text` without the links X would shorten (it rewrites them to t.co, so they can't be compared)."""
    entities = sorted(extract_urls_with_indices(text), key=lambda entity: entity["indices"][0], reverse=True)
    for entity in entities:
        start, end = entity["indices"]
        text = text[:start] + " " + text[end:]
    return text
