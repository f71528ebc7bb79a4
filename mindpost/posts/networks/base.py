"""The interface every publishing network implements, and the errors it raises.

A network module (x.py, linkedin.py, ...) defines a `Network` subclass and exposes one
instance as `NETWORK`. Services only talk to this interface, so adding a network means
adding one module to this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str  # "" when the network issues none
    expires_in: int | None  # seconds the access token lives
    refresh_expires_in: int | None
    scope: str
    token_type: str = "bearer"  # noqa: S105 (a token kind, not a secret)


@dataclass(frozen=True)
class Profile:
    external_user_id: str
    username: str
    name: str
    verified: bool
    char_limit: int
    # The server the account lives on, for networks with many (Mastodon instances, Bluesky PDS); "" otherwise.
    base_url: str = ""


@dataclass(frozen=True)
class Media:
    """An image to attach: its bytes and verified MIME type."""

    content: bytes
    content_type: str


@dataclass(frozen=True)
class PublishedItem:
    external_id: str
    url: str


@dataclass(frozen=True)
class PublishRequest:
    text: str
    reply_to: str | None = None
    media: list[Media] = field(default_factory=list)


# --- Errors ------------------------------------------------------------------------
class NetworkError(Exception):
    """A failure talking to a network. `code` is a stable machine-readable reason."""

    code = "network_error"

    def __init__(self, detail: str, *, status: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


class NotConfigured(NetworkError):
    code = "network_not_configured"


class AuthRevoked(NetworkError):
    """The user's authorisation is gone (401, revoked or rejected refresh token)."""

    code = "reauth_required"


class RateLimited(NetworkError):
    code = "rate_limited"

    def __init__(self, detail: str, *, reset_at: datetime, status: int | None = 429) -> None:
        super().__init__(detail, status=status)
        self.reset_at = reset_at


class TransientError(NetworkError):
    """Nothing was created: safe to retry as is (connection refused, 5xx before acceptance)."""

    code = "network_unavailable"


class OutcomeUnknown(NetworkError):
    """The request may have been accepted (timeout after sending): reconcile before retrying."""

    code = "outcome_unknown"


class Rejected(NetworkError):
    """The network refused the content for good (4xx): retrying the same thing won't help."""

    code = "rejected_by_network"


# --- The interface ---------------------------------------------------------------------
class Network:
    slug: ClassVar[str]  # used in URLs and stored on rows: "x", "linkedin"
    display_name: ClassVar[str]
    # `post_type` values (reference API field) that select this network; the first is canonical.
    post_types: ClassVar[tuple[str, ...]]
    default_char_limit: ClassVar[int]
    max_images: ClassVar[int]
    image_types: ClassVar[frozenset[str]] = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
    supports_threads: ClassVar[bool] = False
    uses_pkce: ClassVar[bool] = True
    # Whether find_published can tell if a timed-out post went out after all.
    can_reconcile: ClassVar[bool] = True
    # How a user connects: "oauth" (the generic connect button) or "form" (a network-specific form:
    # a Bluesky handle + app password, a Mastodon instance URL), see posts/api_networks.py.
    connect_kind: ClassVar[str] = "oauth"
    # How the length limit is explained to people, next to the number.
    length_rule: ClassVar[str] = "links count 23, emoji 2"

    def at(self, base_url: str) -> Network:
        """This network bound to one server (a Mastodon instance, a Bluesky service); networks
        with a single server ignore it."""
        return self

    def text_length(self, text: str) -> int:
        """The length this network counts against its limit (X's weighted length by default)."""
        from mindpost.posts import length  # lazily: models import this module

        return length.weighted_length(text)

    def image_problem(self, *, content_type: str, size: int, width: int, height: int) -> str | None:
        """Why this network would refuse an image (size, dimensions), or None if it takes it."""
        return None

    def is_configured(self) -> bool:
        raise NotImplementedError

    def redirect_uri(self) -> str:
        raise NotImplementedError

    def authorize_url(self, *, state: str, code_verifier: str) -> str:
        raise NotImplementedError

    def exchange_code(self, *, code: str, code_verifier: str) -> TokenSet:
        raise NotImplementedError

    def create_session(self, *, identifier: str, password: str) -> tuple[TokenSet, Profile]:
        """Sign in with a user name and an app password (connect_kind "form", Bluesky)."""
        raise NotImplementedError

    def refresh(self, *, refresh_token: str) -> TokenSet:
        raise NotImplementedError

    def revoke(self, *, token: str) -> None:
        """Best effort: a failure here must not stop a disconnect."""

    def fetch_profile(self, *, access_token: str) -> Profile:
        raise NotImplementedError

    def publish(self, *, access_token: str, profile: Profile, request: PublishRequest) -> PublishedItem:
        raise NotImplementedError

    def find_published(
        self, *, access_token: str, profile: Profile, text: str, since: datetime
    ) -> PublishedItem | None:
        """Look for an item with this text published since `since` (crash/timeout recovery)."""
        raise NotImplementedError
