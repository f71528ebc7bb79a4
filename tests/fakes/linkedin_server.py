"""A fake LinkedIn (OAuth 2.0 + OpenID userinfo + Posts/Images API) on 127.0.0.1.

Checks what it receives:
- GET  /oauth/v2/authorization   response_type=code, client_id, redirect_uri, scopes
                                 `openid profile w_member_social`, state; redirects back with a code.
- POST /oauth/v2/accessToken     client_id/client_secret in the form body, single-use code, same
                                 redirect_uri; refresh_token grant (if enabled) rotates.
- POST /oauth/v2/revoke
- GET  /v2/userinfo              Bearer; the member's `sub`
- POST /rest/images?action=initializeUpload, then PUT the bytes to the returned uploadUrl
- POST /rest/posts               the Posts API body (author = the token's member, commentary,
                                 visibility, distribution, lifecycleState, optional content.media.id
                                 of an uploaded image); answers 201 with the x-restli-id header.
Every /rest call must carry `LinkedIn-Version: YYYYMM` and `X-Restli-Protocol-Version: 2.0.0`.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes.social_base import FakeServer, Fault, HttpError, Recorded, Reply, bearer, form, new_token

REQUIRED_SCOPES = {"openid", "profile", "w_member_social"}
UNAUTHORIZED = {"status": 401, "serviceErrorCode": 65600, "code": "INVALID_ACCESS_TOKEN", "message": "Invalid token"}


class FakeLinkedIn(FakeServer):
    def __init__(self, *, client_id: str = "li-client", client_secret: str = "li-secret") -> None:  # noqa: S107
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.members: dict[str, dict[str, str]] = {}
        self.login_as = ""
        self.codes: dict[str, dict[str, Any]] = {}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.issue_refresh_tokens = False
        self.images: dict[str, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []

    def add_member(self, name: str = "Ada Lovelace") -> str:
        sub = f"m{self.next_id()[-9:]}"
        given, _, family = name.partition(" ")
        self.members[sub] = {"sub": sub, "name": name, "given_name": given, "family_name": family}
        self.login_as = self.login_as or sub
        return sub

    def approve(self, authorize_url: str) -> str:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        return self._authorize(query)

    def fail_next(self, method: str, path: str, *, status: int = 500, times: int = 1) -> None:
        body = {"status": status, "message": "Internal Server Error"}
        self.add_fault(Fault(method=method, path=path, status=status, body=body, times=times))

    def rate_limit_next(self, method: str, path: str, *, retry_after: int = 60) -> None:
        body = {"status": 429, "message": "Resource level throttle limit reached"}
        self.add_fault(
            Fault(method=method, path=path, status=429, headers={"Retry-After": str(retry_after)}, body=body)
        )

    def revoke_member(self, sub: str) -> None:
        with self.lock:
            for entry in [*self.access_tokens.values(), *self.refresh_tokens.values()]:
                if entry["sub"] == sub:
                    entry["active"] = False

    def routes(self) -> list[tuple[str, str, Any]]:
        return [
            ("GET", r"/oauth/v2/authorization", self._authorize_view),
            ("POST", r"/oauth/v2/accessToken", self._token),
            ("POST", r"/oauth/v2/revoke", self._revoke),
            ("GET", r"/v2/userinfo", self._userinfo),
            ("POST", r"/rest/images", self._init_upload),
            ("PUT", r"/dms-uploads/(\w+)", self._upload),
            ("POST", r"/rest/posts", self._create_post),
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
        if REQUIRED_SCOPES - set(query.get("scope", "").split()):
            problems.append("scopes must include openid profile w_member_social")
        if not query.get("state"):
            problems.append("state missing")
        if problems:
            raise HttpError(400, {"error": "invalid_request", "error_description": "; ".join(problems)})
        code = new_token()
        with self.lock:
            self.codes[code] = {"redirect_uri": query["redirect_uri"], "sub": self.login_as, "used": False}
        return f"{query['redirect_uri']}?{urlencode({'code': code, 'state': query['state']})}"

    def _authorize_view(self, record: Recorded) -> Reply:
        return Reply(status=302, headers={"Location": self._authorize(record.query)})

    def _issue(self, sub: str) -> dict[str, Any]:
        access = new_token()
        with self.lock:
            self.access_tokens[access] = {"sub": sub, "active": True, "expires_at": time.time() + 5_184_000}
        body: dict[str, Any] = {
            "access_token": access,
            "expires_in": 5_184_000,
            "scope": "email,openid,profile,w_member_social",
            "token_type": "Bearer",
            "id_token": "header.payload.signature",
        }
        if self.issue_refresh_tokens:
            refresh = new_token()
            with self.lock:
                self.refresh_tokens[refresh] = {"sub": sub, "active": True}
            body.update(refresh_token=refresh, refresh_token_expires_in=31_536_000)
        return body

    def _token(self, record: Recorded) -> Reply:
        data = form(record)
        if data.get("client_id") != self.client_id or data.get("client_secret") != self.client_secret:
            raise HttpError(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        if data.get("grant_type") == "authorization_code":
            with self.lock:
                entry = self.codes.get(data.get("code", ""))
                if entry is None or entry["used"]:
                    raise HttpError(400, {"error": "invalid_request", "error_description": "Invalid code"})
                entry["used"] = True
            if data.get("redirect_uri") != entry["redirect_uri"]:
                raise HttpError(400, {"error": "invalid_redirect_uri", "error_description": "redirect_uri mismatch"})
            return Reply(body=self._issue(entry["sub"]))
        if data.get("grant_type") == "refresh_token":
            with self.lock:
                entry = self.refresh_tokens.get(data.get("refresh_token", ""))
                if entry is None or not entry["active"]:
                    raise HttpError(400, {"error": "invalid_request", "error_description": "Invalid refresh token"})
                entry["active"] = False
            return Reply(body=self._issue(entry["sub"]))
        raise HttpError(400, {"error": "unsupported_grant_type"})

    def _revoke(self, record: Recorded) -> Reply:
        data = form(record)
        with self.lock:
            for table in (self.access_tokens, self.refresh_tokens):
                if data.get("token") in table:
                    table[data["token"]]["active"] = False
        return Reply(body={})

    def _member(self, record: Recorded) -> dict[str, str]:
        with self.lock:
            entry = self.access_tokens.get(bearer(record))
        if entry is None or not entry["active"] or entry["expires_at"] < time.time():
            raise HttpError(401, UNAUTHORIZED)
        return self.members[entry["sub"]]

    def _userinfo(self, record: Recorded) -> Reply:
        member = self._member(record)
        return Reply(body={**member, "locale": {"country": "US", "language": "en"}, "email_verified": True})

    # --- Posts and Images API ------------------------------------------------------------------
    @staticmethod
    def _rest_headers(record: Recorded) -> None:
        if not re.fullmatch(r"20\d{4}", record.headers.get("linkedin-version", "")):
            raise HttpError(400, {"status": 400, "code": "VERSION_MISSING", "message": "A version must be present"})
        if record.headers.get("x-restli-protocol-version") != "2.0.0":
            raise HttpError(400, {"status": 400, "message": "X-Restli-Protocol-Version 2.0.0 required"})

    def _init_upload(self, record: Recorded) -> Reply:
        member = self._member(record)
        self._rest_headers(record)
        if record.query.get("action") != "initializeUpload":
            raise HttpError(400, {"status": 400, "message": "action=initializeUpload required"})
        owner = (record.json() or {}).get("initializeUploadRequest", {}).get("owner")
        if owner != f"urn:li:person:{member['sub']}":
            raise HttpError(403, {"status": 403, "message": "Owner must be the authenticated member"})
        image_id = f"D{self.next_id()[-12:]}"
        with self.lock:
            self.images[image_id] = {"owner": owner, "content": None}
        value = {
            "uploadUrlExpiresAt": int(time.time() * 1000) + 3_600_000,
            "uploadUrl": f"{self.base_url}/dms-uploads/{image_id}",
            "image": f"urn:li:image:{image_id}",
        }
        return Reply(body={"value": value})

    def _upload(self, record: Recorded, image_id: str) -> Reply:
        member = self._member(record)
        entry = self.images.get(image_id)
        if entry is None or entry["owner"] != f"urn:li:person:{member['sub']}":
            raise HttpError(404, {"status": 404, "message": "Unknown upload"})
        if not record.body:
            raise HttpError(400, {"status": 400, "message": "Empty upload"})
        entry["content"] = record.body
        return Reply(status=201)

    def _create_post(self, record: Recorded) -> Reply:
        member = self._member(record)
        self._rest_headers(record)
        body = record.json()
        author = f"urn:li:person:{member['sub']}"
        problems = []
        if not isinstance(body, dict):
            raise HttpError(400, {"status": 400, "message": "JSON object expected"})
        if body.get("author") != author:
            problems.append("author must be the authenticated member")
        if not isinstance(body.get("commentary"), str) or len(body["commentary"]) > 3000:
            problems.append("commentary must be a string of at most 3000 characters")
        if body.get("visibility") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN"):
            problems.append("visibility")
        if (body.get("distribution") or {}).get("feedDistribution") not in ("MAIN_FEED", "NONE"):
            problems.append("distribution.feedDistribution")
        if body.get("lifecycleState") != "PUBLISHED":
            problems.append("lifecycleState")
        media_id = ((body.get("content") or {}).get("media") or {}).get("id")
        if media_id is not None:
            image = self.images.get(str(media_id).removeprefix("urn:li:image:"))
            if image is None or image["owner"] != author or image["content"] is None:
                problems.append("content.media.id must be an uploaded image of the author")
        if problems:
            raise HttpError(422, {"status": 422, "message": "; ".join(problems)})
        urn = f"urn:li:share:{self.next_id()}"
        with self.lock:
            self.posts.append({**body, "id": urn})
        return Reply(status=201, headers={"x-restli-id": urn})
