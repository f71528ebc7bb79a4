"""The one date-range filter: `?since=` / `?until=`, wherever a list or a search takes them.

Semantics (docs/api.md, "Date ranges"): each value is an ISO 8601 date or date-time, read in the
user's own time zone (User.timezone) unless it carries an offset. The range is half-open,
[since, until): a date `since` starts at that day's local midnight; a date `until` includes that
whole day (the range ends at the next local midnight); a date-time `until` is exclusive. An
empty range (`since` not before `until`) is refused. Every refusal is one domain error,
`invalid_filter` with the offending parameter in `fields`.

Core imports no app, so callers pass the zone name rather than the user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers

from mindpost.core.errors import Invalid

FILTER_ERROR = "invalid_filter"
_NOT_ISO = "Use an ISO 8601 date or date-time, e.g. 2026-01-31 or 2026-01-31T09:30:00Z."
_EMPTY_RANGE = "`since` must be before `until`."


def user_zone(name: str | None) -> tzinfo:
    """The zone named on a user's profile; UTC when it is empty or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class DateRange:
    since: datetime | None = None  # inclusive, aware
    until: datetime | None = None  # exclusive, aware


def _moment(raw: str, *, tz: tzinfo, end: bool) -> datetime:
    """One bound: a date is a whole local day (`end`: the midnight after it), a naive date-time is local."""
    try:
        # A bare date first: parse_datetime would read "2026-01-31" as midnight, and a date
        # `until` means the whole day.
        day: date | None = parse_date(raw)
        moment = None if day is not None else parse_datetime(raw)
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        day, moment = None, None
    if moment is not None:
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
    if day is None:
        raise serializers.ValidationError(_NOT_ISO)
    return datetime.combine(day + timedelta(days=1) if end else day, time.min, tzinfo=tz)


class DateRangeInput(serializers.Serializer):
    """`since` / `until` query parameters; pass the user's zone as context["tz"].

    Also the OpenAPI description of the two parameters (extend_schema(parameters=[DateRangeInput])).
    """

    since = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="ISO 8601 date or date-time, inclusive. A date starts at midnight in your time zone.",
    )
    until = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="ISO 8601 date (that whole day included) or date-time (exclusive), in your time zone.",
    )

    def _tz(self) -> tzinfo:
        tz = self.context.get("tz")
        return tz if isinstance(tz, tzinfo) else user_zone(tz)

    def validate_since(self, value: str) -> datetime | None:
        return _moment(value, tz=self._tz(), end=False) if value else None

    def validate_until(self, value: str) -> datetime | None:
        return _moment(value, tz=self._tz(), end=True) if value else None

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        since, until = attrs.get("since"), attrs.get("until")
        if since is not None and until is not None and since >= until:
            raise serializers.ValidationError({"since": [_EMPTY_RANGE]})
        return attrs


def date_range(params: Mapping[str, Any], *, time_zone: str | tzinfo | None) -> DateRange:
    """`since`/`until` from query parameters, in the user's zone; Invalid `invalid_filter` otherwise."""
    data = {name: str(params[name]).strip() for name in ("since", "until") if params.get(name) is not None}
    serializer = DateRangeInput(data=data, context={"tz": time_zone})
    if not serializer.is_valid():
        fields = {name: [str(message) for message in messages] for name, messages in serializer.errors.items()}
        detail = _EMPTY_RANGE if fields.get("since") == [_EMPTY_RANGE] else _NOT_ISO
        raise Invalid(detail, code=FILTER_ERROR, fields=fields)
    return DateRange(since=serializer.validated_data.get("since"), until=serializer.validated_data.get("until"))
