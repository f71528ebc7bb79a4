"""Post it yourself: web-intent links that open a network's composer with the text filled in.

For when nothing is connected (or the network isn't configured on this server): the person
can still publish in two clicks. Each text is cut to what that composer accepts (X 280
weighted, Bluesky 300 graphemes, LinkedIn 3000 characters) and the whole URL is kept under
MAX_URL_LENGTH, since proxies and browsers refuse very long URLs; `shortened` says so, and the
page then points at Copy for the full text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from mindpost.posts import length

MAX_URL_LENGTH = 8000


@dataclass(frozen=True, kw_only=True)
class IntentLink:
    network: str
    label: str
    url: str
    shortened: bool


@dataclass(frozen=True)
class _Target:
    slug: str
    label: str
    base: str  # the URL up to the encoded text
    limit: int
    measure: Callable[[str], int]


def _bluesky_length(text: str) -> int:
    return length.grapheme_length(text)


TARGETS = (
    _Target("x", "X", "https://x.com/intent/post?text=", 280, length.weighted_length),
    _Target("linkedin", "LinkedIn", "https://www.linkedin.com/feed/?shareActive=true&text=", 3000, len),
    _Target("bluesky", "Bluesky", "https://bsky.app/intent/compose?text=", 300, _bluesky_length),
)


def _encode(text: str) -> str:
    # Everything but unreserved characters is escaped: "&", "#", "+" and newlines stay text.
    return quote(text, safe="")


def _cut(text: str, *, fits: Callable[[str], bool]) -> str:
    """The longest word-boundary prefix of `text` (plus "…") that `fits`; `text` if it fits."""
    if fits(text):
        return text
    words = text.split(" ")
    low, high, best = 0, len(words) - 1, ""
    while low <= high:  # prefixes grow with the word count, so bisect
        middle = (low + high) // 2
        candidate = " ".join(words[:middle]).rstrip() + "…"
        if middle and fits(candidate):
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    if best:
        return best
    out = ""  # one giant word: cut characters
    for char in text:
        if not fits(out + char + "…"):
            break
        out += char
    return out + "…"


def intent_link(text: str, target: _Target) -> IntentLink:
    text = text.strip()
    cut = _cut(
        text,
        fits=lambda candidate: (
            target.measure(candidate) <= target.limit and len(target.base) + len(_encode(candidate)) <= MAX_URL_LENGTH
        ),
    )
    return IntentLink(network=target.slug, label=target.label, url=target.base + _encode(cut), shortened=cut != text)


def intent_links(text: str) -> list[IntentLink]:
    """X, LinkedIn and Bluesky links for `text` (a thread's first part is the caller's choice)."""
    return [intent_link(text, target) for target in TARGETS]
