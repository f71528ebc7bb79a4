"""The compose page's draft cards: the text a card shows is exactly the text "Use draft" puts in
the editor (the button's data-text, which compose.js copies verbatim), hashtags included."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client

from mindpost.accounts.models import User
from tests.posts.conftest import chat, make_note, variants_json  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


def test_use_draft_keeps_the_hashtags_the_card_shows(
    web: Client,
    user: User,
    make_note: Any,  # noqa: F811  (the posts tests' fixture, imported above)
    chat: Any,  # noqa: F811
) -> None:
    note = make_note(user, "Working remotely from the harbour in Nafplio. Stavros was fixing nets.")
    chat.reply(
        variants_json(
            "Remote work from the harbour in Nafplio today.",
            "Stavros fixed his nets while I answered email.",
            "Nafplio harbour, laptop open,\nnets drying.",
            topics=["remote work", "Nafplio"],
        )
    )
    response = web.post("/posts/compose/generate/", {"note_ids": [str(note.pk)], "network": "x", "length": "short"})
    assert response.status_code == 200, response.content
    page = response.content.decode()
    cards = re.findall(r"<p [^>]*data-draft>(.*?)</p>", page, re.DOTALL)
    buttons = re.findall(r'data-text="(.*?)" x-on:click="use"', page, re.DOTALL)
    assert len(cards) == len(buttons) == 3
    for card, button in zip(cards, buttons, strict=True):
        shown, filled = html.unescape(card), html.unescape(button)
        assert shown == filled  # the same string, newlines included
        assert shown.endswith("\n\n#RemoteWork #Nafplio")
    assert "#remote work" not in page
    assert html.unescape(buttons[2]) == "Nafplio harbour, laptop open,\nnets drying.\n\n#RemoteWork #Nafplio"
