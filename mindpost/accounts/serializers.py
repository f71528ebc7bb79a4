from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.conf import settings
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from mindpost.accounts.models import User
from mindpost.core.errors import ApiError


class TokenObtainSerializer(TokenObtainPairSerializer):
    """`{email, password}` → `{access, refresh}`; an unverified email cannot sign in."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        data = super().validate(attrs)
        user = self.user
        assert user is not None  # set by a successful super().validate()
        must_verify = settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory" and not user.is_staff
        if must_verify and not EmailAddress.objects.filter(user=user, verified=True).exists():
            raise ApiError(
                "Verify your email address first: we sent you a link.", code="email_not_verified", status_code=403
            )
        return data


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
    email_verified = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "display_name", "timezone", "email_verified", "date_joined"]
        read_only_fields = fields

    def get_email_verified(self, user: User) -> bool:
        return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


class ProfileInput(serializers.Serializer[Any]):
    display_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    timezone = serializers.CharField(max_length=64, required=False)


class AccountDeleteInput(serializers.Serializer[Any]):
    refresh_token = serializers.CharField(required=False, allow_blank=True)


class AccountDeleteOutput(serializers.Serializer[Any]):
    status = serializers.CharField()
    message = serializers.CharField()
