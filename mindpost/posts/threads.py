"""Reads for the thread editor: a thread's parts as the person edits them (without the "2/5 "
numbering, which follows from the order), and each part checked against the network's limit
exactly as publishing counts it (numbering included, the network's own length rule)."""

from __future__ import annotations

from dataclasses import dataclass

from mindpost.accounts.models import User
from mindpost.posts import length, selectors
from mindpost.posts.models import Post, PostFormat
from mindpost.posts.networks.base import Network


@dataclass(frozen=True, kw_only=True)
class PartCheck:
    text: str  # as edited, without numbering
    published: str  # as it will be published, numbered
    count: int
    limit: int
    error: str

    @property
    def over(self) -> bool:
        return self.count > self.limit


def editable_parts(*, user: User, post: Post, network: Network) -> list[str]:
    """The thread's parts without their numbering; a single post becomes the split it would get."""
    if post.format == PostFormat.THREAD and post.parts:
        return [length.strip_numbering(str(part)).strip() for part in post.parts]
    parts = length.split_thread(post.content, selectors.char_limit(user=user, network=network))
    return [length.strip_numbering(part).strip() for part in parts] or [post.content]


def check_parts(*, user: User, network: Network, texts: list[str]) -> list[PartCheck]:
    limit = selectors.char_limit(user=user, network=network)
    cleaned = [text.strip() for text in texts]
    numbered = length.number_parts(cleaned)
    checks = []
    for text, published in zip(cleaned, numbered, strict=True):
        count = network.text_length(published)
        if not text:
            error = "Write something here, or remove this part."
        elif count > limit:
            error = f"{count} of {limit}: shorten this part or split it."
        else:
            error = ""
        checks.append(PartCheck(text=text, published=published, count=count, limit=limit, error=error))
    return checks
