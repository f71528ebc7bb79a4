"""The compose page writes drafts as a job: the form starts it, the partial shows the stage and
polls itself, each draft appears as the job saves it, and "Use draft" still gets exactly the
card's text (hashtags included)."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from django.test import Client

from mindpost.accounts.models import User
from mindpost.posts import services, tasks
from mindpost.posts.models import DraftRequest
from tests.posts.conftest import chat, make_note  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

HX: dict[str, Any] = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "drafts-progress"}


def reply(text: str) -> str:
    return json.dumps({"post_text": text, "topics": ["remote work", "Nafplio"]})


def poll(web: Client, draft_id: Any) -> str:
    response = web.get(f"/posts/compose/?draft={draft_id}", **HX)
    assert response.status_code == 200, response.content
    return response.content.decode()


def test_compose_starts_a_job_and_shows_each_draft_as_it_arrives(
    web: Client,
    user: User,
    make_note: Any,  # noqa: F811
    chat: Any,  # noqa: F811
) -> None:
    note = make_note(user, "Working remotely from the harbour in Nafplio. Stavros was fixing nets.")
    page = web.get(f"/posts/compose/?note_ids={note.pk}").content.decode()
    assert 'name="mode" value="job"' in page  # the page's form asks for the job

    started = web.post(
        "/posts/compose/generate/", {"note_ids": [str(note.pk)], "network": "x", "length": "short", "mode": "job"}
    )
    assert started.status_code == 200, started.content
    body = started.content.decode()
    draft = DraftRequest.objects.get(user=user)
    assert f"?draft={draft.pk}" in body
    assert 'hx-trigger="load delay:1s"' in body
    assert "data-stage" in body
    assert "Queued" in body
    assert "No drafts came back" not in body

    # Mid-run (as the job saves it): the first draft shows while the second is being written.
    DraftRequest.objects.filter(pk=draft.pk).update(status="running")
    services._draft_update(
        draft.pk,
        variants=[
            {
                "post_text": "x",
                "topics": [],
                "character_count": 1,
                "parts": [],
                "angle": "hook",
                "draft_text": "x\n\n#RemoteWork",
                "draft_count": 13,
            }
        ],
        stage="Writing draft 2 of 3 (lesson)",
    )
    running = poll(web, draft.pk)
    assert "Writing draft 2 of 3 (lesson)" in running
    assert "1 ready so far" in running
    assert len(re.findall(r"data-draft>", running)) == 1
    assert "hx-get" in running

    # The job proper, from the queued state.
    DraftRequest.objects.filter(pk=draft.pk).update(status="queued", variants=[])
    chat.reply(
        reply("Remote work from the harbour in Nafplio today."),
        reply("Stavros fixed his nets while I answered email."),
        reply("Nafplio harbour, laptop open,\nnets drying."),
    )
    tasks.generate_drafts(request_id=str(draft.pk))
    done = poll(web, draft.pk)
    assert "hx-get" not in done  # finished: no more polling
    cards = re.findall(r"<p [^>]*data-draft>(.*?)</p>", done, re.DOTALL)
    buttons = re.findall(r'data-text="(.*?)" x-on:click="use"', done, re.DOTALL)
    assert len(cards) == len(buttons) == 3
    for card, button in zip(cards, buttons, strict=True):
        assert html.unescape(card) == html.unescape(button)
        assert html.unescape(card).endswith("\n\n#RemoteWork #Nafplio")
    assert "· hook" in done
    assert "· lesson" in done
    assert "· question" in done


def test_a_failed_job_shows_its_error(web: Client, user: User, make_note: Any, chat: Any) -> None:  # noqa: F811
    note = make_note(user, "A note about the harbour.")
    web.post("/posts/compose/generate/", {"note_ids": [str(note.pk)], "network": "x", "mode": "job"})
    draft = DraftRequest.objects.get(user=user)
    chat.reply(503)
    tasks.generate_drafts(request_id=str(draft.pk))
    page = poll(web, draft.pk)
    assert 'data-error="model_unavailable"' in page
    assert "hx-get" not in page


def test_someone_elses_job_is_not_shown(web: Client, user: User, make_user: Any, make_note: Any) -> None:  # noqa: F811
    other = make_user("eve@example.com")
    note = make_note(other, "Eve's private note.")
    draft = DraftRequest.objects.create(user=other, note_ids=[str(note.pk)], options={"network": "x"})
    response = web.get(f"/posts/compose/?draft={draft.pk}", **HX)
    assert response.status_code == 404


def _generations_used(user: User) -> int:
    from mindpost.billing.models import UsageCounter

    return sum(UsageCounter.objects.filter(user=user, metric="generations").values_list("used", flat=True))


def test_reopening_the_page_shows_the_same_drafts_without_charging_again(
    web: Client,
    user: User,
    make_note: Any,  # noqa: F811
) -> None:
    note = make_note(user, "Working remotely from the harbour in Nafplio.")
    opened = {"note_ids": [str(note.pk)], "network": "x", "length": "short", "mode": "job", "reuse": "1"}
    page = web.get(f"/posts/compose/?note_ids={note.pk}").content.decode()
    assert '"reuse": "1"' in page
    assert 'hx-trigger="load"' in page
    assert 'hx-trigger="submit"' in page  # the button does not

    first = web.post("/posts/compose/generate/", opened)
    assert first.status_code == 200
    again = web.post("/posts/compose/generate/", opened)
    assert again.status_code == 200
    assert DraftRequest.objects.filter(user=user).count() == 1
    assert _generations_used(user) == 1

    # Other options are other drafts; so is the explicit "Write new drafts".
    web.post("/posts/compose/generate/", {**opened, "length": "long"})
    web.post("/posts/compose/generate/", {**opened, "reuse": ""})
    assert DraftRequest.objects.filter(user=user).count() == 3
    assert _generations_used(user) == 3

    # A failed request is not shown again: opening the page starts a new one.
    DraftRequest.objects.filter(user=user).update(status="failed")
    web.post("/posts/compose/generate/", opened)
    assert DraftRequest.objects.filter(user=user).exclude(status="failed").count() == 1


def test_a_request_whose_worker_died_fails_and_gives_the_unit_back(
    web: Client,
    user: User,
    make_note: Any,  # noqa: F811
    chat: Any,  # noqa: F811
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    note = make_note(user, "A note about the harbour.")
    web.post("/posts/compose/generate/", {"note_ids": [str(note.pk)], "network": "x", "mode": "job"})
    draft = DraftRequest.objects.get(user=user)
    assert _generations_used(user) == 1
    long_ago = timezone.now() - timedelta(hours=1)
    DraftRequest.objects.filter(pk=draft.pk).update(status="running", started_at=long_ago)
    fresh = DraftRequest.objects.create(
        user=user, note_ids=[str(note.pk)], options={"network": "x"}, status="running", started_at=timezone.now()
    )

    tasks.recover_stalled(timestamp=0)
    tasks.recover_stalled(timestamp=0)  # twice: the unit is given back once

    draft.refresh_from_db()
    assert draft.status == "failed"
    assert draft.error_code == "worker_lost"
    assert _generations_used(user) == 0
    fresh.refresh_from_db()
    assert fresh.status == "running"  # still within its time
    page = poll(web, draft.pk)
    assert 'data-error="worker_lost"' in page
    assert "hx-get" not in page

    # The job of a swept request that wakes up later does nothing.
    chat.reply(reply("late"), reply("late"), reply("late"))
    tasks.generate_drafts(request_id=str(draft.pk))
    draft.refresh_from_db()
    assert draft.status == "failed"
    assert draft.variants == []
