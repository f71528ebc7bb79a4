"""Sign-in protection: django-axes hooks (who is logging in, what a locked-out client sees),
the per-account limits that no change of client address can dodge, and forgetting it all.

Two layers: axes locks an email + client address pair after AXES_FAILURE_LIMIT failures, and
`AccountSigninLimitBackend` caps attempts per account (THROTTLE_ACCOUNT_SIGNIN) from anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from mindpost.core import throttling
from mindpost.core.errors import RateLimited, app_error_json, is_api_request

LOCKED_OUT_DETAIL = "Too many failed sign-in attempts. Try again later or reset your password."
SIGNIN_THROTTLED_DETAIL = "Too many sign-in attempts for this account. Try again later."
# Set on the request by AccountSigninLimitBackend: seconds until the account may try again.
SIGNIN_RETRY_ATTR = "mindpost_signin_retry_after"


def username_from_request(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    # The API posts `email`; allauth's web form posts `login`; Django's admin posts `username`.
    for source in (credentials or {}, getattr(request, "POST", {})):
        for key in ("email", "login", "username"):
            value = source.get(key)
            if value:
                return str(value).strip().lower()
    return None


def cooloff_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    retry_after = getattr(request, SIGNIN_RETRY_ATTR, None)
    if retry_after is not None:
        return _too_many(request, code="throttled", detail=SIGNIN_THROTTLED_DETAIL, retry_after=retry_after)
    return _too_many(request, code="locked_out", detail=LOCKED_OUT_DETAIL, retry_after=cooloff_seconds())


def _too_many(request: HttpRequest, *, code: str, detail: str, retry_after: int) -> HttpResponse:
    """429 with Retry-After: the API's error shape (through the shared helper) or the lockout page."""
    if is_api_request(request):
        return app_error_json(RateLimited(detail, code=code, extra={"retry_after": retry_after}))
    response = render(request, "account/lockout.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(retry_after)
    return response


# --- per-account limits ------------------------------------------------------------------


def account_hit(*, scope: str, email: str, rate: str) -> tuple[bool, int]:
    """Count one request for this address, whether or not an account has it."""
    return throttling.hit(key=throttling.key_for(scope, throttling.email_subject(email)), rate=rate)


def account_email_limit(*, email: str) -> None:
    """Reset and verification emails per address (THROTTLE_ACCOUNT_EMAIL); raises RateLimited.

    Past the limit every address gets the same 429, registered or not: the counter is keyed
    on the address typed, before anything is looked up, so the answer reveals nothing about
    which addresses have accounts. A 429 (rather than a silent 202 that sends nothing)
    tells a real person why no email is coming and when to try again.
    """
    allowed, retry_after = account_hit(scope="account_email", email=email, rate=settings.THROTTLE_ACCOUNT_EMAIL)
    if not allowed:
        raise RateLimited(
            "Too many emails asked for this address. Try again later.", extra={"retry_after": retry_after}
        )


class AccountSigninLimitBackend:
    """Counts every password check per account (THROTTLE_ACCOUNT_SIGNIN) and refuses past the limit.

    Runs after axes' backend and before the ones that check passwords, for every caller of
    django.contrib.auth.authenticate: the API token view, allauth's web login, the admin.
    Refusing means raising PermissionDenied (authenticate() then stops and reports a failure);
    the flags set here turn that into a 429: AxesMiddleware renders `lockout_response` on the
    web, and the API token view checks the attribute itself.

    No get_user(): it never signs anyone in (and Django's test client would pick the first
    backend with one for force_login).
    """

    def authenticate(self, request: Any, username: str | None = None, **credentials: Any) -> None:
        email = username or credentials.get("email") or credentials.get("login")
        if request is None or not email:
            return None
        allowed, retry_after = account_hit(scope="signin", email=str(email), rate=settings.THROTTLE_ACCOUNT_SIGNIN)
        if allowed:
            return None  # let the next backend check the password
        for target in {id(request): request, id(_django_request(request)): _django_request(request)}.values():
            setattr(target, SIGNIN_RETRY_ATTR, retry_after)
            target.axes_locked_out = True
        raise PermissionDenied("Too many sign-in attempts for this account.")


def _django_request(request: Any) -> Any:
    return getattr(request, "_request", request)


# --- forgetting ----------------------------------------------------------------------------


def forget_signins(*, user_id: Any, emails: Iterable[str]) -> None:
    """Delete the sign-in log (axes rows keep email, address, user agent) and every rate-limit
    counter of this account (by user id and by email hash)."""
    addresses = {email.strip().lower() for email in emails if email}
    if addresses:
        match = Q()
        for address in addresses:
            match |= Q(username__iexact=address)
        for model in (AccessAttempt, AccessLog, AccessFailureLog):
            model.objects.filter(match).delete()
    throttling.forget(
        subjects=[throttling.user_subject(user_id), *(throttling.email_subject(a) for a in sorted(addresses))]
    )
