"""Inbound messaging: which chat address belongs to whom, pending link codes, and every message received.

Addresses (a WhatsApp phone number, a Telegram chat id) are personal data: they are stored
encrypted, and found by a keyed hash (`address_hash`, mindpost.channels.base.lookup_hash), so the
database never holds one in plaintext. Link codes are stored as hashes too.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from mindpost.core.fields import EncryptedJSONField, EncryptedTextField


class ChannelKind(models.TextChoices):
    WHATSAPP = "whatsapp", "WhatsApp"
    TELEGRAM = "telegram", "Telegram"


class ChannelLink(models.Model):
    """A verified chat address of a user: messages from it become that user's notes and questions."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="channel_links")
    channel = models.CharField(max_length=16, choices=ChannelKind.choices)
    address = EncryptedTextField()
    address_hash = models.CharField(max_length=64)
    # "what else did he say?" follows up on the previous question asked from this chat (for a while).
    conversation = models.ForeignKey("chat.Conversation", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # One account per address, and one address per account and channel.
            models.UniqueConstraint(fields=["channel", "address_hash"], name="channels_link_address_unique"),
            models.UniqueConstraint(fields=["user", "channel"], name="channels_link_user_channel_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} link of {self.user_id}"


class LinkCode(models.Model):
    """A one-time code shown in settings; sent from the chat app, it links that address."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=ChannelKind.choices)
    code_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "channel"], name="channels_code_user_channel_unique")]

    def __str__(self) -> str:
        return f"{self.channel} link code of {self.user_id}"


class InboundKind(models.TextChoices):
    AUDIO = "audio"
    TEXT = "text"
    OTHER = "other"  # images, documents, stickers...: answered "send a voice message"


class InboundStatus(models.TextChoices):
    RECEIVED = "received"  # stored, job queued
    REPLYING = "replying"  # the outcome is decided and stored; the reply is being delivered
    WAITING_NOTE = "waiting_note"  # a note is being processed; its reply goes out when it is ready
    DONE = "done"
    FAILED = "failed"  # the reply could not be delivered after every retry


class InboundMessage(models.Model):
    """One message received on a channel, stored before anything is done with it.

    (channel, dedup_hash) is unique: the platforms retry deliveries, and a retry is a no-op.
    The job decides the outcome once and stores the reply text before sending it, so a retried
    send never asks the model again or creates a second note.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    channel = models.CharField(max_length=16, choices=ChannelKind.choices)
    # A keyed hash of the platform's message id (a WhatsApp id encodes the sender's number).
    dedup_hash = models.CharField(max_length=64)
    sender = EncryptedTextField()
    sender_hash = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=InboundKind.choices)
    payload = EncryptedJSONField(default=dict, blank=True)  # text, media id, mime type, size, duration
    status = models.CharField(max_length=16, choices=InboundStatus.choices, default=InboundStatus.RECEIVED)
    outcome = models.CharField(max_length=64, blank=True, default="")
    reply = EncryptedTextField(blank=True, default="")
    note = models.ForeignKey("notes.Note", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "dedup_hash"], name="channels_inbound_dedup_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} {self.status}"
