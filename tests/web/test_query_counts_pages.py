"""Every web page runs a fixed number of queries, whatever the signed-in user holds.

Each case signs in with a session, as a browser does (the session row and the user are counted),
measures a page with N rows of everything (tests/querycounts.py), then with 3N, with another
user's rows alongside: the count must be the same for both sizes (no N+1) and within the
ceiling documented per page. `docs/architecture.md` ("Request path") sums it up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from mindpost.accounts.models import User
from tests.querycounts import Pinned, assert_flat, no_throttle_cleanup, pin

N = 3


# (path from the pinned rows, ceiling). Every ceiling starts with 2: the session row and the user
# (pages run no throttle). The rest is the page's own work, as measured when this test was written:
# raise a ceiling only with a reason (a feature that needs it).
CASES: dict[str, tuple[Callable[[Pinned], str], int]] = {
    "landing": (lambda p: "/", 2),  # signed in: a redirect to /record/
    "offline": (lambda p: "/offline/", 2),
    "record": (lambda p: "/record/", 5),  # usage counters, recent notes, note settings
    "import": (lambda p: "/import/", 4),  # recent batches, their items
    "import progress": (lambda p: f"/import/{p.batch.pk}/progress/", 4),  # batch, items
    "notes": (lambda p: "/notes/", 5),  # count (also says whether there are notes at all), page, tags
    "notes by tag": (lambda p: "/notes/?tag=travel", 6),  # the same plus "has any notes"
    "notes search": (lambda p: "/notes/?q=Nikos%20in%20Athens", 6),  # ranking, hits, their notes, tags, any
    "note detail": (lambda p: f"/notes/{p.note.pk}/", 3),  # the note (action items come with it)
    "note row": (lambda p: f"/notes/{p.note.pk}/row/", 3),
    "note rewrites": (lambda p: f"/notes/{p.note.pk}/rewrites/", 5),  # note, own styles, versions
    "note similar": (lambda p: f"/notes/{p.note.pk}/similar/", 4),  # note's vectors, ranking
    "tags": (lambda p: "/tags/", 3),  # the vocabulary
    "todos": (lambda p: "/todos/", 3),  # open items with their notes
    "todos done": (lambda p: "/todos/?show=done", 4),  # done items, "any items at all"
    "chat": (lambda p: "/chat/", 3),  # the conversation list
    "chat conversation": (lambda p: f"/chat/{p.conversation.pk}/", 5),  # conversation, messages, list
    "posts": (lambda p: "/posts/", 7),  # count, page, images, notes, deliveries (cross-posts)
    "posts drafts": (lambda p: "/posts/?status=draft", 7),
    # post, images, notes, then the post's connection: once by the view, 4 more times by the thread
    # editor's char-limit lookups (web/views/threads.py, posts/threads.py: owned elsewhere this round).
    # +2: the cross-post box (deliveries, the connections to tick; web/_crosspost.html).
    "post detail": (lambda p: f"/posts/{p.post.pk}/", 12),
    "compose": (lambda p: f"/posts/compose/?note_ids={p.note.pk}", 5),  # note, char limit, network rows
    "calendar": (lambda p: "/posts/calendar/", 3),  # the month's posts
    "settings": (lambda p: "/settings/", 6),  # connections (twice: panel and form rows), usage, settings
    "settings channels": (lambda p: "/settings/channels/", 3),  # the links
    "upgrade": (lambda p: "/subscriptions/upgrade/", 3),  # the plans
}


@pytest.mark.parametrize("name", list(CASES))
def test_query_count_does_not_grow(
    name: str, make_user: Callable[..., User], plans: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_throttle_cleanup(monkeypatch)
    path_for, ceiling = CASES[name]
    user, other = make_user("qc@example.com"), make_user("qc-other@example.com")
    pinned = pin(user=user)
    client = Client()
    client.force_login(user)
    path = path_for(pinned)

    assert_flat(client=client, path=path, user=user, other=other, pinned=pinned, n=N, ceiling=ceiling)
