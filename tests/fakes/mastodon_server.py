"""A fake Mastodon instance on 127.0.0.1 that checks what it receives.

- POST /api/v1/apps                     registers a client (redirect_uris, scopes) → client_id/secret
- GET  /.well-known/oauth-authorization-server   S256 offered when `pkce` (Mastodon 4.3+)
- GET  /oauth/authorize                 validates client, redirect_uri, scopes ⊆ the app's, state and (with
                                        `pkce`) an S256 challenge; "signs in" `login_as`, redirects with a code
- POST /oauth/token                     client_secret, redirect_uri, single-use code, PKCE verifier
- POST /oauth/revoke
- GET  /api/v1/accounts/verify_credentials, GET /api/v2/instance (404 when `v2_instance` is False)
- POST /api/v2/media                    multipart `file` whose bytes match its type; 202 while processing
                                        (`processing_polls` GETs of /api/v1/media/:id answer 206 first)
- POST /api/v1/statuses                 Bearer with write:statuses; length ≤ max_characters counted as
                                        Mastodon does (graphemes via `regex`, URLs 23, mentions local part);
                                        in_reply_to_id must exist; media ids processed, own, unused
- GET  /api/v1/accounts/:id/statuses    newest first, content as HTML
Faults: `rate_limit_next` (429 + ISO X-RateLimit-Reset), `revoke_account`, FakeServer's `add_fault`.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import regex

from tests.fakes.social_base import (
    FakeServer,
    Fault,
    HttpError,
    Recorded,
    Reply,
    bearer,
    form,
    new_token,
    parse_multipart,
    s256,
)

MAGIC = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
    "image/gif": b"GIF8",
    "image/webp": b"RIFF",
}
_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"(@[A-Za-z0-9_]+)@[\w.-]+\.[A-Za-z]{2,}")
INVALID = {"error": "The access token is invalid"}


def mastodon_length(text: str) -> int:
    return len(regex.findall(r"\X", _MENTION.sub(r"\1", _URL.sub("x" * 23, text))))


@dataclass
class App:
    client_id: str
    client_secret: str
    redirect_uri: str
    scopes: set[str]


@dataclass
class Account:
    id: str
    username: str
    display_name: str


@dataclass
class Status:
    id: str
    account_id: str
    text: str
    in_reply_to_id: str | None
    media_ids: list[str]
    created_at: datetime
    url: str


@dataclass
class Grant:
    account_id: str
    client_id: str
    scopes: set[str]
    redirect_uri: str
    challenge: str = ""
    used: bool = False


@dataclass
class MediaItem:
    id: str
    account_id: str
    mime: str
    polls_left: int
    used: bool = False
    url: str | None = None


class FakeMastodon(FakeServer):
    def __init__(
        self, *, max_characters: int = 500, pkce: bool = True, v2_instance: bool = True, processing_polls: int = 0
    ) -> None:
        super().__init__()
        self.max_characters = max_characters
        self.pkce = pkce
        self.v2_instance = v2_instance
        self.processing_polls = processing_polls
        self.login_as = ""
        self.apps: dict[str, App] = {}
        self.accounts: dict[str, Account] = {}
        self.grants: dict[str, Grant] = {}
        self.tokens: dict[str, tuple[str, set[str]]] = {}  # token → (account id, scopes)
        self.media: dict[str, MediaItem] = {}
        self.statuses: list[Status] = []

    # --- setup and faults ---------------------------------------------------------------------
    def add_account(self, username: str, *, display_name: str = "") -> Account:
        account = Account(id=self.next_id(), username=username, display_name=display_name or username.title())
        with self.lock:
            self.accounts[account.id] = account
            self.login_as = self.login_as or account.id
        return account

    def approve(self, authorize_url: str) -> str:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        return self._authorize(query)

    def rate_limit_next(self, method: str, path: str, *, reset_in: int = 300, times: int = 1) -> datetime:
        reset = datetime.now(UTC) + timedelta(seconds=reset_in)
        headers = {"X-RateLimit-Reset": reset.isoformat().replace("+00:00", "Z"), "X-RateLimit-Remaining": "0"}
        body = {"error": "Too many requests"}
        self.add_fault(Fault(method=method, path=path, status=429, body=body, headers=headers, times=times))
        return reset

    def revoke_account(self, account_id: str) -> None:
        with self.lock:
            self.tokens = {t: v for t, v in self.tokens.items() if v[0] != account_id}

    def statuses_of(self, account_id: str) -> list[Status]:
        with self.lock:
            return [s for s in self.statuses if s.account_id == account_id]

    # --- routes -----------------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", r"/api/v1/apps", self._register),
            ("GET", r"/\.well-known/oauth-authorization-server", self._metadata),
            ("GET", r"/oauth/authorize", self._authorize_view),
            ("POST", r"/oauth/token", self._token),
            ("POST", r"/oauth/revoke", self._revoke),
            ("GET", r"/api/v1/accounts/verify_credentials", self._verify),
            ("GET", r"/api/v2/instance", self._instance),
            ("POST", r"/api/v2/media", self._upload),
            ("GET", r"/api/v1/media/(\d+)", self._media_status),
            ("POST", r"/api/v1/statuses", self._create_status),
            ("GET", r"/api/v1/accounts/(\d+)/statuses", self._timeline),
        ]

    @staticmethod
    def _data(record: Recorded) -> dict[str, Any]:
        if record.headers.get("content-type", "").startswith("application/json"):
            return dict(record.json() or {})
        return form(record)

    def _register(self, record: Recorded) -> Reply:
        data = self._data(record)
        if not data.get("client_name") or not data.get("redirect_uris"):
            raise HttpError(422, {"error": "Validation failed: Name can't be blank, Redirect URI can't be blank"})
        app = App(
            client_id=new_token(),
            client_secret=new_token(),
            redirect_uri=str(data["redirect_uris"]),
            scopes=set(str(data.get("scopes") or "read").split()),
        )
        with self.lock:
            self.apps[app.client_id] = app
        body = {"id": self.next_id(), "name": data["client_name"], "redirect_uri": app.redirect_uri}
        return Reply(body={**body, "client_id": app.client_id, "client_secret": app.client_secret})

    def _metadata(self, record: Recorded) -> Reply:
        if not self.pkce:
            raise HttpError(404, {"error": "Record not found"})
        return Reply(body={"issuer": self.base_url, "code_challenge_methods_supported": ["S256"]})

    def _authorize(self, query: dict[str, str]) -> str:
        app = self.apps.get(query.get("client_id", ""))
        problems = []
        if query.get("response_type") != "code":
            problems.append("response_type must be code")
        if app is None:
            raise HttpError(401, {"error": "invalid_client"})
        if query.get("redirect_uri") != app.redirect_uri:
            problems.append("redirect_uri does not match the app")
        scopes = set(query.get("scope", "").split())
        if not scopes or not scopes <= app.scopes:
            problems.append(f"scope {scopes} is not within the app's {app.scopes}")
        if not query.get("state"):
            problems.append("state is required")
        if self.pkce and (query.get("code_challenge_method") != "S256" or len(query.get("code_challenge", "")) != 43):
            problems.append("an S256 code_challenge is required")
        if problems:
            raise HttpError(400, {"error": "invalid_request", "error_description": "; ".join(problems)})
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.grants[code] = Grant(
                account_id=self.login_as,
                client_id=app.client_id,
                scopes=scopes,
                redirect_uri=app.redirect_uri,
                challenge=query.get("code_challenge", ""),
            )
        return f"{app.redirect_uri}?{urlencode({'code': code, 'state': query['state']})}"

    def _authorize_view(self, record: Recorded) -> Reply:
        return Reply(status=302, headers={"Location": self._authorize(record.query)})

    def _token(self, record: Recorded) -> Reply:
        data = form(record)
        app = self.apps.get(data.get("client_id", ""))
        if app is None or data.get("client_secret") != app.client_secret:
            raise HttpError(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        with self.lock:
            grant = self.grants.get(data.get("code", ""))
            if data.get("grant_type") != "authorization_code" or grant is None or grant.used:
                raise HttpError(400, {"error": "invalid_grant", "error_description": "The grant is invalid"})
            grant.used = True
            if grant.client_id != app.client_id or data.get("redirect_uri") != grant.redirect_uri:
                raise HttpError(400, {"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
            if grant.challenge and s256(data.get("code_verifier", "")) != grant.challenge:
                raise HttpError(400, {"error": "invalid_grant", "error_description": "PKCE verification failed"})
            token = new_token()
            self.tokens[token] = (grant.account_id, grant.scopes)
        body = {"access_token": token, "token_type": "Bearer", "scope": " ".join(sorted(grant.scopes))}
        return Reply(body={**body, "created_at": int(time.time())})

    def _revoke(self, record: Recorded) -> Reply:
        data = form(record)
        app = self.apps.get(data.get("client_id", ""))
        if app is None or data.get("client_secret") != app.client_secret:
            raise HttpError(403, {"error": "unauthorized_client"})
        with self.lock:
            self.tokens.pop(data.get("token", ""), None)
        return Reply(body={})

    def _account_for(self, record: Recorded, scope: str) -> Account:
        token = bearer(record)
        with self.lock:
            entry = self.tokens.get(token)
        if entry is None:
            raise HttpError(401, INVALID)
        account_id, scopes = entry
        if scope not in scopes and scope.split(":")[0] not in scopes:
            raise HttpError(403, {"error": f"This action is outside the authorized scopes ({scope})"})
        return self.accounts[account_id]

    def _verify(self, record: Recorded) -> Reply:
        account = self._account_for(record, "read:accounts")
        body = {"id": account.id, "username": account.username, "acct": account.username}
        return Reply(body={**body, "display_name": account.display_name})

    def _instance(self, record: Recorded) -> Reply:
        if not self.v2_instance:
            raise HttpError(404, {"error": "Record not found"})
        statuses = {"max_characters": self.max_characters, "max_media_attachments": 4}
        statuses["characters_reserved_per_url"] = 23
        return Reply(body={"domain": "127.0.0.1", "configuration": {"statuses": statuses}})

    def _upload(self, record: Recorded) -> Reply:
        account = self._account_for(record, "write:media")
        fields = parse_multipart(record.headers.get("content-type", ""), record.body)
        if "file" not in fields:
            raise HttpError(422, {"error": "Validation failed: File can't be blank"})
        content, _ = fields["file"]
        mime = next((m for m, magic in MAGIC.items() if content.startswith(magic)), None)
        if mime is None:
            raise HttpError(422, {"error": "Validation failed: File has contents that are not what they claim"})
        item = MediaItem(id=self.next_id(), account_id=account.id, mime=mime, polls_left=self.processing_polls)
        if not item.polls_left:
            item.url = f"{self.base_url}/media/{item.id}"
        with self.lock:
            self.media[item.id] = item
        body = {"id": item.id, "type": "image", "url": item.url}
        return Reply(status=200 if item.url else 202, body=body)

    def _media_status(self, record: Recorded, media_id: str) -> Reply:
        account = self._account_for(record, "write:media")
        with self.lock:
            item = self.media.get(media_id)
            if item is None or item.account_id != account.id:
                raise HttpError(404, {"error": "Record not found"})
            if item.polls_left > 0:
                item.polls_left -= 1
                if item.polls_left == 0:
                    item.url = f"{self.base_url}/media/{item.id}"
                return Reply(status=206, body={"id": item.id, "type": "image", "url": None})
        return Reply(body={"id": item.id, "type": "image", "url": item.url})

    def _create_status(self, record: Recorded) -> Reply:
        account = self._account_for(record, "write:statuses")
        data = self._data(record)
        text = str(data.get("status") or "")
        media_ids = [str(m) for m in data.get("media_ids") or []]
        if not text.strip() and not media_ids:
            raise HttpError(422, {"error": "Validation failed: Text can't be blank"})
        if mastodon_length(text) > self.max_characters:
            limit = self.max_characters
            raise HttpError(422, {"error": f"Validation failed: Text character limit of {limit} exceeded"})
        reply_to = str(data["in_reply_to_id"]) if data.get("in_reply_to_id") else None
        with self.lock:
            if reply_to and not any(s.id == reply_to for s in self.statuses):
                raise HttpError(404, {"error": "Record not found"})
            if len(media_ids) > 4:
                raise HttpError(422, {"error": "Validation failed: too many attachments"})
            for media_id in media_ids:
                item = self.media.get(media_id)
                if item is None or item.account_id != account.id or item.used or item.url is None:
                    raise HttpError(422, {"error": f"Validation failed: media {media_id} is not usable"})
            for media_id in media_ids:
                self.media[media_id].used = True
            status_id = self.next_id()
            status = Status(
                id=status_id,
                account_id=account.id,
                text=text,
                in_reply_to_id=reply_to,
                media_ids=media_ids,
                created_at=datetime.now(UTC),
                url=f"{self.base_url}/@{account.username}/{status_id}",
            )
            self.statuses.append(status)
        return Reply(body=self._render(status))

    @staticmethod
    def _render(status: Status) -> dict[str, Any]:
        paragraphs = "".join(f"<p>{html.escape(p).replace(chr(10), '<br />')}</p>" for p in status.text.split("\n\n"))
        return {
            "id": status.id,
            "url": status.url,
            "content": paragraphs,
            "created_at": status.created_at.isoformat().replace("+00:00", "Z"),
            "in_reply_to_id": status.in_reply_to_id,
            "media_attachments": [{"id": m} for m in status.media_ids],
        }

    def _timeline(self, record: Recorded, account_id: str) -> Reply:
        self._account_for(record, "read:statuses")
        limit = int(record.query.get("limit", "20"))
        return Reply(body=[self._render(s) for s in self.statuses_of(account_id)[::-1][:limit]])
