"""The `Prefer: wait=N` request header (RFC 7240 §4.3)."""

from __future__ import annotations

import re

_WAIT = re.compile(r"^\s*wait\s*=\s*\"?(\d{1,6})\"?\s*$", re.IGNORECASE)


def wait_seconds(header: str | None, *, maximum: int) -> int | None:
    """Seconds the client is willing to wait, capped at `maximum`; None if it did not ask.

    Preferences the server does not understand (and malformed ones) are ignored, as the
    RFC requires. Parameters after ';' are ignored too.
    """
    if not header:
        return None
    for preference in header.split(","):
        match = _WAIT.match(preference.split(";", 1)[0])
        if match:
            return min(int(match.group(1)), maximum)
    return None
