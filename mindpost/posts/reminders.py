"""Reminders: a scheduled post MindPost can't publish itself (nothing connected, or by choice).

At the time, the person gets an email with the text, "open in X / LinkedIn / Bluesky" links
(posts/intents.py) and a link to the post, and the same as a chat message on every linked
channel (WhatsApp, Telegram). Sent at most once: the job claims the reminder with a conditional
UPDATE (queued + this token → sending) before sending anything, so a duplicate or stale job
finds nothing to do.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from mindpost.channels import base as channel_base
from mindpost.channels import selectors as channel_selectors
from mindpost.posts import intents, length, tasks
from mindpost.posts.models import Post, PostStatus, Reminder, ReminderStatus

logger = logging.getLogger(__name__)

PENDING = (ReminderStatus.QUEUED, ReminderStatus.SENDING)


def is_pending(post: Post) -> bool:
    return Reminder.objects.filter(post=post, status__in=PENDING).exists()


def schedule(*, post: Post, at: datetime) -> Reminder:
    """(Re)schedule the post's reminder at `at`; the job is queued once the transaction commits."""
    token = uuid.uuid4()
    reminder, _ = Reminder.objects.update_or_create(
        post=post,
        defaults={
            "status": ReminderStatus.QUEUED,
            "remind_at": at,
            "job_token": token,
            "sent_at": None,
            "email_sent": False,
            "channels_sent": [],
        },
    )
    tasks.defer_send_reminder(reminder_id=reminder.pk, token=token, at=at)
    return reminder


def cancel(*, post: Post) -> None:
    """The queued job finds no matching token and does nothing."""
    Reminder.objects.filter(post=post, status=ReminderStatus.QUEUED).update(
        status=ReminderStatus.CANCELLED, job_token=None
    )


def post_url(post: Post) -> str:
    return settings.SITE_URL + reverse("web:posts_detail", kwargs={"pk": post.pk})


def message(post: Post) -> tuple[str, str]:
    """The subject and the plain-text body (the chat message is the same body)."""
    texts = post.texts
    first = length.strip_numbering(texts[0]).strip() if texts else ""
    subject = f"Time to post: {first[:60]}{'…' if len(first) > 60 else ''}"
    lines = ["It's time to post this (you asked MindPost to remind you):", ""]
    lines.extend(texts)
    lines.append("")
    links = intents.intent_links(texts[0] if len(texts) > 1 else post.content)
    if links:
        lines.append("Open it with the text filled in:")
        lines.extend(f"- {link.label}: {link.url}" for link in links)
        if any(link.shortened for link in links):
            lines.append("(Some links carry a shortened text; copy the full one from the post.)")
        lines.append("")
    lines.append(f"The post in MindPost: {post_url(post)}")
    return subject, "\n".join(lines)


def _send_channels(post: Post, body: str) -> list[str]:
    sent: list[str] = []
    for link in channel_selectors.links_for(user=post.user):
        try:
            channel = channel_base.get(link.channel)
            if not channel.is_configured():
                continue
            channel.send_text(to=link.address, text=body)
        except Exception:
            # One chat app down must not stop the email or the other channel.
            logger.exception("reminder chat message failed", extra={"post_id": str(post.pk), "channel": link.channel})
            continue
        sent.append(link.channel)
    return sent


def run_job(*, reminder_id: str, token: str) -> None:
    """Send the reminder once; a stale, cancelled or duplicate job does nothing."""
    claimed = Reminder.objects.filter(pk=reminder_id, job_token=token, status=ReminderStatus.QUEUED).update(
        status=ReminderStatus.SENDING
    )
    if not claimed:
        return
    reminder = Reminder.objects.select_related("post", "post__user").get(pk=reminder_id)
    post = reminder.post
    if post.status != PostStatus.SCHEDULED:
        # Published by hand (or unscheduled) meanwhile: nothing to remind of.
        Reminder.objects.filter(pk=reminder.pk).update(status=ReminderStatus.CANCELLED, job_token=None)
        return
    subject, body = message(post)
    email_sent = False
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[post.user.email])
        email_sent = True
    except Exception:
        logger.exception("reminder email failed", extra={"post_id": str(post.pk)})
    channels = _send_channels(post, body)
    Reminder.objects.filter(pk=reminder.pk).update(
        status=ReminderStatus.SENT,
        sent_at=timezone.now(),
        email_sent=email_sent,
        channels_sent=channels,
        job_token=None,
    )
    # Reminded: the post is the person's to publish now; it goes back to the drafts.
    Post.objects.filter(pk=post.pk, status=PostStatus.SCHEDULED, job_token__isnull=True).update(
        status=PostStatus.DRAFT, modified_at=timezone.now()
    )
    logger.info("reminder sent", extra={"post_id": str(post.pk), "email": email_sent, "channels": channels})
