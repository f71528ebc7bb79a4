"""Bluesky (AT Protocol): a session from a handle + app password, posts as app.bsky.feed.post records.

Endpoints used (XRPC, relative to the connection's service URL, default BLUESKY_SERVICE_URL):
- POST com.atproto.server.createSession    {identifier, password} → accessJwt, refreshJwt, did, handle
- POST com.atproto.server.refreshSession   Bearer refreshJwt (rotates: each refresh JWT works once)
- POST com.atproto.server.deleteSession    Bearer refreshJwt (disconnect, best effort)
- GET  com.atproto.server.getSession
- GET  com.atproto.identity.resolveHandle  mention facets need the DID
- POST com.atproto.repo.uploadBlob         raw image bytes → blob ref
- GET  com.atproto.repo.getRecord          the parent's cid and thread root, for reply refs
- POST com.atproto.repo.createRecord       the post
- GET  com.atproto.repo.listRecords        did a post that timed out go out after all?

Rich text is not markup: links, mentions and hashtags are "facets" over UTF-8 byte ranges of the
text. The limit is 300 graphemes (length.grapheme_length); links count in full.
Why not the `atproto` SDK: docs/decisions/0006-bluesky-mastodon-clients.md.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx2
from django.conf import settings
from PIL import Image

from mindpost.core.errors import Invalid
from mindpost.posts import length
from mindpost.posts.networks import _http
from mindpost.posts.networks.base import (
    AuthRevoked,
    Media,
    Network,
    OutcomeUnknown,
    Profile,
    PublishedItem,
    PublishRequest,
    RateLimited,
    Rejected,
    TokenSet,
    TransientError,
)

logger = logging.getLogger(__name__)

NAME = "Bluesky"
POST_COLLECTION = "app.bsky.feed.post"
# app.bsky.embed.images: blobs up to 1,000,000 bytes; the app scales pictures to 2000 px.
MAX_IMAGE_BYTES = 1_000_000
MAX_IMAGE_SIDE = 2000
MAX_TAG_GRAPHEMES = 64
BYTES_PER_GRAPHEME = 10  # 3000 bytes / 300 graphemes
# XRPC errors that mean the session is gone (expired or revoked refresh JWT, deleted app password).
_SESSION_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AccountTakedown"}
# Handles as Bluesky's own detector finds them: after start/space/paren, a dotted domain name.
_MENTION = re.compile(r"(?:^|(?<=[\s(]))@((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63})\b")
_HASHTAG = re.compile(r"(?:^|(?<=\s))[#\uff03]([^\s#\uff03\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2]+)")


def _jwt_seconds_left(token: str) -> int | None:
    """Seconds until the JWT's `exp` (read, not verified: only the server can verify it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return max(int(claims["exp"]) - int(datetime.now(UTC).timestamp()), 0)
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def _byte_range(text: str, start: int, end: int) -> dict[str, int]:
    """Code point offsets → UTF-8 byte offsets, which is what facets index."""
    return {"byteStart": len(text[:start].encode()), "byteEnd": len(text[:end].encode())}


def _strip_trailing_punctuation(tag: str) -> str:
    while tag and unicodedata.category(tag[-1]).startswith("P"):
        tag = tag[:-1]
    return tag


def link_facets(text: str) -> list[dict[str, Any]]:
    from twitter_text.extract_urls import extract_urls_with_indices  # loaded by mindpost.posts.length

    facets = []
    for entity in extract_urls_with_indices(text):
        start, end = entity["indices"]
        url = str(entity["url"])
        uri = url if re.match(r"^https?://", url, re.IGNORECASE) else f"https://{url}"
        facets.append(
            {
                "index": _byte_range(text, start, end),
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
            }
        )
    return facets


def tag_facets(text: str) -> list[dict[str, Any]]:
    facets = []
    for match in _HASHTAG.finditer(text):
        tag = _strip_trailing_punctuation(match.group(1))
        if not tag or tag.isdigit() or length.grapheme_length(tag) > MAX_TAG_GRAPHEMES:
            continue
        start = match.start()
        end = match.start(1) + len(tag)
        facets.append(
            {"index": _byte_range(text, start, end), "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}]}
        )
    return facets


def mention_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, handle) of every @handle, in code points; the handle still needs its DID."""
    return [(match.start(), match.end(), match.group(1).lower()) for match in _MENTION.finditer(text)]


class BlueskyNetwork(Network):
    slug = "bluesky"
    display_name = NAME
    post_types = ("bluesky", "bsky")
    default_char_limit = 300
    max_images = 4
    image_types = frozenset({"image/png", "image/jpeg", "image/webp"})
    supports_threads = True
    uses_pkce = False
    can_reconcile = True
    connect_kind = "form"
    length_rule = "graphemes: an emoji counts 1, links count in full"

    def __init__(self, base_url: str = "") -> None:
        self._base_url = base_url.rstrip("/")

    def _server(self) -> str:
        return self._base_url or str(settings.BLUESKY_SERVICE_URL).rstrip("/")

    @property
    def api(self) -> str:
        return self._server()

    def _for(self, profile: Profile) -> BlueskyNetwork:
        """Publishing gets the shared instance: talk to the server the account lives on."""
        if profile.base_url and profile.base_url.rstrip("/") != self._server():
            return BlueskyNetwork(profile.base_url)
        return self

    def at(self, base_url: str) -> Network:
        return BlueskyNetwork(base_url) if base_url else self

    def is_configured(self) -> bool:
        return True  # nothing for the operator to set up

    def text_length(self, text: str) -> int:
        # 300 graphemes, and at most 3000 UTF-8 bytes (app.bsky.feed.post): one count covers both,
        # so a long run of ZWJ emoji (25 bytes each) is too long although only ~120 graphemes.
        return max(length.grapheme_length(text), -(-len(text.encode()) // BYTES_PER_GRAPHEME))

    def image_problem(self, *, content_type: str, size: int, width: int, height: int) -> str | None:
        if size > MAX_IMAGE_BYTES:
            return f"Bluesky takes images up to 1 MB; this one is {size / 1_000_000:.1f} MB."
        if max(width, height) > MAX_IMAGE_SIDE:
            side = MAX_IMAGE_SIDE
            return f"Bluesky takes images up to {side} x {side} pixels; this one is {width} x {height}."
        return None

    def _xrpc(self, method: str) -> str:
        return f"{self.api}/xrpc/{method}"

    @staticmethod
    def _client(token: str | None = None) -> httpx2.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx2.Client(timeout=_http.timeout(), headers=headers)

    @staticmethod
    def _check(response: httpx2.Response, *, creates: bool = False) -> dict[str, Any]:
        status = response.status_code
        if status == 429:
            raise RateLimited(
                f"Bluesky rate limit reached: {_http.error_message(response)}",
                reset_at=_http.rate_limit_reset(response, header="ratelimit-reset"),
            )
        if status in (400, 401):
            try:
                error = str(response.json().get("error") or "")
            except (ValueError, AttributeError):
                error = ""
            if status == 401 or error in _SESSION_ERRORS:
                raise AuthRevoked(
                    f"Bluesky no longer accepts this session: {_http.error_message(response)}", status=status
                )
        return _http.json_body(_http.check(response, network=NAME, creates=creates), network=NAME)

    # --- sessions ------------------------------------------------------------------------
    def _session(self, body: dict[str, Any]) -> tuple[TokenSet, Profile]:
        access, refresh, did = body.get("accessJwt"), body.get("refreshJwt"), body.get("did")
        if not (isinstance(access, str) and isinstance(refresh, str) and isinstance(did, str)):
            raise TransientError("Bluesky answered without a session.")
        # No expires_in in the answer: the JWTs carry their own expiry (about 2 hours / 60 days).
        tokens = TokenSet(
            access_token=access,
            refresh_token=refresh,
            expires_in=_jwt_seconds_left(access) or 3600,
            refresh_expires_in=_jwt_seconds_left(refresh),
            scope="",
        )
        handle = str(body.get("handle") or did)
        profile = Profile(
            external_user_id=did,
            username=handle,
            name=handle,
            verified=False,
            char_limit=self.default_char_limit,
            base_url=self.api,
        )
        return tokens, profile

    def create_session(self, *, identifier: str, password: str) -> tuple[TokenSet, Profile]:
        with self._client() as client, _http.transport(NAME):
            response = client.post(
                self._xrpc("com.atproto.server.createSession"), json={"identifier": identifier, "password": password}
            )
        return self._session(self._check(response))

    def refresh(self, *, refresh_token: str) -> TokenSet:
        with self._client(refresh_token) as client, _http.transport(NAME):
            response = client.post(self._xrpc("com.atproto.server.refreshSession"))
        tokens, _ = self._session(self._check(response))
        return tokens

    def revoke(self, *, token: str) -> None:
        try:
            with self._client(token) as client:
                client.post(self._xrpc("com.atproto.server.deleteSession"))
        except Exception:  # best effort: the local connection is deleted either way
            logger.warning("Bluesky session deletion failed", exc_info=True)

    def authorize_url(self, *, state: str, code_verifier: str) -> str:
        raise Invalid(
            "Bluesky connects with your handle and an app password, not a redirect.",
            code="connect_with_form",
            extra={"network": self.slug},
        )

    def fetch_profile(self, *, access_token: str) -> Profile:
        with self._client(access_token) as client, _http.transport(NAME):
            response = client.get(self._xrpc("com.atproto.server.getSession"))
        body = self._check(response)
        handle = str(body.get("handle") or body.get("did") or "")
        return Profile(
            external_user_id=str(body.get("did") or ""),
            username=handle,
            name=handle,
            verified=False,
            char_limit=self.default_char_limit,
            base_url=self.api,
        )

    # --- publishing ----------------------------------------------------------------------
    def facets(self, client: httpx2.Client, text: str) -> list[dict[str, Any]]:
        found = link_facets(text) + tag_facets(text)
        taken = [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in found]
        for start, end, handle in mention_spans(text):
            span = _byte_range(text, start, end)
            if any(a < span["byteEnd"] and span["byteStart"] < b for a, b in taken):
                continue  # inside a link (an e-mail address, a URL with @)
            did = self._resolve(client, handle)
            if did:  # an unknown handle stays plain text, as in the Bluesky app
                found.append({"index": span, "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}]})
        return sorted(found, key=lambda facet: facet["index"]["byteStart"])

    def _resolve(self, client: httpx2.Client, handle: str) -> str | None:
        with _http.transport(NAME):
            response = client.get(self._xrpc("com.atproto.identity.resolveHandle"), params={"handle": handle})
        if response.status_code == 400:
            return None
        did = self._check(response).get("did")
        return str(did) if did else None

    @staticmethod
    def _split_uri(uri: str) -> tuple[str, str, str]:
        parts = uri.removeprefix("at://").split("/")
        if len(parts) != 3:
            raise TransientError(f"Not a record URI: {uri!r}.")
        return parts[0], parts[1], parts[2]

    def _reply_refs(self, client: httpx2.Client, parent_uri: str) -> dict[str, Any]:
        """root + parent strong refs: the parent's own reply root, or the parent if it starts the thread."""
        repo, collection, rkey = self._split_uri(parent_uri)
        with _http.transport(NAME):
            response = client.get(
                self._xrpc("com.atproto.repo.getRecord"), params={"repo": repo, "collection": collection, "rkey": rkey}
            )
        body = self._check(response)
        parent = {"uri": str(body.get("uri") or parent_uri), "cid": str(body.get("cid") or "")}
        if not parent["cid"]:
            raise TransientError("Bluesky answered getRecord without a cid.")
        value = body.get("value") if isinstance(body.get("value"), dict) else {}
        reply = value.get("reply") if isinstance(value, dict) else None
        root = reply.get("root") if isinstance(reply, dict) else None
        if not (isinstance(root, dict) and root.get("uri") and root.get("cid")):
            root = parent
        return {"root": {"uri": root["uri"], "cid": root["cid"]}, "parent": parent}

    def _upload(self, client: httpx2.Client, media: Media) -> dict[str, Any]:
        with Image.open(io.BytesIO(media.content)) as image:
            width, height = image.size
        problem = self.image_problem(
            content_type=media.content_type, size=len(media.content), width=width, height=height
        )
        if problem:
            raise Rejected(problem)
        with _http.transport(f"{NAME} image upload"):
            response = client.post(
                self._xrpc("com.atproto.repo.uploadBlob"),
                content=media.content,
                headers={"Content-Type": media.content_type},
            )
        blob = self._check(response).get("blob")
        if not isinstance(blob, dict):
            raise TransientError("Bluesky answered uploadBlob without a blob.")
        return {"alt": "", "image": blob, "aspectRatio": {"width": width, "height": height}}

    @staticmethod
    def post_url(*, profile: Profile, uri: str) -> str:
        rkey = uri.rsplit("/", 1)[-1]
        return f"https://bsky.app/profile/{quote(profile.username or profile.external_user_id)}/post/{rkey}"

    def publish(self, *, access_token: str, profile: Profile, request: PublishRequest) -> PublishedItem:
        bound = self._for(profile)
        if bound is not self:
            return bound.publish(access_token=access_token, profile=profile, request=request)
        with self._client(access_token) as client:
            record: dict[str, Any] = {
                "$type": POST_COLLECTION,
                "text": request.text,
                "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            }
            facets = self.facets(client, request.text)
            if facets:
                record["facets"] = facets
            if request.reply_to:
                record["reply"] = self._reply_refs(client, request.reply_to)
            if request.media:
                images = [self._upload(client, media) for media in request.media]
                record["embed"] = {"$type": "app.bsky.embed.images", "images": images}
            with _http.transport(NAME, creates=True):
                response = client.post(
                    self._xrpc("com.atproto.repo.createRecord"),
                    json={"repo": profile.external_user_id, "collection": POST_COLLECTION, "record": record},
                )
            body = self._check(response, creates=True)
        uri = body.get("uri")
        if not isinstance(uri, str) or not uri:
            raise OutcomeUnknown("Bluesky accepted the post but did not say its URI.")
        return PublishedItem(external_id=uri, url=self.post_url(profile=profile, uri=uri))

    def find_published(
        self, *, access_token: str, profile: Profile, text: str, since: datetime
    ) -> PublishedItem | None:
        bound = self._for(profile)
        if bound is not self:
            return bound.find_published(access_token=access_token, profile=profile, text=text, since=since)
        wanted = " ".join(unicodedata.normalize("NFC", text).split())
        earliest = since - timedelta(minutes=2)
        with self._client(access_token) as client, _http.transport(NAME):
            response = client.get(
                self._xrpc("com.atproto.repo.listRecords"),
                params={"repo": profile.external_user_id, "collection": POST_COLLECTION, "limit": 50},
            )
        records = self._check(response).get("records") or []
        for item in records if isinstance(records, list) else []:
            value = item.get("value") if isinstance(item, dict) else None
            if not isinstance(value, dict) or not item.get("uri"):
                continue
            try:
                created = datetime.fromisoformat(str(value.get("createdAt", "")).replace("Z", "+00:00"))
            except ValueError:
                continue
            same = " ".join(unicodedata.normalize("NFC", str(value.get("text", ""))).split()) == wanted
            if same and created >= earliest:
                return PublishedItem(external_id=str(item["uri"]), url=self.post_url(profile=profile, uri=item["uri"]))
        return None


NETWORK = BlueskyNetwork()
