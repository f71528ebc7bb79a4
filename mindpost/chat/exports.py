from __future__ import annotations

from typing import Any

from mindpost.chat.models import Conversation


def export_conversations(user: Any) -> list[dict[str, Any]]:
    """Every conversation of the user with its messages and citations (account export)."""
    out = []
    for conversation in Conversation.objects.filter(user=user).order_by("created_at").prefetch_related("messages"):
        out.append(
            {
                "id": str(conversation.pk),
                "title": conversation.title,
                "created_at": conversation.created_at.isoformat(),
                "updated_at": conversation.updated_at.isoformat(),
                "messages": [
                    {
                        "id": str(m.pk),
                        "role": m.role,
                        "kind": m.kind,
                        "content": m.content,
                        "citations": m.citations,
                        "model": m.model_name,
                        "created_at": m.created_at.isoformat(),
                    }
                    for m in sorted(conversation.messages.all(), key=lambda m: m.position)
                ],
            }
        )
    return out
