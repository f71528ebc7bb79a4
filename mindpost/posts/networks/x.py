"""X (Twitter): OAuth 2.0 Authorization Code with PKCE, X API v2 posts and media upload.

Endpoints used (relative to X_API_BASE_URL):
- POST /2/oauth2/token, POST /2/oauth2/revoke (confidential client: HTTP Basic auth)
- GET  /2/users/me
- POST /2/tweets                       (threads: reply.in_reply_to_tweet_id)
- GET  /2/users/:id/tweets             (did a post that timed out go out after all?)
- POST /2/media/upload                 (one-shot upload of PNG/JPEG/WEBP, media.write scope)
- POST /2/media/upload/initialize, /:id/append, /:id/finalize, GET /2/media/upload?command=STATUS
                                       (chunked upload, needed for GIFs)
"""

from __future__ import annotations

import base64
import html
import logging
import time
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.integrations.httpx_client import OAuth2Client
from django.conf import settings
from django.urls import reverse

from mindpost.posts import length
from mindpost.posts.networks import _http
from mindpost.posts.networks.base import (
    Media,
    Network,
    NotConfigured,
    OutcomeUnknown,
    Profile,
    PublishedItem,
    PublishRequest,
    Rejected,
    TokenSet,
    TransientError,
)

logger = logging.getLogger(__name__)

SCOPES = "tweet.read tweet.write users.read offline.access media.write"
# Accounts with a verification badge or a paid subscription may post long posts.
LONG_POST_VERIFIED_TYPES = {"blue", "business", "government"}
CHUNK_BYTES = 4 * 1024 * 1024
MAX_PROCESSING_WAIT_SECONDS = 60


def _normalise(text: str) -> str:
    """Compare texts the way X stores them: HTML-unescaped, links rewritten, spacing collapsed."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    return " ".join(length.strip_urls(text).split())


class XNetwork(Network):
    slug = "x"
    display_name = "X"
    post_types = ("twitter", "x")
    default_char_limit = 280
    max_images = 4
    supports_threads = True
    uses_pkce = True

    # --- configuration -------------------------------------------------------------
    @property
    def api(self) -> str:
        return str(settings.X_API_BASE_URL).rstrip("/")

    def is_configured(self) -> bool:
        return bool(settings.X_CLIENT_ID)

    def redirect_uri(self) -> str:
        configured = str(settings.X_REDIRECT_URI or "")
        return configured or settings.SITE_URL + reverse("posts_connection_callback", kwargs={"network": self.slug})

    def _oauth(self) -> OAuth2Client:
        if not self.is_configured():
            raise NotConfigured("X is not configured on this server (X_CLIENT_ID is empty).")
        return OAuth2Client(
            client_id=settings.X_CLIENT_ID,
            client_secret=settings.X_CLIENT_SECRET or None,
            # A confidential client authenticates with HTTP Basic; a public one sends client_id.
            token_endpoint_auth_method="client_secret_basic" if settings.X_CLIENT_SECRET else "none",
            scope=SCOPES,
            redirect_uri=self.redirect_uri(),
            code_challenge_method="S256",
            timeout=_http.timeout(),
        )

    # --- OAuth -----------------------------------------------------------------------
    def authorize_url(self, *, state: str, code_verifier: str) -> str:
        with self._oauth() as client:
            url, _ = client.create_authorization_url(settings.X_AUTHORIZE_URL, state=state, code_verifier=code_verifier)
        return str(url)

    def exchange_code(self, *, code: str, code_verifier: str) -> TokenSet:
        with self._oauth() as client, _http.token_call("X"):
            token = client.fetch_token(
                f"{self.api}/2/oauth2/token",
                grant_type="authorization_code",
                code=code,
                code_verifier=code_verifier,
                client_id=settings.X_CLIENT_ID,
            )
        return _http.token_set(token)

    def refresh(self, *, refresh_token: str) -> TokenSet:
        with self._oauth() as client, _http.token_call("X"):
            token = client.refresh_token(
                f"{self.api}/2/oauth2/token", refresh_token=refresh_token, client_id=settings.X_CLIENT_ID
            )
        return _http.token_set(token)

    def revoke(self, *, token: str) -> None:
        try:
            with self._oauth() as client:
                client.revoke_token(f"{self.api}/2/oauth2/revoke", token=token)
        except Exception:  # best effort: the local connection is deleted either way
            logger.warning("X token revocation failed", exc_info=True)

    # --- profile ---------------------------------------------------------------------
    def fetch_profile(self, *, access_token: str) -> Profile:
        with _http.bearer_client(access_token) as client, _http.transport("X"):
            response = client.get(
                f"{self.api}/2/users/me", params={"user.fields": "verified,verified_type,subscription_type"}
            )
        data = _http.json_body(_http.check(response, network="X"), network="X").get("data")
        if not isinstance(data, dict) or not data.get("id"):
            raise TransientError("X answered /2/users/me without a user.")
        verified_type = str(data.get("verified_type") or "none").lower()
        subscription = str(data.get("subscription_type") or "none").lower()
        verified = bool(data.get("verified")) or verified_type in LONG_POST_VERIFIED_TYPES or subscription != "none"
        return Profile(
            external_user_id=str(data["id"]),
            username=str(data.get("username") or ""),
            name=str(data.get("name") or ""),
            verified=verified,
            char_limit=settings.X_POST_LIMIT_VERIFIED if verified else settings.X_POST_LIMIT_FREE,
        )

    # --- publishing --------------------------------------------------------------------
    def post_url(self, *, profile: Profile, external_id: str) -> str:
        handle = profile.username or "i/web"
        return f"https://x.com/{handle}/status/{external_id}"

    def publish(self, *, access_token: str, profile: Profile, request: PublishRequest) -> PublishedItem:
        with _http.bearer_client(access_token) as client:
            media_ids = [self._upload(client, media) for media in request.media]
            body: dict[str, Any] = {"text": request.text}
            if request.reply_to:
                body["reply"] = {"in_reply_to_tweet_id": request.reply_to}
            if media_ids:
                body["media"] = {"media_ids": media_ids}
            with _http.transport("X", creates=True):
                response = client.post(f"{self.api}/2/tweets", json=body)
            data = _http.json_body(_http.check(response, network="X", creates=True), network="X").get("data")
        if not isinstance(data, dict) or not data.get("id"):
            # Accepted (2xx) but no id: it may exist, so reconcile rather than post again.
            raise OutcomeUnknown("X accepted the post but did not say its id.")
        tweet_id = str(data["id"])
        return PublishedItem(external_id=tweet_id, url=self.post_url(profile=profile, external_id=tweet_id))

    def find_published(
        self, *, access_token: str, profile: Profile, text: str, since: datetime
    ) -> PublishedItem | None:
        wanted = _normalise(text)
        start = (since - timedelta(minutes=2)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with _http.bearer_client(access_token) as client, _http.transport("X"):
            response = client.get(
                f"{self.api}/2/users/{profile.external_user_id}/tweets",
                params={"max_results": 100, "start_time": start, "tweet.fields": "created_at", "exclude": "retweets"},
            )
        tweets = _http.json_body(_http.check(response, network="X"), network="X").get("data") or []
        for tweet in tweets if isinstance(tweets, list) else []:
            if isinstance(tweet, dict) and tweet.get("id") and _normalise(str(tweet.get("text", ""))) == wanted:
                tweet_id = str(tweet["id"])
                return PublishedItem(external_id=tweet_id, url=self.post_url(profile=profile, external_id=tweet_id))
        return None

    # --- media -------------------------------------------------------------------------
    def _upload(self, client: OAuth2Client, media: Media) -> str:
        if media.content_type == "image/gif":
            return self._upload_chunked(client, media, category="tweet_gif")
        with _http.transport("X media upload"):
            response = client.post(
                f"{self.api}/2/media/upload",
                json={
                    "media": base64.b64encode(media.content).decode("ascii"),
                    "media_category": "tweet_image",
                    "media_type": media.content_type,
                },
            )
        return self._media_id(_http.check(response, network="X media upload"))

    def _upload_chunked(self, client: OAuth2Client, media: Media, *, category: str) -> str:
        with _http.transport("X media upload"):
            response = client.post(
                f"{self.api}/2/media/upload/initialize",
                json={"media_type": media.content_type, "total_bytes": len(media.content), "media_category": category},
            )
            media_id = self._media_id(_http.check(response, network="X media upload"))
            for index, offset in enumerate(range(0, len(media.content), CHUNK_BYTES)):
                chunk = media.content[offset : offset + CHUNK_BYTES]
                response = client.post(
                    f"{self.api}/2/media/upload/{media_id}/append",
                    data={"segment_index": str(index)},
                    files={"media": ("chunk", chunk, "application/octet-stream")},
                )
                _http.check(response, network="X media upload")
            response = client.post(f"{self.api}/2/media/upload/{media_id}/finalize")
            data = _http.json_body(_http.check(response, network="X media upload"), network="X").get("data") or {}
            self._wait_for_processing(client, media_id, data.get("processing_info"))
        return media_id

    def _wait_for_processing(self, client: OAuth2Client, media_id: str, info: Any) -> None:
        deadline = time.monotonic() + MAX_PROCESSING_WAIT_SECONDS
        while isinstance(info, dict) and info.get("state") in ("pending", "in_progress"):
            if time.monotonic() > deadline:
                raise TransientError("X is still processing the image.")
            time.sleep(min(max(float(info.get("check_after_secs") or 1), 0.0), 5.0))
            response = client.get(f"{self.api}/2/media/upload", params={"command": "STATUS", "media_id": media_id})
            data = _http.json_body(_http.check(response, network="X media upload"), network="X").get("data") or {}
            info = data.get("processing_info")
        if isinstance(info, dict) and info.get("state") == "failed":
            error = info.get("error") or {}
            raise Rejected(f"X could not process the image: {error.get('message') or 'unknown reason'}.")

    @staticmethod
    def _media_id(response: Any) -> str:
        data = _http.json_body(response, network="X media upload").get("data")
        if not isinstance(data, dict) or not data.get("id"):
            raise TransientError("X media upload answered without a media id.")
        return str(data["id"])


NETWORK = XNetwork()
