"""JSON from clients, parsed with limits: bounded nesting, and text that is valid Unicode.

Python's json module recurses once per nesting level, so a body of 100,000 "[" raised
RecursionError (a 500) before any view ran. And JSON may spell an unpaired surrogate
("\\ud800"), which Python keeps in the str and which then cannot be encoded to UTF-8 for
storage or encryption. Both are refused here as 400s, before the data reaches a view:
`JSONParser` (REST_FRAMEWORK's JSON parser) and `loads_request_json` (every other place
that parses client JSON) share one implementation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import accumulate
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from rest_framework import parsers

if TYPE_CHECKING:
    from mindpost.core.errors import Invalid

# Deep enough for any document this API takes (the deepest is a few levels); far below
# the interpreter's recursion limit.
MAX_JSON_DEPTH = 64

# A JSON string: the atomic group never backtracks, and an unterminated string runs to the end
# of the text (the JSON is malformed and json.loads will say so), so every match is linear
# and the text is scanned once.
_STRING = re.compile(r'"(?>[^"\\]*(?:\\.[^"\\]*)*)(?:"|\\?\Z)', re.DOTALL)
_NON_BRACKETS = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# A surrogate (D800-DFFF) in the parsed value comes from a \u escape (or from the body itself
# in an odd charset); the walk over the parsed value runs only when the text has either.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


MALFORMED = "malformed_request"  # not JSON, or nested too deep
INVALID_TEXT = "invalid_text"  # a string is not valid Unicode
_INVALID_TEXT_MESSAGE = "Text must be valid Unicode: it contains an unpaired surrogate (such as \\ud800)."


class _Refused(Exception):
    def __init__(self, detail: str, *, code: str = MALFORMED, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.field = field

    def as_api_error(self) -> Invalid:
        # Imported here: errors.py imports DRF's views, whose APIView reads DEFAULT_PARSER_CLASSES,
        # i.e. this module, so a top-level import would be circular.
        from mindpost.core.errors import Invalid

        fields = {self.field: [self.detail]} if self.field else None
        return Invalid(self.detail, code=self.code, fields=fields)


def _check_depth(text: str, *, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse (MALFORMED) arrays/objects nested deeper than `limit`.

    O(len(text)) and no recursion: strings are cut out (brackets in them do not count), then the
    running depth over the remaining brackets is summed in C. About 0.2 s for a 2.5 MB body of
    nothing but brackets, the same order as json.loads itself.
    """
    if text.count("[") + text.count("{") <= limit:
        return  # cannot nest deeper than it has openers: the common case costs two scans
    brackets = _NON_BRACKETS.sub("", _STRING.sub("", text))
    if max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit:
        raise _Refused(f"JSON parse error - nested deeper than {limit} levels.")


def _check_text(value: Any) -> None:
    """Refuse (INVALID_TEXT) any string in the parsed value, keys included, that is not valid Unicode."""
    stack: list[tuple[Any, str | None]] = [(value, None)]
    while stack:
        item, field = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise _Refused(_INVALID_TEXT_MESSAGE, code=INVALID_TEXT, field=field)
        elif isinstance(item, dict):
            for key, child in item.items():
                if _SURROGATE.search(key):
                    raise _Refused(_INVALID_TEXT_MESSAGE, code=INVALID_TEXT, field=field)
                # Report the top-level field the bad text was found under.
                stack.append((child, key if field is None else field))
        elif isinstance(item, list):
            stack.extend((child, field) for child in item)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def loads_request_json(raw: bytes | str, *, encoding: str = "utf-8", strict: bool = True) -> Any:
    """Parse JSON that came from a client, or raise `Invalid` (400).

    Its code is MALFORMED (not JSON in `encoding`, or nested deeper than MAX_JSON_DEPTH) or
    INVALID_TEXT (a string or key holds an unpaired surrogate). `strict` refuses NaN and
    Infinity, as DRF's STRICT_JSON does.
    """
    try:
        return _loads(raw, encoding=encoding, strict=strict)
    except _Refused as refused:
        raise refused.as_api_error() from refused


def _loads(raw: bytes | str, *, encoding: str, strict: bool) -> Any:
    try:
        text = raw.decode(encoding) if isinstance(raw, bytes | bytearray) else raw
    except (UnicodeDecodeError, LookupError) as exc:
        raise _Refused(f"JSON parse error - the body is not valid {encoding}.") from exc
    _check_depth(text)
    try:
        value = json.loads(text, parse_constant=_refuse_constant if strict else None)
    except ValueError as exc:
        raise _Refused(f"JSON parse error - {exc}") from exc
    except RecursionError as exc:  # defensive: check_depth makes this unreachable
        raise _Refused(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels.") from exc
    # A charset other than UTF-8 (utf-7, unicode_escape) can decode to a surrogate directly.
    if _SURROGATE_ESCAPE.search(text) or _SURROGATE.search(text):
        _check_text(value)
    return value


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser with loads_request_json's limits (REST_FRAMEWORK DEFAULT_PARSER_CLASSES)."""

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding") or settings.DEFAULT_CHARSET
        return loads_request_json(stream.read(), encoding=encoding, strict=self.strict)
