"""Shared HTTP plumbing for network modules: clients, and turning responses into errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from django.conf import settings

from mindpost.posts.networks.base import (
    AuthRevoked,
    NetworkError,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    TokenSet,
    TransientError,
)

logger = logging.getLogger(__name__)


def timeout() -> httpx2.Timeout:
    seconds = float(settings.POSTS_HTTP_TIMEOUT_SECONDS)
    return httpx2.Timeout(seconds, connect=min(seconds, 10.0))


def bearer_client(access_token: str) -> OAuth2Client:
    """An authlib httpx client that signs every request with the user's Bearer token."""
    return OAuth2Client(token={"access_token": access_token, "token_type": "bearer"}, timeout=timeout())


def token_set(token: dict[str, Any]) -> TokenSet:
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise Rejected("The token endpoint answered without an access token.")
    expires_in = token.get("expires_in")
    refresh_expires_in = token.get("refresh_token_expires_in")
    return TokenSet(
        access_token=access,
        refresh_token=str(token.get("refresh_token") or ""),
        expires_in=int(expires_in) if expires_in is not None else None,
        refresh_expires_in=int(refresh_expires_in) if refresh_expires_in is not None else None,
        scope=str(token.get("scope") or ""),
        token_type=str(token.get("token_type") or "bearer"),
    )


@contextmanager
def token_call(network: str) -> Iterator[None]:
    """Map failures of a token-endpoint call: a refused grant means the user must reconnect."""
    try:
        yield
    except OAuthError as exc:
        raise AuthRevoked(f"{network} refused the authorisation ({exc.error}).", status=400) from exc
    except httpx2.HTTPStatusError as exc:
        status = exc.response.status_code
        if status in (400, 401):
            raise AuthRevoked(f"{network} refused the authorisation.", status=status) from exc
        raise TransientError(f"{network} token endpoint answered {status}.", status=status) from exc
    except httpx2.TransportError as exc:
        raise TransientError(f"Could not reach {network}: {type(exc).__name__}.") from exc
    except ValueError as exc:  # not a JSON object
        raise TransientError(f"{network} token endpoint answered something unexpected.") from exc


def rate_limit_reset(response: httpx2.Response, *, header: str = "x-rate-limit-reset") -> datetime:
    """When a 429 lifts: the epoch-seconds reset header, else Retry-After, else one minute."""
    now = datetime.now(UTC)
    raw = response.headers.get(header)
    if raw and raw.strip().isdigit():
        reset = datetime.fromtimestamp(int(raw.strip()), tz=UTC)
        # A reset in the past (clock skew) still waits a moment; one far away is capped.
        return min(max(reset, now + timedelta(seconds=1)), now + timedelta(hours=24))
    retry_after = response.headers.get("retry-after")
    if retry_after and retry_after.strip().isdigit():
        return now + timedelta(seconds=min(int(retry_after.strip()), 86_400))
    return now + timedelta(minutes=1)


def error_message(response: httpx2.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200] or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("message") or errors[0].get("detail")
            if message:
                return str(message)[:300]
        for key in ("detail", "message", "title", "error_description", "error"):
            if body.get(key):
                return str(body[key])[:300]
    return f"HTTP {response.status_code}"


def check(response: httpx2.Response, *, network: str, creates: bool = False) -> httpx2.Response:
    """Raise the right NetworkError for a non-2xx response.

    `creates`: the request creates something, so a 5xx may hide an accepted write
    (X has answered 503 after posting); treat it as an unknown outcome.
    """
    status = response.status_code
    if status < 300:
        return response
    message = error_message(response)
    if status == 401:
        raise AuthRevoked(f"{network} no longer accepts this connection: {message}", status=status)
    if status == 429:
        raise RateLimited(f"{network} rate limit reached: {message}", reset_at=rate_limit_reset(response))
    if status >= 500:
        if creates:
            raise OutcomeUnknown(f"{network} answered {status}: {message}", status=status)
        raise TransientError(f"{network} answered {status}: {message}", status=status)
    raise Rejected(f"{network} refused the request: {message}", status=status)


@contextmanager
def transport(network: str, *, creates: bool = False) -> Iterator[None]:
    """Map transport failures. Once a creating request may have reached the server, a
    timeout or dropped connection means "maybe created": the caller must reconcile."""
    try:
        yield
    except NetworkError:
        raise
    except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
        raise TransientError(f"Could not reach {network}: {type(exc).__name__}.") from exc
    except httpx2.TransportError as exc:
        if creates:
            raise OutcomeUnknown(f"{network} did not answer in time ({type(exc).__name__}).") from exc
        raise TransientError(f"{network} did not answer in time ({type(exc).__name__}).") from exc


def json_body(response: httpx2.Response, *, network: str) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise TransientError(f"{network} answered with something that is not JSON.") from exc
    if not isinstance(body, dict):
        raise TransientError(f"{network} answered with an unexpected shape.")
    return body
