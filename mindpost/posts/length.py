"""Post length the way X counts it (twitter-text weighted length), and ways to fit a limit.

X counts every URL as 23, emoji and most CJK characters as 2 and everything else as 1.
The counting is done by `twitter-text-parser` (a port of X's own twitter-text config v3).
"""

from __future__ import annotations

import re
import unicodedata

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


def trim_sentences(text: str, limit: int) -> str:
    """The longest version of `text` made of its own whole sentences, in order, that fits `limit`,
    dropping sentences from the end, but keeping a closing question (a post that ends by asking
    its readers something keeps asking it); "" when not even one sentence fits."""
    text = text.strip()
    if fits(text, limit):
        return text
    parts = sentences(text)
    if len(parts) > 1 and parts[-1].endswith(("?", "\uff1f")):
        body, question = parts[:-1], parts[-1]
        return _longest_fitting([" ".join([*body[:count], question]) for count in range(len(body))], limit)
    return _longest_fitting(_sentence_prefixes(text), limit)


def finished_sentences(text: str) -> str:
    """`text` up to the end of its last finished sentence, as written ("" when none finished):
    what is worth keeping of a text that was cut off mid-way."""
    text = text.strip()
    # The space: a stop at the very end finishes a sentence too (the pattern wants one after it).
    ends = [match.end() for match in _SENTENCE_END.finditer(text + " ") if match.end() > 0]
    return text[: ends[-1]].strip() if ends else ""


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


# --- graphemes (Bluesky, Mastodon) -------------------------------------------------------------
# Bluesky limits posts to 300 grapheme clusters and Mastodon counts grapheme clusters too, so an
# emoji with a skin tone, a flag or "e" + combining accent is one. The standard library has no
# UAX #29 segmenter; this covers the rules that matter in posts (combining marks, ZWJ emoji
# sequences, variation selectors, skin tones, flags, tags, Hangul jamo, Indic conjuncts, CR LF). It agrees with
# `regex`'s \X on the cases in tests/posts/test_bluesky.py.
_ZWJ = "\u200d"
# Viramas that join consonants into one cluster (Devanagari, Bengali, Gujarati, Oriya, Telugu, Malayalam).
_INDIC_LINKERS = frozenset("\u094d\u09cd\u0acd\u0b4d\u0c4d\u0d4d")


def _is_extend(char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or code in (0x200C, 0x200D)
        or 0xFE00 <= code <= 0xFE0F  # variation selectors (emoji / text presentation)
        or 0x1F3FB <= code <= 0x1F3FF  # skin tones
        or 0xE0020 <= code <= 0xE007F  # tags (subdivision flags)
        or 0xE0100 <= code <= 0xE01EF
    )


def _is_pictographic(char: str) -> bool:
    code = ord(char)
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0x2300 <= code <= 0x23FF
        or 0x2B00 <= code <= 0x2BFF
        or code in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299)
    )


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _hangul(char: str) -> str:
    code = ord(char)
    if 0x1100 <= code <= 0x115F or 0xA960 <= code <= 0xA97C:
        return "L"
    if 0x1160 <= code <= 0x11A7 or 0xD7B0 <= code <= 0xD7C6:
        return "V"
    if 0x11A8 <= code <= 0x11FF or 0xD7CB <= code <= 0xD7FB:
        return "T"
    if 0xAC00 <= code <= 0xD7A3:
        return "LV" if (code - 0xAC00) % 28 == 0 else "LVT"
    return ""


def _joins(previous: str, char: str, *, cluster: str, regional_run: int) -> bool:
    if previous == "\r" and char == "\n":
        return True
    if previous in "\r\n" or char in "\r\n":
        return False
    if _is_extend(char):
        return True
    before, after = _hangul(previous), _hangul(char)
    if before and after:
        return (
            (before == "L" and after in ("L", "V", "LV", "LVT"))
            or (before in ("LV", "V") and after in ("V", "T"))
            or (before in ("LVT", "T") and after == "T")
        )
    if previous in _INDIC_LINKERS and unicodedata.category(char) == "Lo" and 0x0900 <= ord(char) <= 0x0D7F:
        return True  # Indic conjunct (UAX #29 GB9c): consonant + virama + consonant, e.g. क्ष
    if previous == _ZWJ and _is_pictographic(char):
        # Emoji ZWJ sequence: the cluster so far starts with a pictograph.
        return any(_is_pictographic(c) for c in cluster)
    if _is_regional(previous) and _is_regional(char):
        return regional_run % 2 == 1  # flags pair up: 🇩🇪🇫🇷 is two clusters
    return False


def graphemes(text: str) -> list[str]:
    """`text` split into user-perceived characters (extended grapheme clusters, approximately)."""
    clusters: list[str] = []
    regional_run = 0
    for char in text:
        if clusters and _joins(clusters[-1][-1], char, cluster=clusters[-1], regional_run=regional_run):
            clusters[-1] += char
        else:
            clusters.append(char)
        regional_run = regional_run + 1 if _is_regional(char) else 0
    return clusters


def grapheme_length(text: str) -> int:
    return len(graphemes(text))


# Mastodon: a URL counts as 23 whatever its length, and a mention counts only its local part
# (`@alice@example.social` → `@alice`), as in app/validators/status_length_validator.rb.
_MASTODON_MENTION = re.compile(
    r"(?<![\w/])(@[A-Za-z0-9_]+(?:[A-Za-z0-9_.-]+[A-Za-z0-9_]+)?)@[\w.-]+\.[A-Za-z]{2,}", re.UNICODE
)


def mastodon_length(text: str, *, url_length: int = 23) -> int:
    entities = sorted(extract_urls_with_indices(text), key=lambda entity: entity["indices"][0], reverse=True)
    for entity in entities:
        start, end = entity["indices"]
        if text[start:end].lower().startswith(("http://", "https://")):
            text = text[:start] + "x" * url_length + text[end:]
    return grapheme_length(_MASTODON_MENTION.sub(r"\1", text))
