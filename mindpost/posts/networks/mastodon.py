"""Mastodon: any instance. MindPost registers its own OAuth app on each instance the first time
someone connects from it (cached in MastodonApp), so the operator configures nothing.

Endpoints used (relative to the connection's instance URL):
- POST /api/v1/apps                          register the app (client_id, client_secret)
- GET  /.well-known/oauth-authorization-server   PKCE S256 offered? (Mastodon 4.3+)
- GET  /oauth/authorize, POST /oauth/token, POST /oauth/revoke
- GET  /api/v1/accounts/verify_credentials
- GET  /api/v2/instance                      configuration.statuses.max_characters (else /api/v1, else 500)
- POST /api/v2/media                         202 while processing → GET /api/v1/media/:id until it has a url
- POST /api/v1/statuses                      threads: in_reply_to_id
- GET  /api/v1/accounts/:id/statuses         did a post that timed out go out after all?
Mastodon counts graphemes, every URL as 23 and a mention without its domain (length.mastodon_length).
Why not Mastodon.py: docs/decisions/0006-bluesky-mastodon-clients.md.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx2
from django.conf import settings
from django.db import IntegrityError
from django.urls import reverse

from mindpost.core.errors import Invalid
from mindpost.posts import length
from mindpost.posts.networks import _http
from mindpost.posts.networks.base import (
    AuthRevoked,
    Media,
    Network,
    NotConfigured,
    OutcomeUnknown,
    Profile,
    PublishedItem,
    PublishRequest,
    RateLimited,
    TokenSet,
    TransientError,
)

logger = logging.getLogger(__name__)

NAME = "Mastodon"
SCOPES = "read:accounts read:statuses write:statuses write:media"
DEFAULT_CHAR_LIMIT = 500
# Mastodon's defaults (instances may lower or raise them; a refusal then comes back as a 422).
MAX_IMAGE_BYTES = 16 * 1024 * 1024
MAX_IMAGE_PIXELS = 33_177_600  # image_matrix_limit: 7680 x 4320
MAX_PROCESSING_WAIT_SECONDS = 30
_TAG = re.compile(r"<[^>]+>")
_BREAK = re.compile(r"<br\s*/?>|</p>\s*<p>", re.IGNORECASE)
_MENTION_DOMAIN = re.compile(r"(@[A-Za-z0-9_]+)@[\w.-]+")


def _plain(content: str) -> str:
    """A status's HTML as comparable text: no tags, entities decoded, mentions without domain."""
    text = html.unescape(_TAG.sub("", _BREAK.sub("\n", content)))
    return " ".join(_MENTION_DOMAIN.sub(r"\1", unicodedata.normalize("NFC", text)).split())


def _reset_at(response: httpx2.Response) -> datetime:
    """Mastodon's X-RateLimit-Reset is an ISO 8601 time, not epoch seconds."""
    raw = response.headers.get("x-ratelimit-reset", "")
    now = datetime.now(UTC)
    try:
        reset = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return _http.rate_limit_reset(response)
    if reset.tzinfo is None:
        reset = reset.replace(tzinfo=UTC)
    return min(max(reset, now + timedelta(seconds=1)), now + timedelta(hours=24))


def _check(response: httpx2.Response, *, network: str = NAME, creates: bool = False) -> dict[str, Any]:
    if response.status_code == 429:
        raise RateLimited(
            f"{network} rate limit reached: {_http.error_message(response)}", reset_at=_reset_at(response)
        )
    return _http.json_body(_http.check(response, network=network, creates=creates), network=network)


class MastodonNetwork(Network):
    slug = "mastodon"
    display_name = NAME
    post_types = ("mastodon",)
    default_char_limit = DEFAULT_CHAR_LIMIT
    max_images = 4
    image_types = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
    supports_threads = True
    uses_pkce = True
    can_reconcile = True
    connect_kind = "form"
    length_rule = "links count 23, emoji 1"

    def __init__(self, base_url: str = "") -> None:
        self.base_url = base_url.rstrip("/")

    def _for(self, profile: Profile) -> MastodonNetwork:
        """Publishing gets the shared instance: talk to the server the account lives on."""
        if profile.base_url and profile.base_url.rstrip("/") != self._server():
            return MastodonNetwork(profile.base_url)
        return self

    def at(self, base_url: str) -> Network:
        return MastodonNetwork(base_url) if base_url else self

    def _server(self) -> str:
        return self.base_url

    @property
    def api(self) -> str:
        if not self.base_url:
            raise NotConfigured("No Mastodon instance given.")
        return self.base_url

    def is_configured(self) -> bool:
        return True  # the app registers itself on each instance

    def text_length(self, text: str) -> int:
        return length.mastodon_length(text)

    def image_problem(self, *, content_type: str, size: int, width: int, height: int) -> str | None:
        if size > MAX_IMAGE_BYTES:
            return f"Mastodon takes images up to 16 MB; this one is {size / 1_048_576:.1f} MB."
        if width * height > MAX_IMAGE_PIXELS:
            return f"Mastodon takes images up to 33 megapixels (7680 x 4320); this one is {width} x {height}."
        return None

    def redirect_uri(self) -> str:
        return settings.SITE_URL + reverse("posts_connection_callback", kwargs={"network": self.slug})

    @staticmethod
    def _client(token: str | None = None) -> httpx2.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.Client(timeout=_http.timeout(), headers=headers)

    # --- the app on this instance ------------------------------------------------------------
    def app(self) -> Any:
        """This instance's MastodonApp row, registering the app there first if needed."""
        from mindpost.posts.models import MastodonApp  # lazily: models import networks.base

        redirect_uri = self.redirect_uri()
        existing = MastodonApp.objects.filter(instance_url=self.api, redirect_uri=redirect_uri).first()
        if existing is not None:
            return existing
        with self._client() as client, _http.transport(NAME):
            response = client.post(
                f"{self.api}/api/v1/apps",
                json={
                    "client_name": settings.MASTODON_CLIENT_NAME,
                    "redirect_uris": redirect_uri,
                    "scopes": SCOPES,
                    "website": settings.SITE_URL,
                },
            )
            body = _check(response)
            supports_pkce = self._offers_pkce(client)
        if not body.get("client_id") or not body.get("client_secret"):
            raise TransientError("The Mastodon instance did not register the app.")
        try:
            app, _ = MastodonApp.objects.get_or_create(
                instance_url=self.api,
                redirect_uri=redirect_uri,
                defaults={
                    "client_id": str(body["client_id"]),
                    "client_secret": str(body["client_secret"]),
                    "scopes": SCOPES,
                    "supports_pkce": supports_pkce,
                },
            )
        except IntegrityError:  # registered by a parallel request: theirs wins, ours goes unused
            app = MastodonApp.objects.get(instance_url=self.api, redirect_uri=redirect_uri)
        logger.info("mastodon app registered", extra={"instance": self.api})
        return app

    def _offers_pkce(self, client: httpx2.Client) -> bool:
        try:
            response = client.get(f"{self.api}/.well-known/oauth-authorization-server")
            methods = response.json().get("code_challenge_methods_supported") if response.status_code == 200 else []
        except (httpx2.HTTPError, ValueError, AttributeError):
            return False
        return isinstance(methods, list) and "S256" in methods

    # --- OAuth -----------------------------------------------------------------------------------
    def authorize_url(self, *, state: str, code_verifier: str) -> str:
        if not self.base_url:  # the generic connect button: there is no instance to go to
            raise Invalid(
                "Mastodon connects on your own server: give its address.",
                code="connect_with_form",
                fields={"instance_url": ["This field is required."]},
                extra={"network": self.slug},
            )
        app = self.app()
        params = {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "scope": app.scopes,
            "state": state,
        }
        if app.supports_pkce:
            digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
            params["code_challenge"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
            params["code_challenge_method"] = "S256"
        return f"{self.api}/oauth/authorize?{urlencode(params)}"

    def exchange_code(self, *, code: str, code_verifier: str) -> TokenSet:
        app = self.app()
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "redirect_uri": app.redirect_uri,
            "scope": app.scopes,
        }
        if app.supports_pkce:
            data["code_verifier"] = code_verifier
        with self._client() as client, _http.token_call(NAME):
            response = client.post(f"{self.api}/oauth/token", data=data)
            response.raise_for_status()
            token = response.json()
        if not isinstance(token, dict):
            raise TransientError("The Mastodon token endpoint answered something unexpected.")
        return _http.token_set(token)

    def refresh(self, *, refresh_token: str) -> TokenSet:
        # Mastodon access tokens don't expire (expires_in is absent), so access_token() never asks.
        raise AuthRevoked("Mastodon issued no refresh token; connect again.")

    def revoke(self, *, token: str) -> None:
        try:
            app = self.app()
            with self._client() as client:
                client.post(
                    f"{self.api}/oauth/revoke",
                    data={"client_id": app.client_id, "client_secret": app.client_secret, "token": token},
                )
        except Exception:  # best effort: the local connection is deleted either way
            logger.warning("Mastodon token revocation failed", exc_info=True)

    # --- profile -----------------------------------------------------------------------------------
    def char_limit(self, client: httpx2.Client) -> int:
        """The instance's own limit (many raise 500); 500 if it doesn't say."""
        for path in ("/api/v2/instance", "/api/v1/instance"):
            try:
                response = client.get(f"{self.api}{path}")
                body = response.json() if response.status_code == 200 else None
            except (httpx2.HTTPError, ValueError):
                continue
            if not isinstance(body, dict):
                continue
            statuses = (body.get("configuration") or {}).get("statuses") or {}
            value = statuses.get("max_characters") or body.get("max_toot_chars")
            if isinstance(value, int) and value > 0:
                return value
        return DEFAULT_CHAR_LIMIT

    def fetch_profile(self, *, access_token: str) -> Profile:
        with self._client(access_token) as client, _http.transport(NAME):
            response = client.get(f"{self.api}/api/v1/accounts/verify_credentials")
            body = _check(response)
            limit = self.char_limit(client)
        if not body.get("id"):
            raise TransientError("Mastodon answered verify_credentials without an account.")
        username = str(body.get("username") or body.get("acct") or "")
        host = urlsplit(self.api).hostname or ""
        return Profile(
            external_user_id=str(body["id"]),
            username=f"{username}@{host}",
            name=str(body.get("display_name") or username),
            verified=False,
            char_limit=limit,
            base_url=self.api,
        )

    # --- publishing ---------------------------------------------------------------------------------
    def _upload(self, client: httpx2.Client, media: Media) -> str:
        extension = media.content_type.split("/")[-1]
        with _http.transport(f"{NAME} media upload"):
            response = client.post(
                f"{self.api}/api/v2/media", files={"file": (f"image.{extension}", media.content, media.content_type)}
            )
            body = _check(response, network=f"{NAME} media upload")
            media_id = str(body.get("id") or "")
            if not media_id:
                raise TransientError("Mastodon answered the upload without a media id.")
            # 202: still processing; a status can't use the media until it has a URL.
            deadline = time.monotonic() + MAX_PROCESSING_WAIT_SECONDS
            while response.status_code == 202 or not body.get("url"):
                if time.monotonic() > deadline:
                    raise TransientError("Mastodon is still processing the image.")
                time.sleep(0.5)
                response = client.get(f"{self.api}/api/v1/media/{media_id}")
                if response.status_code == 206:
                    continue  # still processing
                body = _check(response, network=f"{NAME} media upload")
                if response.status_code == 200 and body.get("url"):
                    break
        return media_id

    @staticmethod
    def _status_url(profile: Profile, status_id: str, url: Any) -> str:
        if isinstance(url, str) and url:
            return url
        return f"{profile.base_url}/@{profile.username.split('@', 1)[0]}/{status_id}"

    def publish(self, *, access_token: str, profile: Profile, request: PublishRequest) -> PublishedItem:
        bound = self._for(profile)
        if bound is not self:
            return bound.publish(access_token=access_token, profile=profile, request=request)
        with self._client(access_token) as client:
            media_ids = [self._upload(client, media) for media in request.media]
            body: dict[str, Any] = {"status": request.text, "visibility": "public"}
            if request.reply_to:
                body["in_reply_to_id"] = request.reply_to
            if media_ids:
                body["media_ids"] = media_ids
            with _http.transport(NAME, creates=True):
                response = client.post(f"{self.api}/api/v1/statuses", json=body)
            status = _check(response, creates=True)
        if not status.get("id"):
            raise OutcomeUnknown("Mastodon accepted the post but did not say its id.")
        status_id = str(status["id"])
        return PublishedItem(external_id=status_id, url=self._status_url(profile, status_id, status.get("url")))

    def find_published(
        self, *, access_token: str, profile: Profile, text: str, since: datetime
    ) -> PublishedItem | None:
        bound = self._for(profile)
        if bound is not self:
            return bound.find_published(access_token=access_token, profile=profile, text=text, since=since)
        wanted = _plain(html.escape(text))
        earliest = since - timedelta(minutes=2)
        with self._client(access_token) as client, _http.transport(NAME):
            response = client.get(
                f"{self.api}/api/v1/accounts/{profile.external_user_id}/statuses",
                params={"limit": 40, "exclude_reblogs": "true"},
            )
        if response.status_code == 429:
            raise RateLimited("Mastodon rate limit reached.", reset_at=_reset_at(response))
        statuses = _http.check(response, network=NAME).json()
        for status in statuses if isinstance(statuses, list) else []:
            if not isinstance(status, dict) or not status.get("id"):
                continue
            try:
                created = datetime.fromisoformat(str(status.get("created_at", "")).replace("Z", "+00:00"))
            except ValueError:
                continue
            if created >= earliest and _plain(str(status.get("content") or "")) == wanted:
                status_id = str(status["id"])
                return PublishedItem(external_id=status_id, url=self._status_url(profile, status_id, status.get("url")))
        return None


NETWORK = MastodonNetwork()
