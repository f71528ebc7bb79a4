"""Idempotent note creation: the Idempotency-Key header and the request fingerprint.

A client that retries an upload (lost response, flaky network) sends the same key and
gets the same note back instead of a second one. Keys are scoped per user. The
fingerprint is a hash of what was sent, so reusing a key for a different body is
refused rather than silently returning an unrelated note.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from mindpost.core.errors import Invalid, Unprocessable

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 255
# Visible ASCII only: keys end up in logs and a unique index.
_KEY = re.compile(r"^[\x21-\x7e]+$")


def clean_key(raw: str | None) -> str | None:
    """The key from the header value, or None when absent; Invalid when malformed."""
    if raw is None:
        return None
    key = raw.strip().strip('"')
    if not key:
        return None
    if len(key) > MAX_KEY_CHARS or not _KEY.match(key):
        raise Invalid(
            f"The {HEADER} header must be 1-{MAX_KEY_CHARS} visible ASCII characters.",
            code="invalid_idempotency_key",
        )
    return key


def fingerprint(*, kind: str, chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256(kind.encode() + b"\0")
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def key_reused() -> Unprocessable:
    return Unprocessable(
        f"This {HEADER} was already used for a different request. Use a new key for a new note.",
        code="idempotency_key_reused",
    )
