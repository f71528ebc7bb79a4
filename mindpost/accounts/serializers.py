from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth.models import update_last_login
from rest_framework import serializers
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from mindpost.accounts import services
from mindpost.accounts.authentication import user_for_token
from mindpost.accounts.models import User
from mindpost.core.errors import Forbidden


class TokenObtainSerializer(jwt_serializers.TokenObtainPairSerializer):
    """`{email, password}` → `{access, refresh}`; an unverified email cannot sign in.

    Each sign-in starts a token family; its tokens carry the user's token version (services.tokens_issue).
    """

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        # The base of the pair serializer only authenticates: refuse unverified emails before any token exists.
        jwt_serializers.TokenObtainSerializer.validate(self, attrs)
        user = self.user
        assert isinstance(user, User)  # set by a successful authentication
        must_verify = settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory" and not user.is_staff
        if must_verify and not EmailAddress.objects.filter(user=user, verified=True).exists():
            raise Forbidden("Verify your email address first: we sent you a link.", code="email_not_verified")
        refresh = self.get_token(user)
        if jwt_settings.UPDATE_LAST_LOGIN:
            update_last_login(None, user)  # type: ignore[arg-type]  # a signal receiver: the sender is unused
        return {"refresh": str(refresh), "access": str(refresh.access_token)}

    @classmethod
    def get_token(cls, user: Any) -> RefreshToken:
        assert isinstance(user, User)
        return services.tokens_issue(user=user)


class TokenRefreshSerializer(jwt_serializers.TokenRefreshSerializer):
    """`{refresh}` → `{access, refresh}`: atomic rotation with reuse detection (services.tokens_refresh)."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        return services.tokens_refresh(refresh=attrs["refresh"])


class TokenVerifySerializer(jwt_serializers.TokenVerifySerializer):
    """`{token}` → `{}`; also 401 for tokens revoked by a version bump or a revoked family."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        super().validate(attrs)  # signature, expiry, blacklist
        user_for_token(UntypedToken(attrs["token"]))
        return {}


class RegisterInput(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})


class RegisterOutput(serializers.Serializer[Any]):
    email = serializers.EmailField()
    detail = serializers.CharField()


class KeyInput(serializers.Serializer[Any]):
    key = serializers.CharField(max_length=512)


class EmailInput(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)


class PasswordResetConfirmInput(serializers.Serializer[Any]):
    key = serializers.CharField(max_length=512, help_text="The `<uid>-<token>` part of the emailed reset link.")
    password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})


class DetailOutput(serializers.Serializer[Any]):
    detail = serializers.CharField()


class ProfileOutput(serializers.ModelSerializer[User]):
    # Read from the user row (kept in sync by accounts/signals.py): no query of its own.
    email_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "display_name", "timezone", "email_verified", "date_joined"]
        read_only_fields = fields


class ProfileInput(serializers.Serializer[Any]):
    display_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False)


class AccountDeleteInput(serializers.Serializer[Any]):
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, style={"input_type": "password"}, help_text="The current password."
    )
    refresh_token = serializers.CharField(required=False, allow_blank=True)


class AccountDeleteOutput(serializers.Serializer[Any]):
    status = serializers.CharField()
    message = serializers.CharField()
