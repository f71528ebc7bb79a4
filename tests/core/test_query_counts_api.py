"""Every API list (and the per-request basics) runs a fixed number of queries, whatever the user holds.

Each case signs in as a client does (POST /api/token/, then a JWT bearer), so authentication
(one query: the user with its token family) and the throttle (one upsert) are counted. It measures
with N rows of everything, then with 3N, with another user's rows alongside: the count must be the
same for both sizes (no N+1) and within the ceiling documented per endpoint. See tests/querycounts.py.

What a ceiling is made of: 1 auth + 1 throttle, then the view's own queries (page count + page,
plus one prefetch per related list shown). `docs/architecture.md` ("Request path") sums it up.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from rest_framework.test import APIClient

from mindpost.accounts.models import User
from tests.conftest import bearer
from tests.querycounts import Pinned, assert_flat, no_throttle_cleanup, pin, queries

N = 3


def _today() -> str:
    return date.today().isoformat()


# (path from the pinned rows, ceiling). Every ceiling starts with 2: the user (token version and
# family checked in the same query) and the throttle's upsert. The rest is the view's own work, as
# measured when this test was written: raise a ceiling only with a reason (a feature that needs it).
CASES: dict[str, tuple[Callable[[Pinned], str], int]] = {
    "me": (lambda p: "/api/me/", 2),  # nothing else: email_verified is on the user row
    "notes list": (lambda p: "/api/brain-dumps/", 5),  # count, page, action items of the page
    "notes list by tag": (lambda p: "/api/brain-dumps/?tag=travel", 5),  # same, filtered by blind index
    "note detail": (lambda p: f"/api/brain-dumps/{p.note.pk}/", 4),  # note, its action items
    "note versions": (lambda p: f"/api/brain-dumps/{p.note.pk}/versions/", 4),  # note, versions
    "similar notes": (lambda p: f"/api/brain-dumps/{p.note.pk}/similar/", 4),  # note's vectors, ranking
    "search": (lambda p: "/api/search/?q=Nikos%20in%20Athens", 4),  # both rankings in one, the hits
    "tags": (lambda p: "/api/tags/", 3),  # the vocabulary
    "action items": (lambda p: "/api/action-items/", 4),  # count, page
    "posts": (lambda p: "/api/posts/", 7),  # count, page, images, notes, deliveries (cross-posting)
    "posts calendar": (lambda p: f"/api/posts/calendar/?start={_today()}&end={_today()}", 3),  # the range
    "conversations": (lambda p: "/api/chat/conversations/", 4),  # count, page with message counts
    "conversation": (lambda p: f"/api/chat/conversations/{p.conversation.pk}/", 4),  # conversation, messages
    "imports": (lambda p: "/api/imports/", 4),  # count, page
    "import detail": (lambda p: f"/api/imports/{p.batch.pk}/", 4),  # batch, items
    "channels": (lambda p: "/api/channels/", 3),  # the links
    "connections": (lambda p: "/api/connections/", 3),  # all networks' connections at once
    "twitter connection": (lambda p: "/api/twitter-connection/", 3),  # the X connection
    "usage": (lambda p: "/api/usage/", 3),  # this period's counters (billing off here: no subscription)
    "plans": (lambda p: "/api/billing/plans/", 3),  # active plans
    "note settings": (lambda p: "/api/brain-dumps/settings/", 3),  # the settings row
}


@pytest.mark.parametrize("name", list(CASES))
def test_query_count_does_not_grow(
    name: str, make_user: Callable[..., User], plans: Any, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    no_throttle_cleanup(monkeypatch)
    path_for, ceiling = CASES[name]
    user, other = make_user("qc@example.com"), make_user("qc-other@example.com")
    pinned = pin(user=user)
    client = APIClient()
    bearer(client, email=user.email)
    path = path_for(pinned)

    assert_flat(client=client, path=path, user=user, other=other, pinned=pinned, n=N, ceiling=ceiling)


def test_request_basics_are_two_queries(make_user: Callable[..., User], monkeypatch: pytest.MonkeyPatch) -> None:
    """/api/me/ is the floor of an authenticated request: the user (token version and family
    checked inside the same query) and the throttle's upsert. No email-address lookup."""
    no_throttle_cleanup(monkeypatch)
    user = make_user("basics@example.com")
    client = APIClient()
    bearer(client, email=user.email)
    client.get("/api/me/")
    count, sql = queries(lambda: client.get("/api/me/"))
    assert count == 2, "\n".join(sql)
    assert not any("account_emailaddress" in statement for statement in sql)
