"""The messages sent to the chat model: rules, earlier turns, the numbered notes, the question.

Layout, for llama.cpp's prompt cache: the system message is the same bytes for every user and
every request, so the server evaluates it once per slot and every later prompt starts from it
(`cache_n` in its timings). Everything that changes per request comes after it: the earlier
turns, then one last user message with today's date, the numbered notes and the question.

The notes and the earlier turns share a budget in tokens (CHAT_CONTEXT_TOKENS, see fit_context),
counted with estimate_tokens: a per-script characters-per-token estimate, so no request waits
for the model server's tokeniser.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from functools import lru_cache

NOT_FOUND_ANSWER = "I couldn't find anything about that in your notes."

# Every prompt token adds to the wait for the first one on a 2-core CPU (DESIGN §3), so this is
# short; but cutting the "no names or numbers, do not guess" sentence made the 1.5B model invent
# more, and "reply exactly" made it refuse answerable questions (tried with bench/chat.py).
# No date or anything else per request here: one byte that differs would make llama.cpp
# evaluate the whole prompt again instead of reusing this prefix from its cache.
SYSTEM_PROMPT = (
    "You answer questions about the user's own notes (voice memos). Use only the numbered notes given with "
    "the question; do not add facts, names or numbers that are not in them, and do not guess. Cite the notes "
    "you use by number, like [1] or [2][3]. "
    f'If the notes do not answer the question, reply: "{NOT_FOUND_ANSWER}" '
    'Answer in one to three short sentences in the language of the question, speaking to the user as "you".'
)

_HISTORY_CHARS = 600
_MARKERS = re.compile(r"\s*\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\]")

# --- Counting tokens without the tokeniser --------------------------------------------------
# Tokens per character by kind, fitted to Qwen2.5's tokeniser (llama.cpp's /tokenize on the 1.5B
# server) over the notes of bench/data and bench/data/token_calibration.json; re-measure with
# `bench/chat_latency.py --calibrate`. Qwen splits every digit into its own token; a word with an
# accented letter falls into pieces, so that letter stands for the pieces; Hangul, Greek and
# Indic scripts get about one token per character. Weights are rounded up: the budget must hold,
# so the estimate errs high (the calibration prints the ratio per language).
_WHITESPACE = 0.0  # merged into the next word's token
_ASCII_LETTER = 0.27  # English ~3.7 letters per token
_DIGIT = 1.0
_PUNCTUATION = 1.0
_LATIN_EXTENDED = 3.0  # é, ü, ł …
_ALPHABETIC = 0.42  # Cyrillic, Armenian, Hebrew, Arabic: ~2.4 chars per token
_HAN_KANA = 0.7
_HANGUL = 1.05
_OTHER = 1.2  # Greek, Devanagari and the scripts the vocabulary covers thinly
PER_MESSAGE_TOKENS = 5  # <|im_start|>role\n … <|im_end|>\n around every message


@lru_cache(maxsize=4096)  # characters seen, not requests: bounded by the scripts in use
def _char_tokens(ch: str) -> float:
    if ch.isspace():
        return _WHITESPACE
    if ch.isascii():
        return _ASCII_LETTER if ch.isalpha() else _DIGIT if ch.isdigit() else _PUNCTUATION
    if unicodedata.category(ch)[0] in "PSZN":  # punctuation, symbols, other numerals
        return _PUNCTUATION
    code = ord(ch)
    if code < 0x250 or 0x1E00 <= code < 0x1F00:  # Latin-1, Latin Extended A/B and Additional
        return _LATIN_EXTENDED
    if 0x400 <= code < 0x780:  # Cyrillic, Armenian; Hebrew, Arabic, Syriac
        return _ALPHABETIC
    if 0x3040 <= code < 0x3100 or 0x3400 <= code < 0xA000 or 0xF900 <= code < 0xFB00:
        return _HAN_KANA
    if 0xAC00 <= code < 0xD7B0 or 0x1100 <= code < 0x1200:
        return _HANGUL
    return _OTHER


def estimate_tokens(text: str) -> int:
    """About how many tokens Qwen2.5's tokeniser makes of `text`, erring high."""
    return math.ceil(sum(_char_tokens(ch) for ch in text))


def cut_to_tokens(text: str, tokens: int) -> str:
    """The start of `text` within `tokens` (estimated), on a word boundary with an ellipsis."""
    if estimate_tokens(text) <= tokens:
        return text
    chars = int(len(text) * tokens / max(estimate_tokens(text), 1))
    while chars > 0:
        cut = text[:chars]
        if " " in cut[chars // 2 :]:
            cut = cut.rsplit(" ", 1)[0]
        cut = cut.rstrip() + " …"
        if estimate_tokens(cut) <= tokens:
            return cut
        chars = int(chars * 0.9)
    return ""


# --- The notes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContextPassage:
    number: int
    text: str
    created_at: datetime | None
    start: float | None = None


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def render_passage(passage: ContextPassage, *, tz: tzinfo) -> str:
    when = passage.created_at.astimezone(tz).strftime("%a %d %b %Y %H:%M") if passage.created_at else "undated"
    at = f", at {_clock(passage.start)}" if passage.start else ""
    return f"[{passage.number}] ({when}{at}) {' '.join(passage.text.split())}"


def render_context(passages: list[ContextPassage], *, tz: tzinfo) -> str:
    return "\n\n".join(render_passage(passage, tz=tz) for passage in passages)


def clean_history(history: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Earlier turns with their [n] markers stripped (those numbers meant other notes), each cut short."""
    cleaned = []
    for role, content in history:
        text = _MARKERS.sub("", content).strip()
        if len(text) > _HISTORY_CHARS:
            text = text[: _HISTORY_CHARS - 2].rsplit(" ", 1)[0] + " …"  # stays within: cleaning twice is a no-op
        cleaned.append((role, text))
    return cleaned


# --- The budget ------------------------------------------------------------------------------

# About one short voice note with its date line. Below this a passage is a sliver that loses
# the answer: fewer, whole-ish passages instead.
MIN_PASSAGE_TOKENS = 48
# The earlier turns may always use this share of the budget; more when the notes leave room.
HISTORY_SHARE = 1 / 3


@dataclass(frozen=True)
class FittedContext:
    passages: list[ContextPassage]  # the first len(passages) of those given, in order, numbers unchanged
    history: list[tuple[str, str]]  # cleaned, the newest turns that fit
    tokens: int  # estimated tokens of both, as rendered (with message framing)


def fit_context(
    *,
    passages: list[ContextPassage],
    history: list[tuple[str, str]],
    budget: int,
    tz: tzinfo,
    trim: Callable[[str, int], str] | None = None,
) -> FittedContext:
    """Keep the notes and the earlier turns within `budget` tokens (estimated).

    The notes come first: they ground the answer. The earlier turns get HISTORY_SHARE of the
    budget, or whatever the notes leave, newest first, whole turns only (an answer without its
    question misleads). The notes share the rest fairly: a short note keeps all of itself and
    leaves its share to the longer ones, which `trim(text, max_chars)` cuts (the caller passes
    the sentences-nearest-the-question excerpt). When even that leaves under MIN_PASSAGE_TOKENS
    for a long note (short ones count at their size), the lowest-ranked notes are left out (the
    rest keep their numbers), and with room for none the earlier turns go: a found answer always
    has at least its best note."""
    budget = max(budget, 0)
    costs = [estimate_tokens(render_passage(p, tz=tz)) + 1 for p in passages]  # +1: the blank line
    history = clean_history(history)

    # Earlier turns: newest pair first, while they fit their allowance.
    allowance = max(int(budget * HISTORY_SHARE), budget - sum(costs))
    kept: list[tuple[str, str]] = []
    used = 0
    for end in range(len(history), 0, -2):
        pair = history[max(end - 2, 0) : end]
        cost = sum(estimate_tokens(text) + PER_MESSAGE_TOKENS for _, text in pair)
        if used + cost > allowance:
            break
        kept[:0] = pair
        used += cost

    # The notes: as many as get MIN_PASSAGE_TOKENS each, best first, then water-filling.
    room = budget - used
    if passages and room < min(MIN_PASSAGE_TOKENS, costs[0]):
        kept, used, room = [], 0, budget
    # Short notes count at their own size, so a day of eight short notes all fit.
    count, floor = 0, 0
    for cost in costs:
        floor += min(cost, MIN_PASSAGE_TOKENS)
        if floor > room:
            break
        count += 1
    count = min(len(passages), max(count, 1))
    chosen, shares = passages[:count], costs[:count]
    fitted: dict[int, ContextPassage] = {}
    left = room
    for index in sorted(range(count), key=lambda i: shares[i]):
        share = left // (count - len(fitted))
        passage = chosen[index]
        if shares[index] > share:
            passage = _trim_passage(passage, tokens=share, tz=tz, trim=trim)
        fitted[index] = passage
        left -= estimate_tokens(render_passage(passage, tz=tz)) + 1
    result = [fitted[i] for i in range(count)]
    total = used + sum(estimate_tokens(render_passage(p, tz=tz)) + 1 for p in result)
    return FittedContext(passages=result, history=kept, tokens=total)


def _trim_passage(
    passage: ContextPassage, *, tokens: int, tz: tzinfo, trim: Callable[[str, int], str] | None
) -> ContextPassage:
    """The passage cut (by `trim`, which works in characters) until its rendered line fits `tokens`."""
    frame = estimate_tokens(render_passage(replace(passage, text=""), tz=tz)) + 1
    want = max(tokens - frame, 1)
    text = passage.text
    if trim is None:
        return replace(passage, text=cut_to_tokens(text, want))
    ratio = len(text) / max(estimate_tokens(text), 1)  # this text's own chars per token
    chars = int(want * ratio)
    while chars > 0:
        cut = trim(text, chars)
        if estimate_tokens(cut) <= want:
            return replace(passage, text=cut)
        chars = int(chars * 0.85)
    return replace(passage, text=cut_to_tokens(text, want))


# --- The messages ----------------------------------------------------------------------------


def build_messages(
    *,
    question: str,
    passages: list[ContextPassage],
    history: list[tuple[str, str]],
    now: datetime,
    tz: tzinfo,
) -> list[dict[str, str]]:
    """The fixed system rules, the earlier turns (markers stripped), then today's date, the
    notes and the question in one last user message, where a small model attends best."""
    today = now.astimezone(tz).strftime("%A %d %B %Y")
    messages = [{"role": "system", "content": SYSTEM_PROMPT}]
    messages += [{"role": role, "content": text} for role, text in clean_history(history)]
    messages.append(
        {
            "role": "user",
            "content": f"Today is {today}.\n\nNotes:\n\n{render_context(passages, tz=tz)}\n\n"
            f"Question: {question.strip()}",
        }
    )
    return messages
