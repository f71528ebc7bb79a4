"""Service parameter names → API wire names in domain errors.

Services report field errors under their own parameter names (`note_ids`); an API whose
fields are named otherwise (`brain_dump_ids` in the reference API) renames them on the way out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from mindpost.core.errors import AppError


@contextmanager
def wire_fields(renames: Mapping[str, str]) -> Iterator[None]:
    """Around a service call in an API view: a domain error's `fields` keys get their wire names."""
    try:
        yield
    except AppError as exc:
        exc.fields = {renames.get(name, name): messages for name, messages in exc.fields.items()}
        raise
