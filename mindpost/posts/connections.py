"""Connecting networks: the OAuth flow (bound to who started it), token refresh under a row lock, disconnect."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.core.errors import Conflict, Invalid, Unavailable, UpstreamFailed
from mindpost.core.errors import RateLimited as AppRateLimited
from mindpost.posts import networks
from mindpost.posts.models import Connection, OAuthClient, OAuthState
from mindpost.posts.networks.base import (
    AuthRevoked,
    Network,
    NetworkError,
    NotConfigured,
    Profile,
    Rejected,
    TokenSet,
)
from mindpost.posts.networks.base import RateLimited as NetworkRateLimited

logger = logging.getLogger(__name__)


def _not_configured(network: Network) -> Unavailable:
    return Unavailable(
        f"{network.display_name} publishing is not configured on this server.",
        code="network_not_configured",
    )


# Bluesky app passwords look like abcd-efgh-ijkl-mnop.
APP_PASSWORD = re.compile(r"^[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}$")
# How long the phone's browser has to press "Link" on the confirmation page.
CONFIRM_TTL = timedelta(minutes=5)
# A browser session remembers this many flows it started (parallel tabs), newest last.
MAX_SESSION_NONCES = 5


def _digest(secret: str) -> str:
    # The secrets are 256 random bits: a plain hash is enough to keep them out of the database.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_browser_nonce() -> str:
    return secrets.token_urlsafe(32)


def authorization_start(
    *, user: User, network: Network, client: str = OAuthClient.WEB, browser_nonce: str = "", base_url: str = ""
) -> str:
    """Record a single-use state (with its PKCE verifier) and return the network's authorize URL.

    `browser_nonce`: given when a signed-in browser page starts the flow (the caller keeps it
    in that session); the callback then only completes in that session. Without it (API,
    bearer token) the callback ends on a confirmation page instead. `base_url`: the server, for
    networks with many (a Mastodon instance, already checked by posts.instances).
    """
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
        browser_nonce_hash=_digest(browser_nonce) if browser_nonce else "",
        base_url=base_url,
        expires_at=now + timedelta(seconds=settings.POSTS_OAUTH_STATE_TTL_SECONDS),
    )
    try:
        # A Mastodon instance is called here (app registration): it may be down or not Mastodon.
        return network.at(base_url).authorize_url(state=state, code_verifier=verifier)
    except Rejected as exc:
        raise Invalid(
            f"This server does not look like a {network.display_name} server ({exc.detail}).",
            code="instance_not_supported",
            fields={"instance_url": ["Check the address of your server."]},
        ) from exc
    except NetworkError as exc:
        raise UpstreamFailed(exc.detail, code="instance_unreachable") from exc


@dataclass(frozen=True)
class PendingLink:
    """What the confirmation page shows: never a token, only a one-time secret for its form."""

    confirmation: str
    account_email: str
    profile: Profile
    expires_at: datetime


@dataclass(frozen=True)
class CallbackResult:
    ok: bool
    code: str  # "connected", "confirmation_required" or an error code
    client: str  # where to send the browser: web or mobile
    network: Network
    connection: Connection | None = None
    pending: PendingLink | None = None
    used_nonce: str = ""  # the session nonce this callback spent (the view forgets it)


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


def _matching_nonce(row: OAuthState, nonces: Iterable[str]) -> str:
    for nonce in nonces:
        if isinstance(nonce, str) and hmac.compare_digest(_digest(nonce), row.browser_nonce_hash):
            return nonce
    return ""


def authorization_complete(
    *,
    network: Network,
    state: str,
    code: str,
    error: str = "",
    session_user_id: object = None,
    session_nonces: Iterable[str] = (),
) -> CallbackResult:
    """Handle the redirect back from the network: check the state, trade the code, then
    either link (browser-started flow, back in its own session) or hold the tokens for the
    confirmation page (API-started flow).

    The state is spent by any callback that names it, even one refused for the wrong
    session: nobody can retry it, and the real user simply starts again.
    """
    row = _consume_state(network=network, state=state) if state else None
    if row is None:
        return CallbackResult(ok=False, code="invalid_state", client=OAuthClient.WEB, network=network)
    used_nonce = ""
    if row.browser_nonce_hash:
        # Login CSRF / account-linking attack: someone starts a flow and gets the victim to
        # approve it. Only the signed-in user who started it, in the browser that started
        # it, may finish it; the code is then never traded.
        used_nonce = _matching_nonce(row, session_nonces)
        if session_user_id != row.user_id or not used_nonce:
            logger.warning(
                "OAuth callback outside the session that started it",
                extra={"network": network.slug, "user_id": str(row.user_id), "signed_in": session_user_id is not None},
            )
            return CallbackResult(ok=False, code="session_mismatch", client=row.client, network=network)
    if error or not code:
        return CallbackResult(
            ok=False, code=error or "missing_code", client=row.client, network=network, used_nonce=used_nonce
        )
    try:
        bound = network.at(row.base_url)
        tokens = bound.exchange_code(code=code, code_verifier=row.code_verifier)
        profile = bound.fetch_profile(access_token=tokens.access_token)
    except NetworkError as exc:
        logger.warning("OAuth callback failed", extra={"network": network.slug, "code": exc.code})
        return CallbackResult(ok=False, code=exc.code, client=row.client, network=network, used_nonce=used_nonce)

    if not row.browser_nonce_hash:
        pending = _hold_for_confirmation(row=row, tokens=tokens, profile=profile)
        return CallbackResult(
            ok=True, code="confirmation_required", client=row.client, network=network, pending=pending
        )
    connection = _link(user_id=row.user_id, network=network, tokens=tokens, profile=profile)
    return CallbackResult(
        ok=True, code="connected", client=row.client, network=network, connection=connection, used_nonce=used_nonce
    )


def _hold_for_confirmation(*, row: OAuthState, tokens: TokenSet, profile: Profile) -> PendingLink:
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    row.pending_tokens = json.dumps(asdict(tokens))
    row.pending_profile = asdict(profile)
    row.confirm_token_hash = _digest(secret)
    row.confirm_expires_at = now + CONFIRM_TTL
    # Old states are deleted by expires_at: keep the row (and its tokens) no longer than needed.
    row.expires_at = row.confirm_expires_at
    row.save(
        update_fields=["pending_tokens", "pending_profile", "confirm_token_hash", "confirm_expires_at", "expires_at"]
    )
    email = User.objects.values_list("email", flat=True).get(pk=row.user_id)
    return PendingLink(confirmation=secret, account_email=email, profile=profile, expires_at=row.confirm_expires_at)


@dataclass(frozen=True)
class ConfirmResult:
    ok: bool
    code: str  # "connected", "cancelled" or an error code
    client: str
    connection: Connection | None = None


def link_confirm(*, network: Network, confirmation: str, accept: bool) -> ConfirmResult:
    """The confirmation page's POST: link (accept) or drop (cancel) the held tokens. Single use."""
    if not confirmation:
        return ConfirmResult(ok=False, code="invalid_confirmation", client=OAuthClient.MOBILE)
    now = timezone.now()
    with transaction.atomic():
        row = (
            OAuthState.objects.select_for_update()
            .filter(network=network.slug, confirm_token_hash=_digest(confirmation))
            .first()
        )
        if row is None:
            return ConfirmResult(ok=False, code="invalid_confirmation", client=OAuthClient.MOBILE)
        if row.confirmed_at is not None or not row.pending_tokens:
            return ConfirmResult(ok=False, code="confirmation_used", client=row.client)
        tokens = TokenSet(**json.loads(row.pending_tokens))
        profile = Profile(**row.pending_profile)
        # Whatever happens next, the held tokens are gone and the secret is spent.
        row.confirmed_at = now
        row.pending_tokens = ""
        row.save(update_fields=["confirmed_at", "pending_tokens"])
        expired = row.confirm_expires_at is None or row.confirm_expires_at <= now
        if expired or not accept:
            token = tokens.refresh_token or tokens.access_token
            if network.is_configured():
                bound = network.at(profile.base_url)
                transaction.on_commit(lambda: bound.revoke(token=token))
            code = "confirmation_expired" if expired else "cancelled"
            logger.info("pending connection dropped", extra={"network": network.slug, "code": code})
            return ConfirmResult(ok=False, code=code, client=row.client)
        connection = _link(user_id=row.user_id, network=network, tokens=tokens, profile=profile)
    return ConfirmResult(ok=True, code="connected", client=row.client, connection=connection)


def _link(*, user_id: uuid.UUID, network: Network, tokens: TokenSet, profile: Profile) -> Connection:
    now = timezone.now()
    with transaction.atomic():
        connection, _ = Connection.objects.select_for_update().get_or_create(
            user_id=user_id,
            network=network.slug,
            defaults={"external_user_id": profile.external_user_id, "access_token": tokens.access_token},
        )
        # A different account on the same network replaces the old one; nothing else refers to it.
        connection.external_user_id = profile.external_user_id
        connection.username = profile.username[:255]
        connection.name = profile.name[:255]
        connection.verified = profile.verified
        connection.char_limit = profile.char_limit
        connection.base_url = profile.base_url[:255]
        _store_tokens(connection, tokens)
        connection.connected_at = now
        connection.save()
    logger.info("network connected", extra={"network": network.slug, "user_id": str(user_id)})
    return connection


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


def reauth_error(network: Network) -> Conflict:
    return Conflict(
        f"Your {network.display_name} connection has expired or was revoked. Connect it again.",
        code="reauth_required",
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
                tokens = network.at(connection.base_url).refresh(refresh_token=connection.refresh_token)
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
    bound = network.at(connection.base_url)
    connection.delete()
    if network.is_configured():
        transaction.on_commit(lambda: bound.revoke(token=token))
    logger.info("network disconnected", extra={"network": network.slug, "user_id": str(user.pk)})
    return True


def password_connect(*, user: User, network: Network, identifier: str, password: str, base_url: str = "") -> Connection:
    """Connect with a user name and an app password (Bluesky): trade them for a session at once.

    The password itself is never stored, only the session's tokens (encrypted like any other).
    Only app passwords are taken: an account password can do far more (and may need an e-mail code).
    """
    password = password.strip().lower()
    if not APP_PASSWORD.match(password):
        raise Invalid(
            "Use an app password (Settings → Privacy and security → App passwords), not your account password.",
            code="app_password_required",
            fields={"app_password": ["The format is xxxx-xxxx-xxxx-xxxx."]},
        )
    identifier = identifier.strip().lstrip("@")
    try:
        tokens, profile = network.at(base_url).create_session(identifier=identifier, password=password)
    except AuthRevoked as exc:
        raise Invalid(
            f"{network.display_name} did not accept this handle and app password.",
            code="invalid_credentials",
            fields={"app_password": ["Check the handle and the app password."]},
        ) from exc
    except NetworkRateLimited as exc:
        wait = max(int((exc.reset_at - timezone.now()).total_seconds()), 1)
        raise AppRateLimited(
            f"{network.display_name} asks to wait before signing in again.", extra={"retry_after": wait}
        ) from exc
    except Rejected as exc:
        raise Invalid(exc.detail, code="invalid_credentials", fields={"app_password": [exc.detail]}) from exc
    except NetworkError as exc:
        raise UpstreamFailed(exc.detail, code=exc.code) from exc
    return _link(user_id=user.pk, network=network, tokens=tokens, profile=profile)
