"""Channel writes: link codes, linking and unlinking, receiving messages, and handling them.

A webhook only stores each message (de-duplicated by the platform's message id: a retried
delivery is a no-op) and queues a job. The job (`inbound_advance`) moves the message through a
small state machine, so that a retry after any failure repeats nothing already done:

    received --decide--> replying --send--> done
                             |                 (a voice message: waiting_note until the note
                             +--> waiting_note --note finished--> replying --send--> done)

Deciding runs once: it links, creates the note (idempotent by the message's id) or asks the
notes, and stores the reply text. Only the send is repeated when the platform fails.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.channels import base, tasks
from mindpost.channels.models import ChannelLink, InboundKind, InboundMessage, InboundStatus, LinkCode
from mindpost.chat.models import Conversation
from mindpost.core import throttling
from mindpost.core.errors import AppError, Forbidden, Invalid, NotFound, QuotaExceeded, Unavailable
from mindpost.core.parsers import loads_request_json

logger = logging.getLogger(__name__)

UNKNOWN_SENDER = (
    "Hello! This number is not linked to a MindPost account. To link it, open MindPost, go to "
    "Settings → Messaging apps, and send us the code shown there."
)
LINKED = (
    "Linked to your MindPost account. Send a voice message to save it as a note, or type a question to ask your notes."
)
BAD_CODE = "That link code is not valid or has expired. Create a new one in MindPost under Settings → Messaging apps."
ONLY_VOICE = "I can save voice messages and answer typed questions. Other kinds of messages are not supported."
HELP = "Send a voice message to save it as a note, or type a question to ask your notes."
RECEIVED_VOICE = "Got it. Transcribing your voice message; I'll send you the note when it's ready."
TOO_LARGE = "This recording is larger than {mb} MB, so I can't save it. Please send a shorter one."
DOWNLOAD_FAILED = "I couldn't download that voice message. Please send it again."
BUSY = "I couldn't answer right now because the assistant is busy. Please ask again in a minute."
NOTE_FAILED = "I couldn't save your voice message: {reason}"


# --- link codes and links ------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCode:
    code: str  # shown once; only its hash is stored
    expires_at: datetime
    connect_url: str | None  # opens the chat app with the code ready (Telegram deep link, wa.me)


def _code_hash(code: str) -> str:
    return base.lookup_hash("code", code)


def link_code_create(*, user: User, channel: base.Channel) -> IssuedCode:
    """A new one-time code for `channel` (replacing any earlier one of the user's)."""
    if not channel.is_configured():
        raise Unavailable(f"{channel.display_name} is not set up on this server.", code="channel_not_configured")
    code = "".join(secrets.choice(base.CODE_ALPHABET) for _ in range(base.CODE_LENGTH))
    expires_at = timezone.now() + timedelta(minutes=settings.CHANNELS_LINK_CODE_MINUTES)
    with transaction.atomic():
        LinkCode.objects.filter(user=user, channel=channel.slug).delete()
        LinkCode.objects.create(user=user, channel=channel.slug, code_hash=_code_hash(code), expires_at=expires_at)
    return IssuedCode(code=code, expires_at=expires_at, connect_url=channel.connect_url(code=code))


def link_confirm(*, channel: str, address: str, code: str) -> ChannelLink | None:
    """Link `address` to the account that issued `code` (used up here); None for a wrong or old code.

    Whoever sends the code from the address proves both sides: the account (they saw the code)
    and the address (they sent from it). An address linked to another account moves.
    """
    with transaction.atomic():
        issued = (
            LinkCode.objects.select_for_update()
            .select_related("user")
            .filter(channel=channel, code_hash=_code_hash(code))
            .first()
        )
        if issued is None:
            return None
        issued.delete()
        if issued.expires_at <= timezone.now():
            return None
        address_hash = base.lookup_hash("address", address)
        ChannelLink.objects.filter(channel=channel, address_hash=address_hash).exclude(user=issued.user).delete()
        link, _ = ChannelLink.objects.update_or_create(
            user=issued.user,
            channel=channel,
            defaults={"address": address, "address_hash": address_hash, "conversation": None},
        )
    logger.info("channel linked", extra={"channel": channel, "user_id": str(issued.user_id)})
    return link


def link_delete(*, user: User, link_id: uuid.UUID) -> None:
    deleted, _ = ChannelLink.objects.filter(user=user, pk=link_id).delete()
    if not deleted:
        raise NotFound("Linked channel not found.")


# --- receiving ------------------------------------------------------------------------------


def inbound_receive(*, channel: base.Channel, inbound: base.Inbound) -> InboundMessage | None:
    """Store one message and queue its job; None when it was received before (a platform retry)."""
    message = InboundMessage(
        channel=channel.slug,
        dedup_hash=base.lookup_hash("message", inbound.message_id),
        sender=inbound.sender,
        sender_hash=base.lookup_hash("address", inbound.sender),
        kind=inbound.kind,
        payload=inbound.payload(),
    )
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        logger.info("channel message replayed", extra={"channel": channel.slug})
        return None
    tasks.defer_handle_inbound(message_id=message.pk)
    return message


# --- handling (the job) ---------------------------------------------------------------------


def inbound_advance(*, message_id: uuid.UUID | str, final_attempt: bool) -> None:
    """Take a message as far as it can go now. TransientChannelError: the job retries."""
    message = InboundMessage.objects.filter(pk=message_id).first()
    if message is None:
        return
    channel = base.get(message.channel)
    if message.status == InboundStatus.RECEIVED:
        _decide(message, channel=channel, final_attempt=final_attempt)
    if message.status == InboundStatus.WAITING_NOTE:
        _note_outcome(message)
    if message.status == InboundStatus.REPLYING:
        _deliver(message, channel=channel, final_attempt=final_attempt)
        # The note may have finished while the acknowledgement was on its way.
        if message.status == InboundStatus.WAITING_NOTE:
            _note_outcome(message)
            if message.status == InboundStatus.REPLYING:
                _deliver(message, channel=channel, final_attempt=final_attempt)


def _set(message: InboundMessage, *, outcome: str, reply: str, status: InboundStatus = InboundStatus.REPLYING) -> None:
    message.outcome = outcome
    message.reply = reply
    message.status = status if reply else InboundStatus.DONE
    message.save(update_fields=["outcome", "reply", "status", "user", "note", "updated_at"])


def _deliver(message: InboundMessage, *, channel: base.Channel, final_attempt: bool) -> None:
    try:
        channel.send_text(to=message.sender, text=message.reply)
    except base.TransientChannelError:
        if final_attempt:
            InboundMessage.objects.filter(pk=message.pk).update(status=InboundStatus.FAILED, updated_at=timezone.now())
        raise
    except base.ChannelError:
        logger.exception("channel refused a reply", extra={"channel": channel.slug, "message_id": str(message.pk)})
        message.status = InboundStatus.FAILED
        message.save(update_fields=["status", "updated_at"])
        return
    waiting = message.outcome == "note_created" and message.note_id is not None
    message.status = InboundStatus.WAITING_NOTE if waiting else InboundStatus.DONE
    message.save(update_fields=["status", "updated_at"])


def _decide(message: InboundMessage, *, channel: base.Channel, final_attempt: bool) -> None:
    text = str(message.payload.get("text") or "").strip()
    link = (
        ChannelLink.objects.select_related("user")
        .filter(channel=channel.slug, address_hash=message.sender_hash)
        .first()
    )
    code = base.find_code(text) if message.kind == InboundKind.TEXT else None
    if code is not None and (link is None or text.upper().startswith(("/START", "MP-", "LINK"))):
        linked = link_confirm(channel=channel.slug, address=message.sender, code=code)
        if linked is not None:
            message.user = linked.user
            return _set(message, outcome="linked", reply=LINKED)
        # A stranger's wrong guesses count against the limit of answers to unknown senders.
        answer = link is not None or _may_answer_unknown(message)
        return _set(message, outcome="bad_code", reply=BAD_CODE if answer else "")
    if link is None:
        reply = UNKNOWN_SENDER if _may_answer_unknown(message) else ""
        return _set(message, outcome="unknown_sender", reply=reply)
    message.user = link.user
    if message.kind == InboundKind.OTHER:
        return _set(message, outcome="unsupported", reply=ONLY_VOICE)
    if message.kind == InboundKind.AUDIO:
        return _voice(message, channel=channel, user=link.user, final_attempt=final_attempt)
    if not text or text.startswith("/"):  # /start, /help: commands, not questions
        return _set(message, outcome="help", reply=HELP)
    return _ask(message, link=link, question=text, final_attempt=final_attempt)


def _may_answer_unknown(message: InboundMessage) -> bool:
    """One polite answer per address per window: strangers (and spoofed senders) cannot make us spam."""
    allowed, _ = throttling.hit(
        key=throttling.key_for("channels.unknown", message.sender_hash), rate=settings.CHANNELS_UNKNOWN_REPLY_RATE
    )
    return allowed


def _voice(message: InboundMessage, *, channel: base.Channel, user: User, final_attempt: bool) -> None:
    from mindpost.notes import services as note_services
    from mindpost.notes import uploads

    limit = settings.NOTE_MAX_UPLOAD_BYTES
    too_large = TOO_LARGE.format(mb=limit // (1024 * 1024))
    size, duration = message.payload.get("file_size"), message.payload.get("duration")
    # What the platform declares is checked before downloading anything.
    if isinstance(size, int) and size > limit:
        return _set(message, outcome="file_too_large", reply=too_large)
    max_seconds = uploads.max_seconds_for(user)
    if isinstance(duration, int | float) and duration > max_seconds + 1:
        too_long = uploads.too_long(duration=duration, limit=max_seconds)
        return _set(message, outcome=too_long.code, reply=too_long.detail)
    try:
        media = channel.fetch_media(media_id=str(message.payload.get("media_id", "")), max_bytes=limit)
    except base.MediaTooLarge as exc:
        mb = min(limit, exc.limit or limit) // (1024 * 1024)
        return _set(message, outcome="file_too_large", reply=TOO_LARGE.format(mb=mb))
    except base.TransientChannelError:
        if final_attempt:
            return _set(message, outcome="download_failed", reply=DOWNLOAD_FAILED)
        raise
    except base.ChannelError:
        logger.warning("channel media download refused", extra={"channel": channel.slug}, exc_info=True)
        return _set(message, outcome="download_failed", reply=DOWNLOAD_FAILED)
    upload = SimpleUploadedFile(f"{channel.slug}-voice", media.content, content_type=media.mime_type)
    try:
        # The message's id as the idempotency key: a retried job finds the note it made before.
        result = note_services.note_create_from_audio(user=user, upload=upload, idempotency_key=f"channel:{message.pk}")
    except AppError as exc:  # quota, too long, not audio, silent: the same checks as an upload
        return _set(message, outcome=exc.code, reply=exc.detail)
    message.note = result.note
    return _set(message, outcome="note_created", reply=RECEIVED_VOICE)


def _note_outcome(message: InboundMessage) -> None:
    """The reply about a finished note: title, first lines and a link, or why it failed."""
    from mindpost.notes.models import Note, NoteStatus

    note = Note.objects.filter(pk=message.note_id).first() if message.note_id else None
    if note is None:
        return _set(message, outcome="note_deleted", reply="")
    if note.status == NoteStatus.READY:
        lines = " ".join(note.transcription.split())
        first = lines if len(lines) <= 300 else lines[:299].rsplit(" ", 1)[0] + "…"
        reply = f"Saved: {note.title or 'Untitled note'}\n\n{first}\n\n{note_url(note.pk)}"
        return _set(message, outcome="note_ready", reply=reply)
    if note.status == NoteStatus.FAILED:
        return _set(message, outcome="note_failed", reply=NOTE_FAILED.format(reason=note.failure_reason))
    return None  # still processing: the notes' signal queues this job again when it ends


def note_url(note_id: uuid.UUID, *, start: float | None = None) -> str:
    # By URL name, not an import: no app imports the web app.
    path = reverse("web:notes_detail", kwargs={"pk": note_id})
    return f"{settings.SITE_URL}{path}" + (f"?t={max(0, round(start))}" if start is not None else "")


def _conversation_for(link: ChannelLink) -> Conversation | None:
    """The chat's conversation, for follow-up questions, while it is recent."""
    conversation = link.conversation
    window = timedelta(minutes=settings.CHANNELS_CONVERSATION_MINUTES)
    if conversation is None or conversation.updated_at < timezone.now() - window:
        return None
    return conversation


def _ask(message: InboundMessage, *, link: ChannelLink, question: str, final_attempt: bool) -> None:
    from mindpost.chat import services as chat_services

    try:
        prepared = chat_services.chat_prepare(user=link.user, message=question, conversation=_conversation_for(link))
        answer = chat_services.chat_complete(prepared=prepared)
    except QuotaExceeded as exc:
        return _set(message, outcome=exc.code, reply=exc.detail)
    except Unavailable as exc:  # the model is down or busy: the unit was given back; ask again later
        if final_attempt:
            return _set(message, outcome=exc.code, reply=BUSY)
        raise base.TransientChannelError(exc.detail) from exc
    except AppError as exc:  # too long, no subscription...
        return _set(message, outcome=exc.code, reply=exc.detail)
    ChannelLink.objects.filter(pk=link.pk).update(conversation_id=answer.conversation_id)
    return _set(message, outcome="answered", reply=format_answer(answer.response, answer.citations))


def format_answer(response: str, citations: list[dict[str, object]]) -> str:
    """The answer, then its sources as links to the notes (the chat app shows no footnotes)."""
    seen: list[str] = []
    for citation in citations:
        start = citation.get("start")
        at = float(start) if isinstance(start, int | float) else None
        url = note_url(uuid.UUID(str(citation["note_id"])), start=at)
        if url not in seen:
            seen.append(url)
    if not seen:
        return response
    sources = "\n".join(f"[{i}] {url}" for i, url in enumerate(seen, start=1))
    return f"{response}\n\nSources:\n{sources}"


def notes_finished(*, note_id: uuid.UUID) -> int:
    """Queue the job of every message whose note just finished; returns how many."""
    ids = list(
        InboundMessage.objects.filter(note_id=note_id)
        .exclude(status__in=[InboundStatus.DONE, InboundStatus.FAILED])
        .values_list("pk", flat=True)
    )
    for message_id in ids:
        tasks.defer_handle_inbound(message_id=message_id)
    return len(ids)


# --- webhooks -------------------------------------------------------------------------------


def webhook_receive(*, channel: base.Channel, headers: Mapping[str, str], body: bytes) -> int:
    """Verify a delivery, then store each of its messages; returns how many were new.

    Nothing is read or stored before the signature (or secret) checks out.
    """
    if not channel.verify(headers=headers, body=body):
        raise Forbidden(f"The {channel.display_name} signature is missing or wrong.", code="invalid_signature")
    try:
        inbounds = channel.parse(loads_request_json(body))
    except AppError as exc:
        raise Invalid(f"The body is not a {channel.display_name} update. {exc.detail}", code="invalid_payload") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise Invalid(f"The body is not a {channel.display_name} update.", code="invalid_payload") from exc
    return sum(1 for inbound in inbounds if inbound_receive(channel=channel, inbound=inbound) is not None)


def inbound_requeue_orphans(*, older_than_seconds: int) -> int:
    """Queue the job again for messages left half-way with no job waiting or running (the queue was
    unreachable when they arrived, or a worker died); returns how many. Messages waiting for their
    note are left alone: the note's signal queues them."""
    from procrastinate.contrib.django.models import ProcrastinateJob

    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    candidates = list(
        InboundMessage.objects.filter(
            status__in=[InboundStatus.RECEIVED, InboundStatus.REPLYING], updated_at__lt=cutoff
        ).values_list("pk", flat=True)[:500]
    )
    if not candidates:
        return 0
    active = set(
        ProcrastinateJob.objects.filter(
            status__in=("todo", "doing"), lock__in=[f"inbound:{pk}" for pk in candidates]
        ).values_list("lock", flat=True)
    )
    orphans = [pk for pk in candidates if f"inbound:{pk}" not in active]
    for pk in orphans:
        # Touched first, so one orphan is queued at most once per sweep.
        InboundMessage.objects.filter(pk=pk).update(updated_at=timezone.now())
        tasks.defer_handle_inbound(message_id=pk)
    return len(orphans)
