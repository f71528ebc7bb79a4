"""Split a transcript into overlapping passages that remember where they are in the audio.

Passages are ~100-200 words (150 aimed for) and cut at sentence ends when one is near,
so a passage reads as whole thoughts; consecutive passages overlap by ~30 words so a
thought that straddles a cut is still found whole in one of them. Each word carries the
time range of the transcript segment it came from (interpolated inside the segment), so
each passage knows its start and end in the recording. An edited transcript is aligned
back onto the original words (difflib) to keep the times of the words that survived.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TARGET_WORDS = 150
MIN_WORDS = 100
MAX_WORDS = 200
OVERLAP_WORDS = 30

# Sentence ends: . ! ? … and the CJK full stop / fullwidth marks, then any closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u2026]['\"\u201d\u2019)\]]*$")
_WORD_KEY = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Word:
    text: str
    start: float | None = None
    end: float | None = None

    @property
    def ends_sentence(self) -> bool:
        return bool(_SENTENCE_END.search(self.text))


@dataclass(frozen=True)
class Chunk:
    position: int
    text: str
    start: float | None
    end: float | None


def _segment_value(segment: Any, name: str) -> Any:
    return segment[name] if isinstance(segment, dict) else getattr(segment, name)


def timed_words(segments: Sequence[Any]) -> list[Word]:
    """Words of the segments ({start, end, text} dicts or Segment objects), each with a time range."""
    out: list[Word] = []
    for segment in segments:
        pieces = str(_segment_value(segment, "text")).split()
        if not pieces:
            continue
        start, end = float(_segment_value(segment, "start")), float(_segment_value(segment, "end"))
        step = max(end - start, 0.0) / len(pieces)
        for index, piece in enumerate(pieces):
            out.append(Word(piece, round(start + index * step, 2), round(start + (index + 1) * step, 2)))
    return out


def _key(word: str) -> str:
    return _WORD_KEY.sub("", word.casefold())


def align_words(text: str, segments: Sequence[Any]) -> list[Word]:
    """The words of `text`, carrying times from the segment words they match (None if none)."""
    new = text.split()
    old = timed_words(segments)
    if not old:
        return [Word(piece) for piece in new]
    matcher = difflib.SequenceMatcher(a=[_key(w.text) for w in old], b=[_key(w) for w in new], autojunk=False)
    times: list[tuple[float | None, float | None]] = [(None, None)] * len(new)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(b1 - b0):
                times[b0 + offset] = (old[a0 + offset].start, old[a0 + offset].end)
        elif tag == "replace" and a1 > a0:
            # A reworded stretch still sits where the old words were in the audio.
            for index in range(b0, b1):
                times[index] = (old[a0].start, old[a1 - 1].end)
    return [Word(piece, start, end) for piece, (start, end) in zip(new, times, strict=True)]


def _cut(words: list[Word], start: int) -> int:
    """The end (exclusive) of the passage starting at `start`: a sentence end near the target."""
    low, high = start + MIN_WORDS, min(start + MAX_WORDS, len(words))
    ends = [j for j in range(low, high + 1) if words[j - 1].ends_sentence]
    if ends:
        return min(ends, key=lambda j: abs(j - (start + TARGET_WORDS)))
    return start + TARGET_WORDS


def _next_start(words: list[Word], end: int, start: int) -> int:
    """Where the next passage starts: ~OVERLAP_WORDS back, at a sentence start if one is close."""
    wanted = end - OVERLAP_WORDS
    window = range(max(start + 1, end - 2 * OVERLAP_WORDS), end - OVERLAP_WORDS // 2 + 1)
    starts = [k for k in window if words[k - 1].ends_sentence]
    if starts:
        return min(starts, key=lambda k: abs(k - wanted))
    return max(start + 1, wanted)


def chunk_words(words: list[Word]) -> list[Chunk]:
    chunks: list[Chunk] = []
    start = 0
    while start < len(words):
        end = len(words) if len(words) - start <= MAX_WORDS else _cut(words, start)
        piece = words[start:end]
        starts = [w.start for w in piece if w.start is not None]
        ends = [w.end for w in piece if w.end is not None]
        chunks.append(
            Chunk(
                position=len(chunks),
                text=" ".join(w.text for w in piece),
                start=min(starts) if starts else None,
                end=max(ends) if ends else None,
            )
        )
        if end >= len(words):
            break
        start = _next_start(words, end, start)
    return chunks


def chunk_transcript(*, text: str, segments: Sequence[Any] = ()) -> list[Chunk]:
    """Passages of a transcript; times come from `segments` when they describe this text."""
    words = align_words(text, segments) if segments else [Word(piece) for piece in text.split()]
    return chunk_words(words)
