"""Chat reads. Every function takes the user (or an object already checked to be theirs)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, QuerySet

from mindpost.accounts.models import User
from mindpost.chat.models import Conversation, Message
from mindpost.core.errors import Invalid, NotFound


def parse_conversation_id(raw: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except (ValueError, TypeError, AttributeError) as exc:
        raise Invalid(
            "That is not a conversation id.",
            code="invalid_conversation_id",
            fields={"conversation_id": ["Must be a UUID."]},
        ) from exc


def conversation_get(*, user: User, conversation_id: Any) -> Conversation:
    """One of the user's conversations: Invalid for a malformed id, NotFound for an unknown or foreign one."""
    key = parse_conversation_id(conversation_id)
    conversation = Conversation.objects.filter(user=user, pk=key).first()
    if conversation is None:
        raise NotFound("Conversation not found.")
    return conversation


def conversation_list(*, user: User) -> QuerySet[Conversation]:
    return (
        Conversation.objects.filter(user=user).annotate(message_count=Count("messages")).order_by("-updated_at", "-id")
    )


def conversation_messages(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.order_by("position")


def conversation_history(*, conversation: Conversation, turns: int) -> list[tuple[str, str]]:
    """The last `turns` exchanges as (role, text), oldest first."""
    if turns <= 0:
        return []
    rows = list(conversation.messages.order_by("-position").only("role", "content")[: turns * 2])
    return [(message.role, message.content) for message in reversed(rows)]
