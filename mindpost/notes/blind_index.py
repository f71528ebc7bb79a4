"""A blind keyword index: keyed hashes of normalised words, stored in a tsvector.

Transcripts are encrypted, so PostgreSQL cannot read them. Instead each passage keeps
HMAC-SHA256(key, word) for every normalised word, written as letters-only lexemes into
a `tsvector` (GIN-indexed). A query is hashed the same way, so keyword search (and
ts_rank) works with no plaintext in the database. What leaks: which passages share a
word and how often a word occurs, never the word itself, as long as the key is secret.

The key is SEARCH_INDEX_KEY or, when unset, one derived with HKDF from the first
FIELD_ENCRYPTION_KEYS entry. Changing it invalidates the index: run
`manage.py reembed --keywords` afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.postgres.search import SearchQuery

# Words are runs of letters and digits in any script (underscore is not a word character).
_WORD = re.compile(r"[^\W_]+")
# Hex digits -> letters a..p: the 'simple' text-search parser keeps a pure-letter token whole.
_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")
# 20 hex digits = 80 bits: collisions are negligible at any realistic vocabulary size.
_HASH_CHARS = 20
_MAX_WORD_CHARS = 64
SEARCH_CONFIG = "simple"


@cache
def _derive_key(search_key: str, fallback: str) -> bytes:
    if search_key:
        material, info = search_key.encode(), b"mindpost search index key v1"
    else:
        material, info = fallback.strip().encode(), b"mindpost search index from field key v1"
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


def index_key() -> bytes:
    keys = settings.FIELD_ENCRYPTION_KEYS
    return _derive_key(getattr(settings, "SEARCH_INDEX_KEY", "") or "", keys[0] if keys else "")


def normalise(word: str) -> str:
    """Lowercase, fold accents (é -> e, ß -> ss); digits are kept as they are."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The normalised words of a text, in order (repeats kept)."""
    out = []
    for match in _WORD.finditer(normalise(text)):
        word = match.group()
        if len(word) <= _MAX_WORD_CHARS:
            out.append(word)
    return out


def hash_word(word: str, *, key: bytes | None = None) -> str:
    """The lexeme stored for one already-normalised word."""
    digest = hmac.new(key or index_key(), word.encode(), hashlib.sha256).hexdigest()
    return digest[:_HASH_CHARS].translate(_LETTERS)


def hash_text(text: str) -> str:
    """The passage text turned into a space-separated string of hashed words, in order.

    Stored with to_tsvector('simple', ...), which keeps word positions for ranking.
    """
    key = index_key()
    return " ".join(hash_word(word, key=key) for word in words(text))


def hash_words(normalised: Iterable[str]) -> list[str]:
    """The distinct lexemes of already-normalised words, in order of first appearance."""
    key = index_key()
    seen: dict[str, None] = {}
    for word in normalised:
        seen.setdefault(hash_word(word, key=key), None)
    return list(seen)


def keyword_query(lexemes: Iterable[str]) -> SearchQuery | None:
    """The one tsquery over `Passage.keywords`: any of the hashed words (None if there are none)."""
    lexemes = list(lexemes)
    if not lexemes:
        return None
    # Lexemes are letters a..p only, so the raw syntax needs no escaping.
    return SearchQuery(" | ".join(lexemes), search_type="raw", config=SEARCH_CONFIG)


def tag_hash(tag: str) -> str:
    """The keyed hash stored in Note.tag_hashes for one tag (same normalisation)."""
    return hash_word("#" + normalise(tag.lstrip("#")))
