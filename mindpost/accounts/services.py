"""Account writes: registration, verification, password reset, profile, deletion, export."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import zipfile
from typing import IO, Any
from zoneinfo import available_timezones

from allauth.account.forms import ResetPasswordForm, default_token_generator
from allauth.account.models import EmailAddress, get_emailconfirmation_model
from allauth.account.utils import url_str_to_user_pk
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from mindpost.accounts.models import User
from mindpost.core import userdata
from mindpost.core.errors import ApiError

logger = logging.getLogger(__name__)


def _validate_password(*, password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ApiError(
            "Choose a stronger password.", code="password_invalid", fields={"password": list(exc.messages)}
        ) from exc


def user_register(*, email: str, password: str, request: HttpRequest) -> User | None:
    """Create an unverified account and email a verification link.

    Registering an email that already has an account returns None and tells that
    address instead, so the API never reveals who has an account.
    """
    email = email.strip().lower()
    _validate_password(password=password, user=User(email=email))
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            user, address = None, None
        else:
            user = User.objects.create_user(email=email, password=password)
            address = EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    # Sent once the rows are committed, inside the request (allauth builds links from it).
    if address is None:
        _send_already_registered(email=email)
    else:
        address.send_confirmation(request, signup=True)
    return user


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


def email_verify(*, key: str, request: HttpRequest) -> User:
    confirmation = get_emailconfirmation_model().from_key(key)
    if confirmation is None:
        raise ApiError("This verification link is invalid or has expired.", code="invalid_key")
    address = confirmation.confirm(request)
    if address is None:
        # Already verified (or taken by another account): confirm() declines; say which.
        if confirmation.email_address.verified:
            return confirmation.email_address.user
        raise ApiError("This email address cannot be verified.", code="invalid_key")
    return address.user


def email_verification_resend(*, email: str, request: HttpRequest) -> None:
    address = EmailAddress.objects.filter(email__iexact=email.strip(), verified=False).first()
    if address is not None:
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
        raise ApiError("This reset link is invalid or has expired.", code="invalid_key")
    _validate_password(password=password, user=user)
    user.set_password(password)
    user.save(update_fields=["password"])
    # Resetting a password signs every device out.
    tokens_blacklist_all(user=user)
    # A user who could receive the reset email has proven the address.
    EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)
    return user


def tokens_blacklist_all(*, user: User) -> int:
    outstanding = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now())
    created = 0
    for token in outstanding:
        _, was_created = BlacklistedToken.objects.get_or_create(token=token)
        created += int(was_created)
    return created


def user_update(*, user: User, display_name: str | None = None, time_zone: str | None = None) -> User:
    fields: list[str] = []
    if display_name is not None:
        user.display_name = display_name.strip()
        fields.append("display_name")
    if time_zone is not None:
        if time_zone not in available_timezones():
            raise ApiError("Unknown time zone.", code="invalid", fields={"timezone": ["Unknown time zone."]})
        user.timezone = time_zone
        fields.append("timezone")
    if fields:
        user.save(update_fields=fields)
    return user


@transaction.atomic
def account_delete(*, user: User) -> None:
    """Delete the account, its rows (by cascade) and, once committed, every file it owns."""
    user_id = user.pk
    tokens_blacklist_all(user=user)
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
