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
