"""Conversations with your notes: the turns, and which passages each answer came from.

What the user asked and what the model answered is as private as the notes themselves, so
message text, titles and cited excerpts are encrypted at rest like transcripts.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.conf import settings
from django.db import models

from mindpost.core.fields import EncryptedTextField


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = EncryptedTextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at",)
        indexes = (models.Index(fields=("user", "-updated_at"), name="conversation_user_updated"),)

    def __str__(self) -> str:
        return f"Conversation {self.id}"


class MessageRole(models.TextChoices):
    USER = "user", "User"
    ASSISTANT = "assistant", "Assistant"


class AnswerKind(models.TextChoices):
    QUESTION = "question", "Question"  # a user turn
    ANSWER = "answer", "Answer from the model"
    NOT_FOUND = "not_found", "Nothing relevant in the notes (no model call)"


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # Order inside the conversation (a question and its answer share a timestamp's precision).
    position = models.PositiveIntegerField()
    role = models.CharField(max_length=16, choices=MessageRole.choices)
    kind = models.CharField(max_length=16, choices=AnswerKind.choices, default=AnswerKind.QUESTION)
    content = EncryptedTextField()
    # JSON list of {note_id, passage_id, excerpt, start, end, note_created_at, marker}, encrypted
    # because the excerpts are note text.
    citations_data = EncryptedTextField(blank=True, default="")
    # What retrieval searched for and with which filters (the standalone query), for debugging
    # answers; encrypted since it repeats what the user asked.
    retrieval_data = EncryptedTextField(blank=True, default="")
    model_name = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("conversation", "position")
        constraints = (models.UniqueConstraint(fields=("conversation", "position"), name="message_unique_position"),)

    def __str__(self) -> str:
        return f"{self.role} message {self.id}"

    @property
    def citations(self) -> list[dict[str, Any]]:
        return json.loads(self.citations_data) if self.citations_data else []

    @citations.setter
    def citations(self, value: list[dict[str, Any]]) -> None:
        self.citations_data = json.dumps(value, ensure_ascii=False) if value else ""

    @property
    def retrieval(self) -> dict[str, Any]:
        return json.loads(self.retrieval_data) if self.retrieval_data else {}

    @retrieval.setter
    def retrieval(self, value: dict[str, Any]) -> None:
        self.retrieval_data = json.dumps(value, ensure_ascii=False) if value else ""
