"""The posts part of a user's data export (images are exported as files by userdata)."""

from __future__ import annotations

from typing import Any

from mindpost.accounts.models import User
from mindpost.posts.models import Connection, Post


def export_posts(user: User) -> dict[str, Any]:
    posts = Post.objects.filter(user=user).prefetch_related("images", "notes", "attempts").order_by("created_at")
    return {
        "posts": [
            {
                "id": str(post.pk),
                "network": post.network,
                "format": post.format,
                "content": post.content,
                "parts": post.parts,
                "status": post.status,
                "post_id": post.post_id,
                "post_url": post.post_url,
                "external_ids": post.external_ids,
                "scheduled_at": post.scheduled_at.isoformat() if post.scheduled_at else None,
                "published_at": post.published_at.isoformat() if post.published_at else None,
                "failure_code": post.failure_code,
                "failure_detail": post.failure_detail,
                "created_at": post.created_at.isoformat(),
                "brain_dump_ids": [str(note.pk) for note in post.notes.all()],
                "images": [image.image.name for image in post.images.all()],
                "publish_attempts": [
                    {
                        "part": attempt.part_index,
                        "outcome": attempt.outcome,
                        "external_id": attempt.external_id,
                        "error_code": attempt.error_code,
                        "started_at": attempt.started_at.isoformat(),
                    }
                    for attempt in post.attempts.all()
                ],
            }
            for post in posts
        ],
        # Which accounts were connected; never the tokens.
        "connections": [
            {
                "network": connection.network,
                "username": connection.username,
                "name": connection.name,
                "connected_at": connection.connected_at.isoformat(),
                "needs_reauth": connection.needs_reauth,
            }
            for connection in Connection.objects.filter(user=user)
        ],
    }
