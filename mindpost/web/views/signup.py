"""Sign-up pages around allauth's: "resend the email" on the confirm-your-email page."""

from __future__ import annotations

from allauth.account.internal import stagekit
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mindpost.accounts import lockout
from mindpost.accounts import services as account_services
from mindpost.core import throttling
from mindpost.core.clientip import client_ip
from mindpost.core.errors import Invalid, RateLimited
from mindpost.web.helpers import is_htmx

RESENT = "If that address is waiting to be confirmed, a new link is on its way. Check your spam folder too."


def pending_signup_email(request: HttpRequest) -> str:
    """The address of the sign-up waiting for confirmation in this browser session, if any
    (allauth stashes the pending login in the session until the link is followed)."""
    stage = stagekit.get_pending_stage(request)
    user = stage.login.user if stage is not None else None
    return str(getattr(user, "email", "") or "")


@require_POST
def resend_verification(request: HttpRequest) -> HttpResponse:
    """Mail a new confirmation link. Answers alike whether or not the address has an
    unconfirmed account (the lookup happens in the job), limited per address and per client."""
    email = (request.POST.get("email") or pending_signup_email(request)).strip().lower()
    try:
        validate_email(email)
    except ValidationError as exc:
        message = "Enter the address you signed up with."
        raise Invalid(message, code="invalid", fields={"email": [message]}) from exc
    allowed, retry_after = throttling.hit(
        key=throttling.key_for("signup_resend", throttling.ip_subject(client_ip(request))),
        rate=settings.THROTTLE_ACCOUNT_EMAIL_IP,
    )
    if not allowed:
        raise RateLimited("Too many emails asked for. Try again later.", extra={"retry_after": retry_after})
    lockout.account_email_limit(email=email)
    account_services.email_verification_resend(email=email)
    if is_htmx(request):
        return render(request, "web/_saved.html", {"message": RESENT})
    messages.success(request, RESENT)
    return redirect("account_email_verification_sent")
