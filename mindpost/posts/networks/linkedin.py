"""LinkedIn: OAuth 2.0 (OpenID Connect scopes) and member posts through the Posts API.

- Authorize at LINKEDIN_AUTHORIZE_URL with scopes `openid profile w_member_social`;
  exchange the code at LINKEDIN_TOKEN_URL (client id and secret in the form body).
- GET  /v2/userinfo                               the member id (`sub`) → urn:li:person:<sub>
- POST /rest/images?action=initializeUpload       then PUT the bytes to the returned uploadUrl
- POST /rest/posts                                the id comes back in the x-restli-id header
Every /rest call carries `LinkedIn-Version: YYYYMM` and `X-Restli-Protocol-Version: 2.0.0`.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from authlib.integrations.httpx_client import OAuth2Client
from django.conf import settings
from django.urls import reverse

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

SCOPES = "openid profile w_member_social"
# Characters with a meaning in LinkedIn's "little text" format; unescaped, they cut the post short.
_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")


def escape_commentary(text: str) -> str:
    return _RESERVED.sub(r"\\\1", text)


class LinkedInNetwork(Network):
    slug = "linkedin"
    display_name = "LinkedIn"
    post_types = ("linkedin",)
    default_char_limit = 3000
    max_images = 1
    image_types = frozenset({"image/png", "image/jpeg", "image/gif"})
    supports_threads = False
    uses_pkce = False
    # Reading a member's own posts needs a restricted scope, so a timed-out post can't be looked up.
    can_reconcile = False

    @property
    def api(self) -> str:
        return str(settings.LINKEDIN_API_BASE_URL).rstrip("/")

    def is_configured(self) -> bool:
        return bool(settings.LINKEDIN_CLIENT_ID and settings.LINKEDIN_CLIENT_SECRET)

    def redirect_uri(self) -> str:
        configured = str(settings.LINKEDIN_REDIRECT_URI or "")
        return configured or settings.SITE_URL + reverse("posts_connection_callback", kwargs={"network": self.slug})

    def _oauth(self) -> OAuth2Client:
        if not self.is_configured():
            raise NotConfigured("LinkedIn is not configured on this server (LINKEDIN_CLIENT_ID/SECRET are empty).")
        return OAuth2Client(
            client_id=settings.LINKEDIN_CLIENT_ID,
            client_secret=settings.LINKEDIN_CLIENT_SECRET,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
            scope=SCOPES,
            redirect_uri=self.redirect_uri(),
            timeout=_http.timeout(),
        )

    def _headers(self) -> dict[str, str]:
        return {"LinkedIn-Version": str(settings.LINKEDIN_VERSION), "X-Restli-Protocol-Version": "2.0.0"}

    # --- OAuth -----------------------------------------------------------------------
    def authorize_url(self, *, state: str, code_verifier: str) -> str:
        with self._oauth() as client:
            url, _ = client.create_authorization_url(settings.LINKEDIN_AUTHORIZE_URL, state=state)
        return str(url)

    def exchange_code(self, *, code: str, code_verifier: str) -> TokenSet:
        with self._oauth() as client, _http.token_call("LinkedIn"):
            token = client.fetch_token(settings.LINKEDIN_TOKEN_URL, grant_type="authorization_code", code=code)
        return _http.token_set(token)

    def refresh(self, *, refresh_token: str) -> TokenSet:
        with self._oauth() as client, _http.token_call("LinkedIn"):
            token = client.refresh_token(settings.LINKEDIN_TOKEN_URL, refresh_token=refresh_token)
        return _http.token_set(token)

    def revoke(self, *, token: str) -> None:
        url = str(settings.LINKEDIN_TOKEN_URL).rsplit("/", 1)[0] + "/revoke"
        try:
            with self._oauth() as client:
                client.revoke_token(url, token=token)
        except Exception:  # best effort: the local connection is deleted either way
            logger.warning("LinkedIn token revocation failed", exc_info=True)

    # --- profile ---------------------------------------------------------------------
    def fetch_profile(self, *, access_token: str) -> Profile:
        with _http.bearer_client(access_token) as client, _http.transport("LinkedIn"):
            response = client.get(f"{self.api}/v2/userinfo")
        data = _http.json_body(_http.check(response, network="LinkedIn"), network="LinkedIn")
        if not data.get("sub"):
            raise TransientError("LinkedIn answered /v2/userinfo without a member id.")
        name = str(data.get("name") or " ".join(filter(None, [data.get("given_name"), data.get("family_name")])))
        return Profile(
            external_user_id=str(data["sub"]),
            username=str(data.get("email") or name),
            name=name,
            verified=False,
            char_limit=settings.LINKEDIN_POST_LIMIT,
        )

    # --- publishing --------------------------------------------------------------------
    @staticmethod
    def author_urn(profile: Profile) -> str:
        return f"urn:li:person:{profile.external_user_id}"

    def publish(self, *, access_token: str, profile: Profile, request: PublishRequest) -> PublishedItem:
        if request.reply_to:
            raise Rejected("LinkedIn posts cannot be threads.")
        author = self.author_urn(profile)
        body: dict[str, Any] = {
            "author": author,
            "commentary": escape_commentary(request.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        with _http.bearer_client(access_token) as client:
            if request.media:
                image_urn = self._upload(client, author=author, media=request.media[0])
                body["content"] = {"media": {"id": image_urn}}
            with _http.transport("LinkedIn", creates=True):
                response = client.post(f"{self.api}/rest/posts", json=body, headers=self._headers())
            _http.check(response, network="LinkedIn", creates=True)
        urn = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id") or ""
        if not urn:
            raise OutcomeUnknown("LinkedIn accepted the post but did not say its id.")
        return PublishedItem(external_id=urn, url=f"https://www.linkedin.com/feed/update/{quote(urn, safe=':')}/")

    def find_published(
        self, *, access_token: str, profile: Profile, text: str, since: datetime
    ) -> PublishedItem | None:
        return None  # see can_reconcile

    def _upload(self, client: OAuth2Client, *, author: str, media: Media) -> str:
        with _http.transport("LinkedIn image upload"):
            response = client.post(
                f"{self.api}/rest/images",
                params={"action": "initializeUpload"},
                json={"initializeUploadRequest": {"owner": author}},
                headers=self._headers(),
            )
            value = _http.json_body(_http.check(response, network="LinkedIn"), network="LinkedIn").get("value") or {}
            upload_url, image_urn = value.get("uploadUrl"), value.get("image")
            if not upload_url or not image_urn:
                raise TransientError("LinkedIn did not return an upload URL for the image.")
            response = client.put(str(upload_url), content=media.content, headers={"Content-Type": media.content_type})
            _http.check(response, network="LinkedIn image upload")
        return str(image_urn)


NETWORK = LinkedInNetwork()
