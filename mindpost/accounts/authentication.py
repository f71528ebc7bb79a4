"""JWT authentication that honours revocation: the user's token version and the token's sign-in family.

Every access and refresh token carries two claims besides SimpleJWT's own:
- `ver`: the user's `token_version` when it was issued. Changing the password, signing out
  everywhere or deleting the account bumps the version, which kills every older token at once.
- `fam`: the id of the `TokenFamily` (one sign-in and all its rotations). Reusing a rotated
  refresh token revokes the family (see services.tokens_refresh).

Both are checked in the query that loads the user anyway, so the check costs no extra round trip.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Exists, OuterRef
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import RefreshToken, Token

from mindpost.accounts.models import TokenFamily, User

VERSION_CLAIM = "ver"
FAMILY_CLAIM = "fam"

REVOKED_DETAIL = "This token has been revoked. Sign in again."


class FamilyRefreshToken(RefreshToken):
    """A refresh token read for rotation: signature, expiry and type are checked as usual, but
    not SimpleJWT's blacklist, because the family row decides (a rotated token must reach the
    reuse check instead of being refused as merely blacklisted)."""

    def check_blacklist(self) -> None:
        return None


def token_claims(token: Token | dict[str, Any]) -> tuple[Any, int, uuid.UUID]:
    """(user id, version, family) of a token we issued; InvalidToken for anything else."""
    try:
        user_id = token[api_settings.USER_ID_CLAIM]
        version = int(token[VERSION_CLAIM])
        family = uuid.UUID(str(token[FAMILY_CLAIM]))
    except (KeyError, TypeError, ValueError) as exc:
        # Tokens issued before revocation existed carry no `ver`/`fam`: they must sign in again.
        raise InvalidToken(REVOKED_DETAIL) from exc
    return user_id, version, family


def user_for_token(token: Token | dict[str, Any]) -> User:
    """The active user of a token that is still current; AuthenticationFailed otherwise.

    One query: the family check is an EXISTS on a primary key inside the user lookup.
    """
    user_id, version, family = token_claims(token)
    live_family = TokenFamily.objects.filter(pk=family, user_id=OuterRef("pk"), revoked_at__isnull=True)
    try:
        user = User.objects.annotate(family_live=Exists(live_family)).get(pk=user_id)
    except (User.DoesNotExist, DjangoValidationError, ValueError) as exc:
        raise AuthenticationFailed("User not found", code="user_not_found") from exc
    if not user.is_active:
        raise AuthenticationFailed("User is inactive", code="user_inactive")
    if user.token_version != version or not user.family_live:
        raise InvalidToken(REVOKED_DETAIL)
    return user


class RevocableJWTAuthentication(JWTAuthentication):
    """SimpleJWT's bearer authentication plus the version and family checks, at no extra query."""

    def get_user(self, validated_token: Token) -> User:  # type: ignore[override]
        return user_for_token(validated_token)
