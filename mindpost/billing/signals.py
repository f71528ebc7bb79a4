"""Stop Stripe billing an account that is being deleted, however it is deleted (API, admin, shell)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from mindpost.billing import services


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="billing_forget_user")
def forget_deleted_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    services.billing_forget_user(user=instance)
