"""Field encryption at rest: MultiFernet over FIELD_ENCRYPTION_KEYS (newest key first)."""

from __future__ import annotations

from functools import cache

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


def decrypt(token: str) -> str:
    try:
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
