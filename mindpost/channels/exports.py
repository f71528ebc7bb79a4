from __future__ import annotations

from typing import Any

from mindpost.channels.models import ChannelLink, InboundMessage


def export_channels(user: Any) -> dict[str, Any]:
    """The user's linked chats and the messages received from them (account export)."""
    links = [
        {"channel": link.channel, "address": link.address, "linked_at": link.created_at.isoformat()}
        for link in ChannelLink.objects.filter(user=user).order_by("created_at")
    ]
    received = [
        {
            "channel": message.channel,
            "kind": message.kind,
            "text": message.payload.get("text", ""),
            "outcome": message.outcome,
            "reply": message.reply,
            "note_id": str(message.note_id) if message.note_id else None,
            "received_at": message.created_at.isoformat(),
        }
        for message in InboundMessage.objects.filter(user=user).order_by("created_at")
    ]
    return {"links": links, "messages": received}
