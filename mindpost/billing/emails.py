"""Billing emails, sent through Django's mail API (anymail/Mailgun in production). Call after commit."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from mindpost.accounts.models import User

logger = logging.getLogger(__name__)


def _send(*, user: User, subject: str, body: str) -> None:
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[user.email])
    except Exception:
        # The webhook is already committed; a mail outage must not make Stripe retry it.
        logger.exception("billing email failed", extra={"user_id": str(user.pk), "subject": subject})


def send_payment_failed(*, user: User, invoice: dict[str, Any]) -> None:
    amount = invoice.get("amount_due")
    currency = str(invoice.get("currency") or "usd").upper()
    amount_text = f" of {int(amount) / 100:.2f} {currency}" if isinstance(amount, int) else ""
    link = invoice.get("hosted_invoice_url") or settings.BILLING_PORTAL_RETURN_URL
    _send(
        user=user,
        subject="MindPost: your payment failed",
        body=(
            f"We could not collect your MindPost payment{amount_text}.\n\n"
            "Your subscription is past due: recording, chat, generation and publishing are paused "
            "until the payment goes through. Your notes stay readable, searchable and exportable.\n\n"
            f"Update your payment method here: {link}\n"
        ),
    )


def send_trial_ending(*, user: User, trial_end: datetime | None) -> None:
    when = trial_end.strftime("%d %B %Y") if trial_end else "in a few days"
    _send(
        user=user,
        subject="MindPost: your trial ends soon",
        body=(
            f"Your MindPost trial ends on {when}.\n\n"
            "If you do nothing, your plan continues and your card is charged then. "
            f"To change plan or cancel, open {settings.BILLING_PORTAL_RETURN_URL}\n"
        ),
    )
