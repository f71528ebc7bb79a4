"""Keep `User.email_verified` equal to allauth's record of the user's address.

Every way allauth verifies, un-verifies, deletes or re-points an address saves or deletes an
EmailAddress row, or saves the user with a new email: those signals recompute the flag. A
queryset `.update()` on EmailAddress sends no signal, so code doing one calls
`services.email_verified_sync` itself (see `password_reset_confirm`).
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from mindpost.accounts import services
from mindpost.accounts.models import User


@receiver(post_save, sender=EmailAddress, dispatch_uid="accounts.email_verified.saved")
def _address_saved(sender: Any, instance: EmailAddress, created: bool, **kwargs: Any) -> None:
    if created and not instance.verified:
        return  # a new unverified address changes nothing (and registration stays as cheap on both paths)
    services.email_verified_sync(user_id=instance.user_id)


@receiver(post_delete, sender=EmailAddress, dispatch_uid="accounts.email_verified.deleted")
def _address_deleted(sender: Any, instance: EmailAddress, **kwargs: Any) -> None:
    services.email_verified_sync(user_id=instance.user_id)


@receiver(post_save, sender=User, dispatch_uid="accounts.email_verified.user_saved")
def _user_saved(sender: Any, instance: User, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    # Only a save that may have changed the email (allauth's "make primary" saves the whole user);
    # sign-ins save `last_login` alone and cost nothing here.
    if created or (update_fields is not None and "email" not in update_fields):
        return
    instance.email_verified = services.email_verified_sync(user_id=instance.pk)
