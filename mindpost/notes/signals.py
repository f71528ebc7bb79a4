"""Signals the notes app sends, for apps that act when a note's processing ends (e.g. a channel
replying to the sender of a voice message) without notes knowing about them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once the transaction that made a note `ready` or `failed` has committed.
# Arguments: note_id (UUID), status ("ready" or "failed").
note_finished = Signal()
