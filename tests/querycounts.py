"""Shared by the query-count tests (tests/core/test_query_counts_api.py, tests/web/test_query_counts_pages.py).

`add_rows(user=..., n=...)` gives a user n more of everything a list shows: notes with passages,
tags and to-dos, rewrites, posts (threads with parts, linked to notes, with an image),
conversations with cited answers, imports with items and draft requests. `queries(...)` counts
the statements of one request, with the throttle's occasional cleanup switched off so that the
count is exact (that DELETE runs for about one request in 200, whatever the size of the data).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from mindpost.accounts.models import User
from mindpost.ai import get_embedder
from mindpost.chat.models import AnswerKind, Conversation, MessageRole
from mindpost.core import throttling
from mindpost.imports.models import ImportBatch, ImportItem, ItemKind, ItemStatus
from mindpost.notes import blind_index
from mindpost.notes.models import EMBEDDING_DIMENSIONS, Note, NoteVersion, Passage, RewriteStatus, UserTag
from mindpost.posts.models import DraftRequest, DraftStatus, Post, PostFormat, PostImage, PostStatus
from tests.factories import ActionItemFactory, ConversationFactory, MessageFactory, NoteFactory, PostFactory

TAGS = ("travel", "boats", "family")


def no_throttle_cleanup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttling, "random", SimpleNamespace(randrange=lambda n: 1))


def _vector(i: int) -> list[float]:
    # Distinct unit-ish vectors: every passage is a hit for any query (small users take the exact path).
    vector = [0.0] * EMBEDDING_DIMENSIONS
    vector[0] = 1.0
    vector[1 + i % (EMBEDDING_DIMENSIONS - 1)] = 0.5
    return vector


def add_rows(*, user: User, n: int) -> None:
    model = get_embedder().model_name
    for tag in TAGS:
        UserTag.objects.update_or_create(
            user=user, tag_hash=blind_index.tag_hash(tag), defaults={"name": tag, "note_count": 0}
        )
    for i in range(n):
        note = NoteFactory.create(user=user, text=f"Met Nikos in Athens, visit {i}. He builds boats.", tags=TAGS[:2])
        for position in range(2):
            Passage.objects.create(
                note=note,
                user=user,
                position=position,
                text=f"Met Nikos in Athens, passage {position} of visit {i}.",
                start_seconds=float(position),
                end_seconds=float(position + 1),
                embedding=_vector(i * 2 + position),
                embedding_model=model,
            )
        ActionItemFactory.create(note=note, user=user, text=f"Call Nikos about visit {i}")
        NoteVersion.objects.create(
            user=user, note=note, style="clean_up", status=RewriteStatus.DONE, body=f"Visit {i}, cleaned up."
        )
        post = PostFactory.create(
            user=user,
            notes=[note],
            format=PostFormat.THREAD,
            parts=[f"1/2 Visit {i}.", "2/2 Boats."],
            content=f"Visit {i}. Boats.",
            status=PostStatus.DRAFT if i % 2 else PostStatus.PUBLISHED,
        )
        PostImage.objects.create(
            post=post,
            image=f"qc/{post.pk}.png",
            image_format="PNG",
            content_type="image/png",
            size=1,
            width=1,
            height=1,
        )
        conversation = ConversationFactory.create(user=user, title=f"About visit {i}")
        MessageFactory.create(conversation=conversation, role=MessageRole.USER, content=f"What about visit {i}?")
        answer = MessageFactory.create(
            conversation=conversation, role=MessageRole.ASSISTANT, kind=AnswerKind.ANSWER, content="Boats [1]."
        )
        answer.citations_data = json.dumps(
            [{"note_id": str(note.pk), "passage_id": None, "excerpt": "Boats", "start": None, "end": None, "marker": 1}]
        )
        answer.save(update_fields=["citations_data"])
        batch = ImportBatch.objects.create(user=user, total=2, done=2)
        for position in range(2):
            ImportItem.objects.create(
                batch=batch,
                position=position,
                filename=f"visit-{i}-{position}.md",
                kind=ItemKind.TEXT,
                status=ItemStatus.DONE,
                note=note,
            )
        DraftRequest.objects.create(
            user=user,
            note_ids=[str(note.pk)],
            status=DraftStatus.DONE,
            variants=[{"content": f"Draft {i}"}],
        )
    UserTag.objects.filter(user=user).update(note_count=n)


def queries(request: Callable[[], Any]) -> tuple[int, list[str]]:
    """(number of statements, their SQL) of one request; the request must succeed."""
    with CaptureQueriesContext(connection) as captured:
        response = request()
    status = getattr(response, "status_code", None)
    assert status is not None, response
    assert status < 400, (status, getattr(response, "content", b"")[:500])
    return len(captured), [q["sql"] for q in captured.captured_queries]


@dataclass
class Pinned:
    """Rows the item-scoped paths hang off: they grow with the other rows."""

    note: Note
    conversation: Conversation
    batch: ImportBatch
    post: Post


def pin(*, user: User) -> Pinned:
    return Pinned(
        note=NoteFactory.create(user=user, text="The pinned note about boats."),
        conversation=ConversationFactory.create(user=user),
        batch=ImportBatch.objects.create(user=user, total=1, done=1),
        post=PostFactory.create(user=user),
    )


def grow(*, user: User, other: User, pinned: Pinned, n: int) -> None:
    add_rows(user=user, n=n)
    add_rows(user=other, n=n)
    for i in range(n):
        NoteVersion.objects.create(user=user, note=pinned.note, style="email", status=RewriteStatus.DONE, body=f"v{i}")
        MessageFactory.create(conversation=pinned.conversation, content=f"Question {i}?")
        position = pinned.batch.items.count()
        ImportItem.objects.create(
            batch=pinned.batch,
            position=position,
            filename=f"f{position}.md",
            kind=ItemKind.TEXT,
            status=ItemStatus.DONE,
            note=pinned.note,
        )
        pinned.post.notes.add(NoteFactory.create(user=user, text=f"Source {i}."))


def assert_flat(*, client: Any, path: str, user: User, other: User, pinned: Pinned, n: int, ceiling: int) -> None:
    """GET `path` after n and after 3n rows of everything: the same number of queries, at most `ceiling`."""

    def count() -> tuple[int, list[str]]:
        client.get(path)  # warm: per-process caches (content types, embedder, query vectors) are not per request
        return queries(lambda: client.get(path))

    grow(user=user, other=other, pinned=pinned, n=n)
    small, _ = count()
    grow(user=user, other=other, pinned=pinned, n=2 * n)
    large, large_sql = count()
    assert large == small, "\n".join(large_sql)
    assert large <= ceiling, "\n".join(large_sql)
