"""A fake Bluesky PDS (AT Protocol XRPC) on 127.0.0.1 that checks what it receives.

- POST com.atproto.server.createSession   handle or e-mail + app password → accessJwt/refreshJwt (real JWT
                                          shape with `exp`, unsigned); wrong password → 401
- POST com.atproto.server.refreshSession  Bearer refresh JWT, single use (rotation); stale → 400 ExpiredToken
- POST com.atproto.server.deleteSession, GET com.atproto.server.getSession
- GET  com.atproto.identity.resolveHandle unknown handle → 400
- POST com.atproto.repo.uploadBlob        Bearer; raw bytes whose magic matches Content-Type; ≤ 1,000,000 bytes
- GET  com.atproto.repo.getRecord
- POST com.atproto.repo.createRecord      Bearer; repo = the session's DID; the record is validated: text
                                          ≤ 300 graphemes (counted with `regex`'s \\X, independent of the
                                          app) and 3000 bytes; every facet's byte range and feature (the
                                          bytes must spell the link / @handle / #tag); reply root+parent
                                          strong refs (cids must match, root must be the parent's root);
                                          image blobs uploaded by this account
- GET  com.atproto.repo.listRecords       newest first
An expired access token answers 400 ExpiredToken, as a PDS does. Faults: `rate_limit_next` (429 +
ratelimit-reset), `expire_access`, `revoke_account`, and FakeServer's `add_fault`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import regex

from tests.fakes.social_base import FakeServer, Fault, HttpError, Recorded, Reply, new_token

MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff", "image/webp": b"RIFF"}
POST = "app.bsky.feed.post"
EXPIRED = {"error": "ExpiredToken", "message": "Token has expired"}


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _jwt(*, sub: str, scope: str, ttl: int) -> str:
    header = _b64({"alg": "ES256K", "typ": "JWT"})
    payload = _b64({"sub": sub, "scope": scope, "exp": int(time.time()) + ttl, "jti": new_token()})
    return f"{header}.{payload}.{new_token()}"


def _cid(data: bytes) -> str:
    return "bafyrei" + base64.b32encode(hashlib.sha256(data).digest()).decode().lower().rstrip("=")[:52]


@dataclass
class Account:
    did: str
    handle: str
    email: str
    app_password: str


@dataclass
class StoredRecord:
    uri: str
    cid: str
    value: dict[str, Any]
    did: str


class FakeBluesky(FakeServer):
    def __init__(self, *, access_ttl: int = 7200) -> None:
        super().__init__()
        self.access_ttl = access_ttl
        self.accounts: dict[str, Account] = {}
        self.access: dict[str, tuple[str, float]] = {}  # token → (did, expires)
        self.refresh: dict[str, str] = {}  # token → did (single use)
        self.blobs: dict[str, tuple[str, str, int]] = {}  # cid → (did, mime, size)
        self.records: list[StoredRecord] = []

    # --- setup and faults ---------------------------------------------------------------------
    def add_account(self, handle: str, *, app_password: str = "abcd-efgh-ijkl-mnop") -> Account:  # noqa: S107
        did = "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
        account = Account(
            did=did, handle=handle, email=f"{handle.split('.')[0]}@example.com", app_password=app_password
        )
        with self.lock:
            self.accounts[did] = account
        return account

    def rate_limit_next(self, method: str, path: str, *, reset_in: int = 300, times: int = 1) -> int:
        reset = int(time.time()) + reset_in
        body = {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
        self.add_fault(
            Fault(method=method, path=path, status=429, body=body, headers={"ratelimit-reset": str(reset)}, times=times)
        )
        return reset

    def expire_access(self, did: str) -> None:
        with self.lock:
            for token, (owner, _) in list(self.access.items()):
                if owner == did:
                    self.access[token] = (owner, time.time() - 1)

    def revoke_account(self, did: str) -> None:
        """The user deleted the app password: every session of it stops working."""
        with self.lock:
            self.access = {t: v for t, v in self.access.items() if v[0] != did}
            self.refresh = {t: v for t, v in self.refresh.items() if v != did}

    def posts_of(self, did: str) -> list[StoredRecord]:
        with self.lock:
            return [r for r in self.records if r.did == did]

    # --- routes -----------------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Any]]:
        x = "/xrpc/"
        return [
            ("POST", x + r"com\.atproto\.server\.createSession", self._create_session),
            ("POST", x + r"com\.atproto\.server\.refreshSession", self._refresh_session),
            ("POST", x + r"com\.atproto\.server\.deleteSession", self._delete_session),
            ("GET", x + r"com\.atproto\.server\.getSession", self._get_session),
            ("GET", x + r"com\.atproto\.identity\.resolveHandle", self._resolve_handle),
            ("POST", x + r"com\.atproto\.repo\.uploadBlob", self._upload_blob),
            ("GET", x + r"com\.atproto\.repo\.getRecord", self._get_record),
            ("POST", x + r"com\.atproto\.repo\.createRecord", self._create_record),
            ("GET", x + r"com\.atproto\.repo\.listRecords", self._list_records),
        ]

    @staticmethod
    def _bearer(record: Recorded) -> str:
        header = record.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise HttpError(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        return header[7:].strip()

    def _session_body(self, account: Account) -> dict[str, Any]:
        access = _jwt(sub=account.did, scope="com.atproto.appPass", ttl=self.access_ttl)
        refresh = _jwt(sub=account.did, scope="com.atproto.refresh", ttl=60 * 86400)
        self.access[access] = (account.did, time.time() + self.access_ttl)
        self.refresh[refresh] = account.did
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": account.handle,
            "did": account.did,
            "active": True,
        }

    def _account_for(self, record: Recorded) -> Account:
        token = self._bearer(record)
        with self.lock:
            entry = self.access.get(token)
            if entry is None:
                raise HttpError(401, {"error": "InvalidToken", "message": "Token could not be verified"})
            did, expires = entry
            if expires < time.time():
                raise HttpError(400, EXPIRED)
            return self.accounts[did]

    def _create_session(self, record: Recorded) -> Reply:
        body = record.json() or {}
        identifier, password = str(body.get("identifier", "")).lower(), str(body.get("password", ""))
        with self.lock:
            for account in self.accounts.values():
                if identifier in (account.handle, account.email, account.did) and password == account.app_password:
                    return Reply(body=self._session_body(account))
        raise HttpError(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})

    def _refresh_session(self, record: Recorded) -> Reply:
        token = self._bearer(record)
        with self.lock:
            did = self.refresh.pop(token, None)  # rotation: a refresh JWT works once
            if did is None:
                raise HttpError(400, EXPIRED)
            return Reply(body=self._session_body(self.accounts[did]))

    def _delete_session(self, record: Recorded) -> Reply:
        token = self._bearer(record)
        with self.lock:
            self.refresh.pop(token, None)
        return Reply(body=None)

    def _get_session(self, record: Recorded) -> Reply:
        account = self._account_for(record)
        return Reply(body={"handle": account.handle, "did": account.did, "email": account.email})

    def _resolve_handle(self, record: Recorded) -> Reply:
        handle = record.query.get("handle", "").lower()
        with self.lock:
            for account in self.accounts.values():
                if account.handle == handle:
                    return Reply(body={"did": account.did})
        raise HttpError(400, {"error": "InvalidRequest", "message": "Unable to resolve handle"})

    def _upload_blob(self, record: Recorded) -> Reply:
        account = self._account_for(record)
        mime = record.headers.get("content-type", "")
        if mime not in MAGIC or not record.body.startswith(MAGIC[mime]):
            raise HttpError(400, {"error": "InvalidRequest", "message": f"Bytes are not {mime or 'an image'}"})
        if len(record.body) > 1_000_000:
            raise HttpError(400, {"error": "BlobTooLarge", "message": "This file is too large"})
        cid = _cid(record.body)
        with self.lock:
            self.blobs[cid] = (account.did, mime, len(record.body))
        return Reply(
            body={"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(record.body)}}
        )

    def _find(self, uri: str) -> StoredRecord | None:
        with self.lock:
            return next((r for r in self.records if r.uri == uri), None)

    def _get_record(self, record: Recorded) -> Reply:
        q = record.query
        found = self._find(f"at://{q.get('repo')}/{q.get('collection')}/{q.get('rkey')}")
        if found is None:
            raise HttpError(400, {"error": "RecordNotFound", "message": "Could not locate record"})
        return Reply(body={"uri": found.uri, "cid": found.cid, "value": found.value})

    # --- validation of a post record ------------------------------------------------------------------
    def _bad(self, message: str) -> HttpError:
        return HttpError(400, {"error": "InvalidRequest", "message": message})

    def _check_facets(self, text: str, facets: Any) -> None:
        data = text.encode()
        if not isinstance(facets, list):
            raise self._bad("facets must be an array")
        for facet in facets:
            index, features = facet.get("index") or {}, facet.get("features") or []
            start, end = index.get("byteStart"), index.get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(data)):
                raise self._bad(f"facet byte range {start}..{end} is outside the text")
            spelled = data[start:end].decode("utf-8")  # raises on a range that cuts a character
            for feature in features:
                kind = feature.get("$type")
                if kind == "app.bsky.richtext.facet#link":
                    uri = str(feature.get("uri", ""))
                    if not uri.startswith(("https://", "http://")) or spelled not in uri:
                        raise self._bad(f"link facet {spelled!r} does not match {uri!r}")
                elif kind == "app.bsky.richtext.facet#mention":
                    account = self.accounts.get(str(feature.get("did", "")))
                    if account is None or spelled.lower() != f"@{account.handle}":
                        raise self._bad(f"mention facet {spelled!r} does not match its DID")
                elif kind == "app.bsky.richtext.facet#tag":
                    tag = str(feature.get("tag", ""))
                    if not tag or tag.startswith("#") or spelled[1:] != tag or graphemes(tag) > 64:
                        raise self._bad(f"tag facet {spelled!r} does not match {tag!r}")
                else:
                    raise self._bad(f"unknown facet feature {kind!r}")

    def _check_ref(self, ref: Any) -> StoredRecord:
        if not isinstance(ref, dict) or not ref.get("uri") or not ref.get("cid"):
            raise self._bad("a strong ref needs uri and cid")
        found = self._find(str(ref["uri"]))
        if found is None or found.cid != ref["cid"]:
            raise self._bad(f"reply ref {ref.get('uri')} does not match a record")
        return found

    def _check_reply(self, reply: Any) -> None:
        if not isinstance(reply, dict):
            raise self._bad("reply must be an object")
        root, parent = self._check_ref(reply.get("root")), self._check_ref(reply.get("parent"))
        parent_root = (parent.value.get("reply") or {}).get("root") or {"uri": parent.uri}
        if parent_root["uri"] != root.uri:
            raise self._bad("reply.root is not the root of the parent's thread")

    def _check_embed(self, did: str, embed: Any) -> None:
        if not isinstance(embed, dict) or embed.get("$type") != "app.bsky.embed.images":
            raise self._bad("only app.bsky.embed.images is supported here")
        images = embed.get("images") or []
        if not 1 <= len(images) <= 4:
            raise self._bad("1 to 4 images")
        for image in images:
            blob = image.get("image") or {}
            cid = (blob.get("ref") or {}).get("$link")
            owner = self.blobs.get(str(cid))
            if owner is None or owner[0] != did or "alt" not in image:
                raise self._bad("image blob was not uploaded by this account (or has no alt)")

    def _create_record(self, record: Recorded) -> Reply:
        account = self._account_for(record)
        body = record.json() or {}
        if body.get("repo") != account.did or body.get("collection") != POST:
            raise self._bad("repo must be the session's DID and collection app.bsky.feed.post")
        value = body.get("record") or {}
        text = value.get("text")
        if value.get("$type") != POST or not isinstance(text, str) or not value.get("createdAt"):
            raise self._bad("record needs $type, text and createdAt")
        if graphemes(text) > 300 or len(text.encode()) > 3000:
            raise self._bad(f"Record/text must not be longer than 300 graphemes ({graphemes(text)})")
        if "facets" in value:
            self._check_facets(text, value["facets"])
        if "reply" in value:
            self._check_reply(value["reply"])
        if "embed" in value:
            self._check_embed(account.did, value["embed"])
        rkey = f"3k{int(time.time() * 1_000_000):x}{len(self.records):04d}"
        uri = f"at://{account.did}/{POST}/{rkey}"
        stored = StoredRecord(
            uri=uri, cid=_cid(json.dumps(value, sort_keys=True).encode()), value=value, did=account.did
        )
        with self.lock:
            self.records.append(stored)
        return Reply(body={"uri": uri, "cid": stored.cid, "validationStatus": "valid"})

    def _list_records(self, record: Recorded) -> Reply:
        self._account_for(record)
        did = record.query.get("repo", "")
        mine = self.posts_of(did)[::-1][: int(record.query.get("limit", "50"))]
        return Reply(body={"records": [{"uri": r.uri, "cid": r.cid, "value": r.value} for r in mine]})
