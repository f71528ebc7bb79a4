"""Issue 15, bug 2: no page scrolls sideways on a phone (390 px wide).

The chat page overflowed once a conversation existed: the conversation list's truncated titles
stretched the grid. `assert_fits_phone` (tests/browser/conftest.py) is the check other tests reuse."""

from __future__ import annotations

from typing import Any

from tests.browser.conftest import assert_fits_phone
from tests.factories import ConversationFactory, MessageFactory, NoteFactory, PostFactory

LONG_TITLE = "What did I decide about the lighthouse restoration budget and the pasta dinner with Sarah on Friday?"


def _conversation(user: Any) -> Any:
    conversation = ConversationFactory.create(user=user, title=LONG_TITLE)
    MessageFactory.create(conversation=conversation, content=LONG_TITLE)
    MessageFactory.create(
        conversation=conversation, role="assistant", content="From your note: buy fresh tomatoes and basil."
    )
    ConversationFactory.create(user=user, title="Supercalifragilisticexpialidocious-restoration-budget-notes-2026")
    return conversation


def test_chat_page_fits_a_phone_with_conversations(alice: Any) -> None:
    conversation = _conversation(alice.user)
    alice.goto("/chat/")
    assert alice.page.locator("#conversation-list a").count() == 2
    assert_fits_phone(alice)
    alice.goto(f"/chat/{conversation.pk}/")
    assert_fits_phone(alice)
    alice.assert_clean()


def test_every_page_fits_a_phone(alice: Any, alice_note: Any, new_tab: Any) -> None:
    conversation = _conversation(alice.user)
    note = NoteFactory.create(user=alice.user, text="A rather long title about the lighthouse budget review.")
    post = PostFactory.create(user=alice.user, content="Tomatoes and basil tonight.", notes=[note])
    pages = (
        "/record/",
        "/notes/",
        "/notes/?q=tomatoes",
        f"/notes/{alice_note.pk}/",
        f"/notes/{note.pk}/",
        "/todos/",
        "/chat/",
        f"/chat/{conversation.pk}/",
        "/posts/",
        f"/posts/{post.pk}/",
        f"/posts/compose/?note_ids={note.pk}",
        "/settings/",
        "/subscriptions/upgrade/",
    )
    for path in pages:
        assert alice.goto(path).status == 200, path
        assert_fits_phone(alice)
    alice.assert_clean()

    visitor = new_tab()
    for path in ("/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"):
        assert visitor.goto(path).status == 200, path
        assert_fits_phone(visitor)
    visitor.assert_clean()
