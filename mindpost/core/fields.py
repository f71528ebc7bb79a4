"""Model fields whose values are encrypted at rest."""

from __future__ import annotations

import json
from typing import Any

from django import forms
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
        try:
            return crypto.encrypt(str(value))
        except UnicodeEncodeError as exc:
            # Input validation (mindpost.core.parsers) refuses such text with a 400; reaching this is a bug.
            owner = getattr(self, "model", None)  # unset on a field not attached to a model
            raise ValueError(
                f"{owner.__name__ if owner else ''}.{self.name}: the text is not valid Unicode "
                f"(unpaired surrogate at position {exc.start}) and cannot be encrypted."
            ) from exc

    def get_internal_type(self) -> str:
        return "TextField"


class EncryptedJSONField(EncryptedTextField):
    """A JSON value (list, dict, ...) stored as one Fernet token of its JSON text.

    A subclass of EncryptedTextField, so `manage.py reencrypt` rotates it too.
    """

    description = "JSON encrypted at rest with FIELD_ENCRYPTION_KEYS"
    # For django-stubs: the attribute holds any JSON value, not a str.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None:
            return None
        return json.loads(crypto.decrypt(value))

    def to_python(self, value: Any) -> Any:
        return value  # already a Python value: TextField would turn a list into its repr

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return crypto.encrypt(json.dumps(value, ensure_ascii=False))

    def value_to_string(self, obj: Any) -> str:
        return json.dumps(self.value_from_object(obj), ensure_ascii=False)

    def formfield(self, **kwargs: Any) -> Any:
        return super(models.TextField, self).formfield(**{"form_class": forms.JSONField, **kwargs})
