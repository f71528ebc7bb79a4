"""Account writes: registration, verification, password reset, profile, deletion, export."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import uuid
import zipfile
from typing import IO, Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from allauth.account.forms import ResetPasswordForm, default_token_generator
from allauth.account.models import EmailAddress, get_emailconfirmation_model
from allauth.account.utils import url_str_to_user_pk
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from mindpost.accounts import lockout, tasks
from mindpost.accounts.authentication import (
    FAMILY_CLAIM,
    REVOKED_DETAIL,
    VERSION_CLAIM,
    FamilyRefreshToken,
    token_claims,
)
from mindpost.accounts.models import TokenFamily, User
from mindpost.core import userdata
from mindpost.core.errors import Forbidden, Invalid, RateLimited

logger = logging.getLogger(__name__)


def _validate_password(*, password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise Invalid(
            "Choose a stronger password.", code="password_invalid", fields={"password": list(exc.messages)}
        ) from exc


def user_register(*, email: str, password: str) -> User | None:
    """Create an unverified account; a job mails the verification link once committed.

    Registering an email that already has an account returns None and mails that address
    instead. Both paths answer alike and do the same work (one password hash, one mail
    job after commit), so neither the body nor the response time reveals who has an account.
    """
    email = email.strip().lower()
    _validate_password(password=password, user=User(email=email))
    # Hashed on both paths: the hash is nearly all of the request's time.
    hashed = make_password(password)
    user: User | None = None
    with transaction.atomic():
        if not User.objects.filter(email__iexact=email).exists():
            try:
                with transaction.atomic():
                    user = User.objects.create(email=email, password=hashed)
                    EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
            except IntegrityError:
                user = None  # a concurrent registration of the same address won: it exists now
        tasks.defer_send_signup_mail(email=email, new_account=user is not None)
    return user


def signup_mail_send(*, email: str, new_account: bool) -> None:
    """The mail of a registration (run by the `accounts.send_signup_mail` job)."""
    if not new_account:
        # Counted like reset and verification mails (THROTTLE_ACCOUNT_EMAIL), so registering
        # someone's address again and again cannot flood their inbox. Silently: the job runs
        # after the answer, which is the same either way.
        allowed, _ = lockout.account_hit(scope="account_email", email=email, rate=settings.THROTTLE_ACCOUNT_EMAIL)
        if not allowed:
            logger.info("already-registered mail skipped: per-address limit reached")
            return
        _send_already_registered(email=email)
        return
    address = EmailAddress.objects.filter(email__iexact=email, verified=False).select_related("user").first()
    if address is None:
        return  # verified or deleted in the meantime: nothing to confirm
    request = SiteRequest()
    with allauth_context.request_context(request):
        address.send_confirmation(request, signup=True)


def _send_already_registered(*, email: str) -> None:
    send_mail(
        subject="MindPost: you already have an account",
        message=(
            "Someone (hopefully you) tried to create a MindPost account with this address.\n"
            "You already have one: sign in, or reset your password if you have forgotten it.\n"
        ),
        from_email=None,
        recipient_list=[email],
    )


class SiteRequest(HttpRequest):
    """Stands in for the HTTP request when allauth renders mail outside one (in a job).

    Links point at SITE_URL, the configured public address, not at a client-supplied Host.
    """

    def __init__(self) -> None:
        super().__init__()
        parts = urlsplit(settings.SITE_URL)
        self._site_scheme = parts.scheme or "https"
        self._site_host = parts.netloc
        self.META.update({"SERVER_NAME": parts.hostname or "localhost", "REMOTE_ADDR": "127.0.0.1"})
        self.user = AnonymousUser()

    def _get_scheme(self) -> str:
        return self._site_scheme

    def get_host(self) -> str:
        return self._site_host


def email_verify(*, key: str, request: HttpRequest) -> User:
    confirmation = get_emailconfirmation_model().from_key(key)
    if confirmation is None:
        raise Invalid("This verification link is invalid or has expired.", code="invalid_key")
    address = confirmation.confirm(request)
    if address is None:
        # Already verified (or taken by another account): confirm() declines; say which.
        if confirmation.email_address.verified:
            return confirmation.email_address.user
        raise Invalid("This email address cannot be verified.", code="invalid_key")
    return address.user


def email_verification_resend(*, email: str) -> None:
    """Queue a new verification link. The lookup and the mail happen in the job, so the
    answer takes the same time whether or not the address has an unverified account."""
    tasks.defer_send_verification_mail(email=email.strip().lower())


def verification_mail_send(*, email: str) -> None:
    """Mail a new verification link, if the address has an unverified account (run by the
    `accounts.send_verification_mail` job)."""
    address = EmailAddress.objects.filter(email__iexact=email, verified=False).first()
    if address is None:
        return
    request = SiteRequest()
    with allauth_context.request_context(request):
        address.send_confirmation(request)


def password_reset_request(*, email: str, request: HttpRequest) -> None:
    """Email a reset link; answers the same whether or not the account exists."""
    form = ResetPasswordForm(data={"email": email})
    if form.is_valid():
        form.save(request)


@transaction.atomic
def password_reset_confirm(*, key: str, password: str) -> User:
    """`key` is the `<uidb36>-<token>` part of the emailed link."""
    uidb36, _, token = key.partition("-")
    user: User | None = None
    try:
        user = User.objects.filter(pk=url_str_to_user_pk(uidb36)).first()
    except (ValueError, TypeError, OverflowError, DjangoValidationError):
        user = None
    if user is None or not token or not default_token_generator.check_token(user, token):
        raise Invalid("This reset link is invalid or has expired.", code="invalid_key")
    _validate_password(password=password, user=user)
    user.set_password(password)
    user.save(update_fields=["password"])
    # Resetting a password signs every device out.
    tokens_blacklist_all(user=user)
    # A user who could receive the reset email has proven the address.
    EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)
    email_verified_sync(user_id=user.pk)  # .update() sends no signal (accounts/signals.py)
    return user


def email_verified_sync(*, user_id: Any) -> bool:
    """Copy allauth's verified state of the user's address onto `User.email_verified` and return
    it: False when the address is unverified, deleted or not the user's email. Computed inside the
    UPDATE, so concurrent changes to the address rows can't leave a stale copy behind."""
    verified = EmailAddress.objects.filter(user_id=OuterRef("pk"), email__iexact=OuterRef("email"), verified=True)
    rows = User.objects.filter(pk=user_id).update(email_verified=Exists(verified))
    if not rows:
        return False
    return bool(User.objects.filter(pk=user_id).values_list("email_verified", flat=True).first())


def tokens_blacklist_all(*, user: User) -> int:
    """Sign out everywhere: every access and refresh token of the user stops working now.

    The version bump alone does that (every request compares it); revoking the families and
    blacklisting the refresh tokens keeps /api/token/verify/ and the admin truthful.
    """
    now = timezone.now()
    user.revoke_tokens()
    TokenFamily.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now, revoked_reason="signed_out")
    return _blacklist(OutstandingToken.objects.filter(user=user, expires_at__gt=now, blacklistedtoken__isnull=True))


REVOKED_REUSED = "reused"
REUSED_DETAIL = "This refresh token was already used, so every token of this sign-in is revoked. Sign in again."


def _refresh_token_new(*, user: User, family_id: uuid.UUID) -> RefreshToken:
    token = RefreshToken()
    token[jwt_settings.USER_ID_CLAIM] = str(user.pk)
    token[VERSION_CLAIM] = user.token_version
    token[FAMILY_CLAIM] = str(family_id)
    # Recorded like SimpleJWT's own tokens, so "sign out everywhere" can blacklist them.
    OutstandingToken.objects.create(
        user=user,
        jti=token[jwt_settings.JTI_CLAIM],
        token=str(token),
        created_at=token.current_time,
        expires_at=datetime_from_epoch(token["exp"]),
    )
    return token


def tokens_issue(*, user: User) -> RefreshToken:
    """A sign-in: a new token family and its first refresh token (`.access_token` gives the pair)."""
    family_id = uuid.uuid4()
    token = _refresh_token_new(user=user, family_id=family_id)
    TokenFamily.objects.create(id=family_id, user=user, current_jti=token[jwt_settings.JTI_CLAIM])
    return token


def tokens_refresh(*, refresh: str) -> dict[str, str]:
    """Rotate a refresh token: `{"access", "refresh"}`, or InvalidToken (401).

    The family row is locked, so of many concurrent refreshes of one token exactly one wins.
    Any other presentation of a rotated token is reuse, which means two parties hold the
    family (a stolen token): the whole family is revoked, the winner's new tokens included,
    and the answer is `token_reused`. Revoking only the family, not every session of the
    user (a token_version bump), keeps the user's other devices signed in; it costs nothing
    more per request because the family check rides on the user lookup (authentication.py).
    SimpleJWT's errors (bad signature, expired) surface as TokenError.
    """
    token = FamilyRefreshToken(refresh)  # type: ignore[arg-type]  # SimpleJWT types its raw token argument wrongly
    user_id, version, family_id = token_claims(token)
    jti = token[jwt_settings.JTI_CLAIM]
    now = timezone.now()
    with transaction.atomic():
        family = TokenFamily.objects.select_for_update().filter(pk=family_id, user_id=user_id).first()
        user = User.objects.filter(pk=user_id).first()
        if family is not None and family.revoked_reason == REVOKED_REUSED:
            raise InvalidToken(REUSED_DETAIL, code="token_reused")
        if (
            family is None
            or family.revoked_at is not None
            or user is None
            or not jwt_settings.USER_AUTHENTICATION_RULE(user)
            or user.token_version != version
        ):
            raise InvalidToken(REVOKED_DETAIL)
        reused = family.current_jti != jti
        if reused:
            family.revoked_at, family.revoked_reason = now, REVOKED_REUSED
            family.save(update_fields=["revoked_at", "revoked_reason"])
            _blacklist(OutstandingToken.objects.filter(jti__in=[jti, family.current_jti]))
        else:
            _blacklist(OutstandingToken.objects.filter(jti=jti))
            new = _refresh_token_new(user=user, family_id=family.pk)
            family.current_jti, family.rotated_at = new[jwt_settings.JTI_CLAIM], now
            family.save(update_fields=["current_jti", "rotated_at"])
    # Raised after the block: the revocation above must commit.
    if reused:
        logger.warning("refresh token reused: family revoked", extra={"user_id": str(user_id)})
        raise InvalidToken(REUSED_DETAIL, code="token_reused")
    return {"access": str(new.access_token), "refresh": str(new)}


def token_families_purge() -> int:
    """Delete families whose newest refresh token has expired: none of their tokens can be used."""
    cutoff = timezone.now() - jwt_settings.REFRESH_TOKEN_LIFETIME
    deleted, _ = TokenFamily.objects.filter(created_at__lt=cutoff).exclude(rotated_at__gte=cutoff).delete()
    return deleted


def _blacklist(outstanding: QuerySet[OutstandingToken]) -> int:
    tokens = [BlacklistedToken(token=token) for token in outstanding.only("pk")]
    BlacklistedToken.objects.bulk_create(tokens, ignore_conflicts=True)
    return len(tokens)


def password_confirm(*, user: User, password: str) -> None:
    """Re-authentication before a destructive action: Forbidden `wrong_password` unless it matches.

    Every check counts against the account's sign-in limit (THROTTLE_ACCOUNT_SIGNIN), like a
    sign-in does, so a stolen token cannot be used to guess the password quickly.
    """
    allowed, retry_after = lockout.account_hit(scope="signin", email=user.email, rate=settings.THROTTLE_ACCOUNT_SIGNIN)
    if not allowed:
        raise RateLimited(lockout.SIGNIN_THROTTLED_DETAIL, extra={"retry_after": retry_after})
    if not user.check_password(password):
        raise Forbidden(
            "That password is not right. Nothing was changed.",
            code="wrong_password",
            fields={"password": ["That password is not right."]},
        )


def user_update(*, user: User, display_name: str | None = None, time_zone: str | None = None) -> User:
    fields: list[str] = []
    if display_name is not None:
        user.display_name = display_name.strip()
        fields.append("display_name")
    if time_zone is not None:
        if time_zone not in available_timezones():
            raise Invalid("Unknown time zone.", code="invalid", fields={"timezone": ["Unknown time zone."]})
        user.timezone = time_zone
        fields.append("timezone")
    if fields:
        user.save(update_fields=fields)
    return user


@transaction.atomic
def account_delete(*, user: User) -> None:
    """Delete the account, its rows (by cascade) and, once committed, every file it owns."""
    user_id = user.pk
    emails = [user.email, *EmailAddress.objects.filter(user=user).values_list("email", flat=True)]
    tokens_blacklist_all(user=user)
    # The sign-in log (emails, addresses, user agents) and rate-limit counters are about this person too.
    lockout.forget_signins(user_id=user_id, emails=emails)
    user.delete()
    transaction.on_commit(lambda: userdata.delete_user_files(user_id))
    logger.info("account deleted", extra={"user_id": str(user_id)})


def account_export(*, user: User) -> IO[bytes]:
    """A zip of everything the user owns: one JSON file per app, plus their stored files.

    Spooled to disk past 16 MB, and files are copied in chunks: audio can be large.
    """
    buffer = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 (returned open)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        manifest: dict[str, Any] = {"exported_at": timezone.now().isoformat(), "user_id": str(user.pk), "files": []}
        for name, exporter in sorted(userdata.exporters().items()):
            archive.writestr(f"{name}.json", json.dumps(exporter(user), indent=2, default=str))
        prefix = userdata.user_prefix(user.pk)
        for path in userdata.iter_user_files(user.pk):
            with (
                default_storage.open(path, "rb") as source,
                archive.open("files/" + path.removeprefix(prefix), "w") as target,
            ):
                shutil.copyfileobj(source, target, 1024 * 1024)
            manifest["files"].append(path.removeprefix(prefix))
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    buffer.seek(0)
    return buffer
