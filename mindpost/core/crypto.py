"""Field encryption at rest: MultiFernet over FIELD_ENCRYPTION_KEYS (newest key first)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache, lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionError(Exception):
    """A stored value could not be decrypted with any configured key."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


# Decrypted short values, per process. Fernet costs 70-250 us a value in Python, and a page of 20
# notes holds about 160 of them (title, tags, summary, to-dos...), re-read on every refresh: that
# was 40 % of the notes list's time. A token has a random IV, so it stands for one plaintext for
# ever; the key list is part of the cache key, so a removed key is never served from here. Long
# values (transcripts) are left out to bound the memory: 4,096 x (4 KB token + ~3 KB text).
DECRYPT_CACHE_ENTRIES = 4096
DECRYPT_CACHE_MAX_TOKEN = 4096


# Off inside `uncached()`: a bulk read (an export of the whole account) would only push the useful
# entries out and hold memory that grows with the account.
_CACHING: ContextVar[bool] = ContextVar("mindpost_decrypt_cache", default=True)


@contextmanager
def uncached() -> Iterator[None]:
    """Decrypt without the cache in this block (keep `yield` out of it: generators share the context)."""
    token = _CACHING.set(False)
    try:
        yield
    finally:
        _CACHING.reset(token)


@lru_cache(maxsize=DECRYPT_CACHE_ENTRIES)
def _decrypt_cached(keys: tuple[str, ...], token: str) -> str:
    return _fernet(keys).decrypt(token.encode()).decode()


def decrypt(token: str) -> str:
    try:
        if len(token) <= DECRYPT_CACHE_MAX_TOKEN and _CACHING.get():
            return _decrypt_cached(tuple(settings.FIELD_ENCRYPTION_KEYS), token)
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        # Never hand back ciphertext or guess: a missing key must be noticed.
        raise DecryptionError(
            "A stored encrypted value cannot be decrypted with FIELD_ENCRYPTION_KEYS "
            "(was a key removed before `manage.py reencrypt` ran?)."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a token under the newest key (raises DecryptionError if unreadable)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("A stored encrypted value cannot be decrypted for rotation.") from exc
