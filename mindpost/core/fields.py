"""Model fields whose values are encrypted at rest."""

from __future__ import annotations

from typing import Any

from django.db import models

from mindpost.core import crypto


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token; reads decrypt or raise crypto.DecryptionError.

    The database can neither filter nor sort by the plaintext: query by other columns.
    """

    description = "Text encrypted at rest with FIELD_ENCRYPTION_KEYS"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return None
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return crypto.encrypt(str(value))

    def get_internal_type(self) -> str:
        return "TextField"
