"""Connecting networks: the OAuth flow, token refresh under a row lock, disconnect."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.core.errors import ApiError
from mindpost.posts import networks
from mindpost.posts.models import Connection, OAuthClient, OAuthState
from mindpost.posts.networks.base import AuthRevoked, Network, NetworkError, NotConfigured, TokenSet

logger = logging.getLogger(__name__)


def _not_configured(network: Network) -> ApiError:
    return ApiError(
        f"{network.display_name} publishing is not configured on this server.",
        code="network_not_configured",
        status_code=503,
    )


def authorization_start(*, user: User, network: Network, client: str = OAuthClient.WEB) -> str:
    """Record a single-use state (with its PKCE verifier) and return the network's authorize URL."""
    if not network.is_configured():
        raise _not_configured(network)
    now = timezone.now()
    # Old states of this user for this network are useless now; keep the table small.
    OAuthState.objects.filter(user=user, network=network.slug, expires_at__lt=now).delete()
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
    OAuthState.objects.create(
        user=user,
        network=network.slug,
        state=state,
        code_verifier=verifier,
        client=client,
        expires_at=now + timedelta(seconds=settings.POSTS_OAUTH_STATE_TTL_SECONDS),
    )
    return network.authorize_url(state=state, code_verifier=verifier)


@dataclass(frozen=True)
class CallbackResult:
    ok: bool
    code: str  # "connected" or an error code
    client: str  # where to send the browser: web or mobile
    network: Network
    connection: Connection | None = None


def _consume_state(*, network: Network, state: str) -> OAuthState | None:
    """Mark the state used, atomically: a replayed or expired state matches no row."""
    now = timezone.now()
    with transaction.atomic():
        row = (
            OAuthState.objects.select_for_update()
            .filter(network=network.slug, state=state, used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if row is None:
            return None
        row.used_at = now
        row.save(update_fields=["used_at"])
    return row


def authorization_complete(
    *, network: Network, state: str, code: str, error: str = "", session_user_id: object = None
) -> CallbackResult:
    """Handle the redirect back from the network: check the state, trade the code, save tokens.

    `session_user_id`: who is signed in to the browser, if anyone. A web flow must end in
    the session that started it; the mobile flow has no session (the state says who).
    """
    row = _consume_state(network=network, state=state) if state else None
    if row is None:
        return CallbackResult(ok=False, code="invalid_state", client=OAuthClient.WEB, network=network)
    if row.client == OAuthClient.WEB and session_user_id is not None and session_user_id != row.user_id:
        return CallbackResult(ok=False, code="invalid_state", client=row.client, network=network)
    if error or not code:
        return CallbackResult(ok=False, code=error or "missing_code", client=row.client, network=network)
    try:
        tokens = network.exchange_code(code=code, code_verifier=row.code_verifier)
        profile = network.fetch_profile(access_token=tokens.access_token)
    except NetworkError as exc:
        logger.warning("OAuth callback failed", extra={"network": network.slug, "code": exc.code})
        return CallbackResult(ok=False, code=exc.code, client=row.client, network=network)

    now = timezone.now()
    with transaction.atomic():
        connection, _ = Connection.objects.select_for_update().get_or_create(
            user_id=row.user_id,
            network=network.slug,
            defaults={"external_user_id": profile.external_user_id, "access_token": tokens.access_token},
        )
        # A different account on the same network replaces the old one; nothing else refers to it.
        connection.external_user_id = profile.external_user_id
        connection.username = profile.username[:255]
        connection.name = profile.name[:255]
        connection.verified = profile.verified
        connection.char_limit = profile.char_limit
        _store_tokens(connection, tokens)
        connection.connected_at = now
        connection.save()
    logger.info("network connected", extra={"network": network.slug, "user_id": str(row.user_id)})
    return CallbackResult(ok=True, code="connected", client=row.client, network=network, connection=connection)


def _store_tokens(connection: Connection, tokens: TokenSet) -> None:
    current = timezone.now()
    connection.access_token = tokens.access_token
    # Networks that don't rotate answer without a refresh token: keep the one we have.
    if tokens.refresh_token:
        connection.refresh_token = tokens.refresh_token
    connection.access_expires_at = current + timedelta(seconds=tokens.expires_in) if tokens.expires_in else None
    if tokens.refresh_expires_in:
        connection.refresh_expires_at = current + timedelta(seconds=tokens.refresh_expires_in)
    connection.scope = tokens.scope[:500]
    connection.token_type = tokens.token_type[:32]
    connection.needs_reauth = False
    connection.reauth_reason = ""
    connection.refreshed_at = current


def mark_needs_reauth(*, connection_id: int, reason: str) -> None:
    Connection.objects.filter(pk=connection_id).update(
        needs_reauth=True, reauth_reason=reason[:300], updated_at=timezone.now()
    )
    logger.warning("connection needs reauthorisation", extra={"connection_id": connection_id})


def reauth_error(network: Network) -> ApiError:
    return ApiError(
        f"Your {network.display_name} connection has expired or was revoked. Connect it again.",
        code="reauth_required",
        status_code=409,
        extra={"network": network.slug},
    )


def access_token(*, connection_id: int) -> tuple[Connection, str]:
    """A valid access token for the connection, refreshed first if it expires soon.

    The refresh runs under a row lock: refresh tokens rotate (each one works once), so
    two workers refreshing at the same time would burn the connection. The second
    worker waits for the lock and then finds the fresh token.
    """
    margin = timedelta(seconds=settings.POSTS_TOKEN_REFRESH_MARGIN_SECONDS)
    revoked: str | None = None
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        network = networks.get(connection.network)
        if connection.needs_reauth:
            raise reauth_error(network)
        expires = connection.access_expires_at
        if expires is None or expires - margin > timezone.now():
            return connection, connection.access_token
        if not connection.refresh_token:
            revoked = "The access token expired and the network issued no refresh token."
        else:
            try:
                tokens = network.refresh(refresh_token=connection.refresh_token)
            except AuthRevoked as exc:
                revoked = exc.detail
            except NotConfigured as exc:
                raise _not_configured(network) from exc
            else:
                _store_tokens(connection, tokens)
                connection.save()
                logger.info("access token refreshed", extra={"network": network.slug, "connection_id": connection.pk})
                return connection, connection.access_token
        # Recorded inside the lock (the block commits normally), raised after it.
        connection.needs_reauth = True
        connection.reauth_reason = revoked[:300]
        connection.save(update_fields=["needs_reauth", "reauth_reason", "updated_at"])
    raise reauth_error(network)


def disconnect(*, user: User, network: Network) -> bool:
    """Delete the user's connection (revoking its token at the network, best effort)."""
    connection = Connection.objects.filter(user=user, network=network.slug).first()
    if connection is None:
        return False
    token = connection.refresh_token or connection.access_token
    connection.delete()
    if network.is_configured():
        transaction.on_commit(lambda: network.revoke(token=token))
    logger.info("network disconnected", extra={"network": network.slug, "user_id": str(user.pk)})
    return True
