"""The notes app says when a note finished processing; a voice message's sender then gets its reply."""

from __future__ import annotations

import uuid
from typing import Any

from django.dispatch import receiver

from mindpost.channels import services
from mindpost.notes.signals import note_finished


@receiver(note_finished, dispatch_uid="channels_note_finished")
def reply_when_note_finished(sender: Any, note_id: uuid.UUID, **kwargs: Any) -> None:
    services.notes_finished(note_id=note_id)
