"""A fake X API v2 + OAuth 2.0 server on 127.0.0.1 that checks what it receives.

Speaks the real protocol and enforces it:
- GET  /i/oauth2/authorize     validates response_type, client_id, redirect_uri, scopes, state and an
                               S256 code_challenge; "signs in" `login_as` and redirects back with a code.
- POST /2/oauth2/token         confidential client (HTTP Basic); authorization_code checks the PKCE
                               verifier against the challenge, the redirect_uri and single use;
                               refresh_token rotates: every refresh token works once.
- POST /2/oauth2/revoke
- GET  /2/users/me             Bearer; user.fields verified, verified_type, subscription_type
- POST /2/tweets               Bearer with tweet.write; validates the JSON body (text, weighted
                               length against the account's limit, reply target, media ids, duplicates)
- GET  /2/users/:id/tweets     the timeline, newest first, texts as X renders them (t.co links, &amp;)
- POST /2/media/upload         one-shot JSON upload (media.write); the bytes must match media_type
- POST /2/media/upload/initialize, /:id/append (multipart), /:id/finalize; GET /2/media/upload STATUS
Faults: `fail_next`, `rate_limit_next` (429 + x-rate-limit-reset), `accept_then_hang` (posts, then
answers too late), `revoke_user` (every token of a user answers 401 / invalid_request).
"""

from __future__ import annotations

import base64
import html
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import mindpost.posts.length  # noqa: F401  (imports twitter_text without setuptools)
from tests.fakes.social_base import (
    FakeServer,
    Fault,
    HttpError,
    Recorded,
    Reply,
    basic_credentials,
    bearer,
    form,
    new_token,
    parse_multipart,
    s256,
)


def _weighted_length(text: str) -> int:
    from twitter_text import parse_tweet  # loaded by mindpost.posts.length above

    return int(parse_tweet(text).weightedLength)


def _url_entities(text: str) -> list[dict[str, Any]]:
    from twitter_text.extract_urls import extract_urls_with_indices

    return list(extract_urls_with_indices(text))


REQUIRED_SCOPES = {"tweet.read", "tweet.write", "users.read", "offline.access", "media.write"}
MAGIC = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
    "image/gif": b"GIF8",
    "image/webp": b"RIFF",
}
INVALID_TOKEN = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}


@dataclass
class XUser:
    id: str
    username: str
    name: str
    verified_type: str = "none"
    subscription_type: str = "None"

    @property
    def char_limit(self) -> int:
        return 25_000 if self.verified_type != "none" or self.subscription_type != "None" else 280


@dataclass
class Tweet:
    id: str
    author_id: str
    text: str  # as received
    created_at: datetime
    reply_to: str | None = None
    media_ids: list[str] = field(default_factory=list)
    rendered: str = ""  # as X shows it in timelines


class FakeX(FakeServer):
    def __init__(self, *, client_id: str = "x-client", client_secret: str = "x-secret") -> None:  # noqa: S107
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.users: dict[str, XUser] = {}
        self.login_as = ""
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.tweets: list[Tweet] = []
        self.media: dict[str, dict[str, Any]] = {}
        self.access_lifetime = 7200
        # Seconds the token endpoint takes to answer a refresh: widens race windows in tests.
        self.refresh_delay = 0.0
        self.gif_processing_polls = 1

    # --- test controls --------------------------------------------------------------------
    def add_user(self, username: str = "ada", *, name: str = "Ada", verified_type: str = "none") -> XUser:
        user = XUser(id=self.next_id(), username=username, name=name, verified_type=verified_type)
        self.users[user.id] = user
        self.login_as = self.login_as or user.id
        return user

    def fail_next(self, method: str, path: str, *, status: int = 503, times: int = 1, body: Any = None) -> None:
        body = body or {"title": "Service Unavailable", "detail": "Service Unavailable", "status": status}
        self.add_fault(Fault(method=method, path=path, status=status, body=body, times=times))

    def rate_limit_next(self, method: str, path: str, *, reset_in: int = 900, times: int = 1) -> int:
        reset = int(time.time()) + reset_in
        headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
        body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
        self.add_fault(Fault(method=method, path=path, status=429, headers=headers, body=body, times=times))
        return reset

    def accept_then_hang(self, method: str, path: str, *, delay: float, times: int = 1) -> None:
        self.add_fault(Fault(method=method, path=path, kind="hang_after", delay=delay, times=times))

    def revoke_user(self, user_id: str) -> None:
        """The user revoked the app at X: every token they gave stops working."""
        with self.lock:
            for token in [*self.access_tokens.values(), *self.refresh_tokens.values()]:
                if token["user_id"] == user_id:
                    token["active"] = False

    def approve(self, authorize_url: str) -> str:
        """Play the user approving at X: validate the authorize URL, return the redirect back."""
        query = {k: v[-1] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        return self._authorize(query)

    def tweets_of(self, user_id: str) -> list[Tweet]:
        with self.lock:
            return [tweet for tweet in self.tweets if tweet.author_id == user_id]

    # --- routes -----------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/i/oauth2/authorize", self._authorize_view),
            ("POST", r"/2/oauth2/token", self._token),
            ("POST", r"/2/oauth2/revoke", self._revoke),
            ("GET", r"/2/users/me", self._me),
            ("POST", r"/2/tweets", self._create_tweet),
            ("GET", r"/2/users/(\d+)/tweets", self._timeline),
            ("POST", r"/2/media/upload", self._upload_one_shot),
            ("GET", r"/2/media/upload", self._upload_status),
            ("POST", r"/2/media/upload/initialize", self._upload_init),
            ("POST", r"/2/media/upload/(\d+)/append", self._upload_append),
            ("POST", r"/2/media/upload/(\d+)/finalize", self._upload_finalize),
        ]

    # --- OAuth ------------------------------------------------------------------------------
    def _authorize(self, query: dict[str, str]) -> str:
        problems = []
        if query.get("response_type") != "code":
            problems.append("response_type must be code")
        if query.get("client_id") != self.client_id:
            problems.append("unknown client_id")
        if not query.get("redirect_uri", "").startswith(("http://", "https://")):
            problems.append("redirect_uri missing")
        missing = REQUIRED_SCOPES - set(query.get("scope", "").split())
        if missing:
            problems.append(f"missing scopes {sorted(missing)}")
        if not query.get("state"):
            problems.append("state missing")
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            problems.append("S256 code_challenge required")
        if problems:
            raise HttpError(400, {"error": "invalid_request", "error_description": "; ".join(problems)})
        code = new_token()
        with self.lock:
            self.codes[code] = {
                "challenge": query["code_challenge"],
                "redirect_uri": query["redirect_uri"],
                "scope": query["scope"],
                "user_id": self.login_as,
                "used": False,
            }
        separator = "&" if "?" in query["redirect_uri"] else "?"
        return f"{query['redirect_uri']}{separator}{urlencode({'code': code, 'state': query['state']})}"

    def _authorize_view(self, record: Recorded) -> Reply:
        return Reply(status=302, headers={"Location": self._authorize(record.query)})

    def _check_client(self, record: Recorded, data: dict[str, str]) -> None:
        credentials = basic_credentials(record)
        if credentials != (self.client_id, self.client_secret):
            raise HttpError(401, {"error": "unauthorized_client", "error_description": "Missing valid authorization"})

    def _issue(self, *, user_id: str, scope: str) -> dict[str, Any]:
        access, refresh = new_token(), new_token()
        with self.lock:
            self.access_tokens[access] = {
                "user_id": user_id,
                "scope": set(scope.split()),
                "expires_at": time.time() + self.access_lifetime,
                "active": True,
            }
            self.refresh_tokens[refresh] = {"user_id": user_id, "scope": scope, "active": True}
        body = {"token_type": "bearer", "expires_in": self.access_lifetime, "access_token": access, "scope": scope}
        if "offline.access" in scope.split():
            body["refresh_token"] = refresh
        return body

    def _token(self, record: Recorded) -> Reply:
        data = form(record)
        self._check_client(record, data)
        grant = data.get("grant_type")
        if grant == "authorization_code":
            with self.lock:
                entry = self.codes.get(data.get("code", ""))
                if entry is None or entry["used"]:
                    raise HttpError(400, {"error": "invalid_request", "error_description": "Invalid code."})
                entry["used"] = True
            if data.get("redirect_uri") != entry["redirect_uri"]:
                raise HttpError(400, {"error": "invalid_request", "error_description": "redirect_uri mismatch."})
            verifier = data.get("code_verifier", "")
            if not 43 <= len(verifier) <= 128 or s256(verifier) != entry["challenge"]:
                raise HttpError(400, {"error": "invalid_request", "error_description": "PKCE verification failed."})
            return Reply(body=self._issue(user_id=entry["user_id"], scope=entry["scope"]))
        if grant == "refresh_token":
            if self.refresh_delay:
                time.sleep(self.refresh_delay)
            with self.lock:
                entry = self.refresh_tokens.get(data.get("refresh_token", ""))
                if entry is None or not entry["active"]:
                    raise HttpError(400, INVALID_TOKEN)
                entry["active"] = False  # rotation: this refresh token is spent
            return Reply(body=self._issue(user_id=entry["user_id"], scope=entry["scope"]))
        raise HttpError(400, {"error": "unsupported_grant_type"})

    def _revoke(self, record: Recorded) -> Reply:
        data = form(record)
        self._check_client(record, data)
        with self.lock:
            for table in (self.access_tokens, self.refresh_tokens):
                if data.get("token") in table:
                    table[data["token"]]["active"] = False
        return Reply(body={"revoked": True})

    def _user_for(self, record: Recorded, *scopes: str) -> XUser:
        token = bearer(record)
        with self.lock:
            entry = self.access_tokens.get(token)
        unauthorized = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
        if entry is None or not entry["active"] or entry["expires_at"] < time.time():
            raise HttpError(401, unauthorized)
        if not set(scopes) <= entry["scope"]:
            raise HttpError(403, {"title": "Forbidden", "detail": f"Missing scopes {sorted(set(scopes))}"})
        return self.users[entry["user_id"]]

    # --- users and tweets -----------------------------------------------------------------------
    def _me(self, record: Recorded) -> Reply:
        user = self._user_for(record, "users.read")
        fields = set(record.query.get("user.fields", "").split(","))
        data: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
        if "verified" in fields:
            data["verified"] = user.verified_type != "none"
        if "verified_type" in fields:
            data["verified_type"] = user.verified_type
        if "subscription_type" in fields:
            data["subscription_type"] = user.subscription_type
        return Reply(body={"data": data})

    def _render(self, text: str, media: bool) -> str:
        rendered = text
        for entity in sorted(_url_entities(text), key=lambda e: e["indices"][0], reverse=True):
            start, end = entity["indices"]
            rendered = rendered[:start] + f"https://t.co/{secrets.token_hex(5)}" + rendered[end:]
        rendered = html.escape(rendered, quote=False)
        return rendered + (f" https://t.co/{secrets.token_hex(5)}" if media else "")

    def _create_tweet(self, record: Recorded) -> Reply:
        user = self._user_for(record, "tweet.read", "tweet.write", "users.read")
        if not record.headers.get("content-type", "").startswith("application/json"):
            raise HttpError(400, {"title": "Invalid Request", "detail": "Content-Type must be application/json."})
        body = record.json()
        if not isinstance(body, dict) or set(body) - {"text", "reply", "media"}:
            raise HttpError(400, {"title": "Invalid Request", "detail": f"Unexpected fields in {body!r}."})
        text = body.get("text")
        media_ids = (body.get("media") or {}).get("media_ids") or []
        if not isinstance(text, str) or (not text.strip() and not media_ids):
            raise HttpError(400, {"title": "Invalid Request", "detail": "text is required."})
        weighted = _weighted_length(text)
        if weighted > user.char_limit:
            raise HttpError(400, {"title": "Invalid Request", "detail": f"Text too long ({weighted})."})
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        with self.lock:
            if reply_to is not None and not any(t.id == reply_to for t in self.tweets):
                raise HttpError(400, {"title": "Invalid Request", "detail": "in_reply_to_tweet_id not found."})
            if len(media_ids) > 4:
                raise HttpError(400, {"title": "Invalid Request", "detail": "At most 4 media."})
            for media_id in media_ids:
                entry = self.media.get(str(media_id))
                if entry is None or entry["owner"] != user.id or entry["state"] != "succeeded":
                    raise HttpError(400, {"title": "Invalid Request", "detail": f"Bad media id {media_id}."})
            if any(t.author_id == user.id and t.text == text for t in self.tweets):
                raise HttpError(
                    403,
                    {
                        "title": "Forbidden",
                        "type": "about:blank",
                        "status": 403,
                        "detail": "You are not allowed to create a Tweet with duplicate content.",
                    },
                )
            tweet = Tweet(
                id=self.next_id(),
                author_id=user.id,
                text=text,
                created_at=datetime.now(UTC),
                reply_to=reply_to,
                media_ids=[str(m) for m in media_ids],
                rendered=self._render(text, bool(media_ids)),
            )
            self.tweets.append(tweet)
        return Reply(status=201, body={"data": {"id": tweet.id, "text": text, "edit_history_tweet_ids": [tweet.id]}})

    def _timeline(self, record: Recorded, user_id: str) -> Reply:
        self._user_for(record, "tweet.read", "users.read")
        max_results = int(record.query.get("max_results", "10"))
        if not 5 <= max_results <= 100:
            raise HttpError(400, {"title": "Invalid Request", "detail": "max_results must be 5..100."})
        start = record.query.get("start_time")
        since = datetime.fromisoformat(start.replace("Z", "+00:00")) if start else None
        with self.lock:
            tweets = [t for t in self.tweets if t.author_id == user_id and (since is None or t.created_at >= since)]
        tweets = sorted(tweets, key=lambda t: int(t.id), reverse=True)[:max_results]
        fields = set(record.query.get("tweet.fields", "").split(","))
        data = []
        for tweet in tweets:
            item: dict[str, Any] = {"id": tweet.id, "text": tweet.rendered, "edit_history_tweet_ids": [tweet.id]}
            if "created_at" in fields:
                item["created_at"] = tweet.created_at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            data.append(item)
        if not data:
            return Reply(body={"meta": {"result_count": 0}})
        meta = {"result_count": len(data), "newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        return Reply(body={"data": data, "meta": meta})

    # --- media -------------------------------------------------------------------------------------
    @staticmethod
    def _check_bytes(content: bytes, media_type: str) -> None:
        magic = MAGIC.get(media_type)
        if magic is None or not content.startswith(magic):
            raise HttpError(400, {"title": "Invalid Request", "detail": f"Content is not {media_type}."})
        if len(content) > 5 * 1024 * 1024 and media_type != "image/gif":
            raise HttpError(400, {"title": "Invalid Request", "detail": "Image larger than 5 MB."})

    def _upload_one_shot(self, record: Recorded) -> Reply:
        user = self._user_for(record, "media.write")
        body = record.json()
        if not isinstance(body, dict) or body.get("media_category") != "tweet_image":
            raise HttpError(400, {"title": "Invalid Request", "detail": "media and media_category required."})
        try:
            content = base64.b64decode(body.get("media") or "", validate=True)
        except ValueError as exc:
            raise HttpError(400, {"title": "Invalid Request", "detail": "media is not base64."}) from exc
        media_type = str(body.get("media_type"))
        self._check_bytes(content, media_type)
        media_id = self.next_id()
        with self.lock:
            self.media[media_id] = {"owner": user.id, "type": media_type, "content": content, "state": "succeeded"}
        data = {"id": media_id, "media_key": f"3_{media_id}", "size": len(content), "expires_after_secs": 86400}
        return Reply(body={"data": data})

    def _upload_init(self, record: Recorded) -> Reply:
        user = self._user_for(record, "media.write")
        body = record.json()
        if not isinstance(body, dict) or not body.get("media_type") or not body.get("total_bytes"):
            raise HttpError(400, {"title": "Invalid Request", "detail": "media_type and total_bytes required."})
        media_id = self.next_id()
        with self.lock:
            self.media[media_id] = {
                "owner": user.id,
                "type": body["media_type"],
                "total": int(body["total_bytes"]),
                "segments": {},
                "state": "initialized",
                "polls": self.gif_processing_polls,
            }
        return Reply(body={"data": {"id": media_id, "media_key": f"16_{media_id}", "expires_after_secs": 86400}})

    def _owned_media(self, record: Recorded, media_id: str) -> dict[str, Any]:
        user = self._user_for(record, "media.write")
        entry = self.media.get(media_id)
        if entry is None or entry["owner"] != user.id:
            raise HttpError(400, {"title": "Invalid Request", "detail": "Unknown media id."})
        return entry

    def _upload_append(self, record: Recorded, media_id: str) -> Reply:
        entry = self._owned_media(record, media_id)
        fields = parse_multipart(record.headers.get("content-type", ""), record.body)
        if "media" not in fields or "segment_index" not in fields:
            raise HttpError(400, {"title": "Invalid Request", "detail": "media and segment_index required."})
        entry["segments"][int(fields["segment_index"][0])] = fields["media"][0]
        return Reply(body={"data": {"expires_at": int(time.time()) + 86400}})

    def _upload_finalize(self, record: Recorded, media_id: str) -> Reply:
        entry = self._owned_media(record, media_id)
        content = b"".join(entry["segments"][i] for i in sorted(entry["segments"]))
        if len(content) != entry["total"]:
            raise HttpError(400, {"title": "Invalid Request", "detail": "Size mismatch."})
        self._check_bytes(content, entry["type"])
        entry["content"] = content
        entry["state"] = "pending" if entry["polls"] else "succeeded"
        data: dict[str, Any] = {"id": media_id, "media_key": f"16_{media_id}", "size": len(content)}
        if entry["state"] == "pending":
            data["processing_info"] = {"state": "pending", "check_after_secs": 0}
        return Reply(body={"data": data})

    def _upload_status(self, record: Recorded) -> Reply:
        if record.query.get("command") != "STATUS":
            raise HttpError(400, {"title": "Invalid Request", "detail": "command=STATUS required."})
        entry = self._owned_media(record, record.query.get("media_id", ""))
        entry["polls"] -= 1
        if entry["polls"] <= 0:
            entry["state"] = "succeeded"
        info = {"state": entry["state"], "check_after_secs": 0, "progress_percent": 100}
        return Reply(body={"data": {"id": record.query["media_id"], "processing_info": info}})


def media_ids_in(tweet_body: dict[str, Any]) -> list[str]:
    return [str(m) for m in (tweet_body.get("media") or {}).get("media_ids") or []]
