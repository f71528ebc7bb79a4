from __future__ import annotations

import uuid
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import F
from django.utils import timezone as dj_timezone


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person using MindPost. Email is the login; the key is a UUID as in the reference API."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    display_name = models.CharField(max_length=100, blank=True)
    timezone = models.CharField(max_length=64, default="UTC")
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=dj_timezone.now)
    # Put into every JWT (the `ver` claim) and compared on every request: bumping it
    # signs out every device at once, access tokens included.
    token_version = models.PositiveIntegerField(default=0, editable=False)
    # Whether allauth's address for `email` is verified: a copy kept in sync by accounts/signals.py,
    # so a request reads it from the row its authentication loads anyway (no EmailAddress query).
    email_verified = models.BooleanField(default=False, editable=False)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        ordering = ["-date_joined"]

    def __str__(self) -> str:
        return self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        # set_password() keeps the raw password in `_password` until the next save, while the
        # re-hash on sign-in clears it first: so this catches every real password change (API,
        # allauth web flows, admin, manage.py changepassword) and revokes the old tokens.
        changed = getattr(self, "_password", None) is not None and not self._state.adding
        if changed:
            self.token_version = F("token_version") + 1
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "token_version"}
        super().save(*args, **kwargs)
        if changed:
            self.refresh_from_db(fields=["token_version"])

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (atomic against concurrent bumps)."""
        User.objects.filter(pk=self.pk).update(token_version=F("token_version") + 1)
        self.refresh_from_db(fields=["token_version"])


class TokenFamily(models.Model):
    """The refresh tokens descending from one sign-in (the `fam` claim of its tokens).

    Only `current_jti` may be refreshed. Presenting an older, already rotated token means
    two parties hold the family (theft): the whole family is revoked, access tokens too,
    while the user's other devices stay signed in.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_families")
    current_jti = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name_plural = "token families"

    def __str__(self) -> str:
        return f"{self.user_id} {self.pk}"
