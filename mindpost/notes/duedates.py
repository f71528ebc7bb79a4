"""Due dates of action items: a spoken phrase ("next week", "bis Freitag", "mañana") to a date.

A small resolver of our own rather than `dateparser`: dateparser resolves a whole phrase to a
timestamp but does not find the date inside a sentence reliably ("call him next week about the
boat" -> its search_dates returns odd matches), drags in `regex` and a large locale data set, and
has no notion of "by Friday" meaning the coming Friday. What to-dos say is a small closed set per
language (today, tomorrow, a weekday, next week/month, in N days, end of the month, a day and
month), so a table per language covers it and stays testable.

Dates are resolved against the moment the note was made, in the user's time zone: a note made
at 23:30 in Tokyo on a Sunday is already Monday there, whatever UTC says.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Due:
    date: date
    text: str  # the phrase it came from, as written


def local_today(*, at: datetime, timezone: str) -> date:
    """The calendar date of `at` in the IANA zone `timezone` (UTC when unknown)."""
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).date()


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Weekday names (folded, so "miércoles" is "miercoles"), Monday = 0.
_WEEKDAYS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        "monday mon montag lunes lundi lunedi segunda",
        "tuesday tue tues dienstag martes mardi martedi terca",
        "wednesday wed mittwoch miercoles mercredi mercoledi quarta",
        "thursday thu thurs donnerstag jueves jeudi giovedi quinta",
        "friday fri freitag viernes vendredi venerdi sexta",
        "saturday sat samstag sonnabend sabado samedi",
        "sunday sun sonntag domingo dimanche domenica",
    )
):
    for _name in _names.split():
        _WEEKDAYS[_name] = _index

_MONTHS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        "january jan januar enero janvier gennaio janeiro",
        "february feb februar febrero fevrier febbraio fevereiro",
        "march mar marz maerz marzo mars marco",
        "april apr abril avril aprile",
        "may mai mayo maggio maio",
        "june jun juni junio juin giugno junho",
        "july jul juli julio juillet luglio julho",
        "august aug agosto aout",
        "september sep sept septiembre setiembre septembre settembre setembro",
        "october oct oktober octubre octobre ottobre outubro",
        "november nov noviembre novembre novembro",
        "december dec dezember diciembre decembre dicembre dezembro",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _index

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10,
    "couple": 2, "few": 3,
    "ein": 1, "einen": 1, "einer": 1, "eine": 1, "zwei": 2, "drei": 3, "vier": 4, "funf": 5, "sechs": 6, "zehn": 10,
    "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "diez": 10,
    "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "dix": 10, "quinze": 14, "quince": 14,
}  # fmt: skip
_UNIT_DAYS = {
    "day": 1, "days": 1, "tag": 1, "tagen": 1, "tage": 1, "dia": 1, "dias": 1, "jour": 1, "jours": 1,
    "week": 7, "weeks": 7, "woche": 7, "wochen": 7, "semana": 7, "semanas": 7, "semaine": 7, "semaines": 7,
    "fortnight": 14,
}  # fmt: skip
_MONTH_UNITS = {"month", "months", "monat", "monaten", "monate", "mes", "meses", "mois"}

_WD = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_MO = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NUM = r"\d{1,2}|" + "|".join(sorted(_NUMBERS, key=len, reverse=True))
_UNITS = "|".join(sorted([*_UNIT_DAYS, *_MONTH_UNITS], key=len, reverse=True))

# Each pattern runs on folded text; the first (leftmost, then listed first) match wins.
_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")),
    ("day_after_tomorrow", re.compile(r"\b(day after tomorrow|ubermorgen|pasado manana|apres[- ]demain)\b")),
    ("today", re.compile(r"\b(today|tonight|this (?:evening|afternoon|morning)|end of (?:the )?day|eod|heute|"
                         r"heute abend|hoy|esta (?:tarde|noche|manana)|aujourd'?hui|ce soir|oggi|hoje)\b")),
    ("tomorrow", re.compile(r"\b(tomorrow|(?<!heute )morgen|(?<!la )(?<!esta )manana|demain|domani|amanha)\b")),
    ("in_n", re.compile(rf"\b(?:in|within|en|dans|entro|em) (?:(?:the )?next )?(?:a )?({_NUM})(?: of)? ({_UNITS})\b")),
    ("n_from_now", re.compile(rf"\b({_NUM}) ({_UNITS}) (?:from now|from today)\b")),
    ("end_of_week", re.compile(r"\b(end of (?:the|this) week|ende der woche|ende dieser woche|"
                               r"(?:a )?finales de (?:la|esta) semana|fin de (?:la|cette) semaine)\b")),
    ("end_of_month", re.compile(r"\b(end of (?:the|this) month|monatsende|ende des monats|"
                                r"(?:a )?finales de(?:l| este) mes|fin (?:du|de ce) mois)\b")),
    ("next_weekend", re.compile(r"\b(next weekend|nachstes wochenende|el (?:proximo )?fin de semana que viene|"
                                r"el proximo fin de semana|le week-?end prochain)\b")),
    ("weekend", re.compile(r"\b(this weekend|the weekend|over the weekend|am wochenende|dieses wochenende|"
                           r"(?:este|el) fin de semana|ce week-?end|le week-?end)\b")),
    ("next_week", re.compile(r"\b(next week|nachste woche|kommende woche|nachsten woche|kommenden woche|"
                             r"(?:la )?(?:proxima|siguiente) semana|(?:la )?semana que viene|"
                             r"(?:la )?semaine prochaine|la settimana prossima|proxima semana)\b")),
    ("this_week", re.compile(r"\b(this week|later this week|diese woche|esta semana|cette semaine)\b")),
    ("next_month", re.compile(r"\b(next month|nachsten monat|nachster monat|kommenden monat|"
                              r"(?:el )?(?:proximo|siguiente) mes|(?:el )?mes que viene|le mois prochain)\b")),
    ("day_month", re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th|\.|er|º)?(?: of| de)? ({_MO})\b")),
    ("month_day", re.compile(rf"\b({_MO}) (\d{{1,2}})(?:st|nd|rd|th)?\b")),
    ("weekday", re.compile(rf"\b(?:(next|nachsten|nachster|kommenden|proximo|prochain) )?({_WD})"
                           rf"(?: (?:prochain|que viene|next week))?\b")),
    ("ordinal_day", re.compile(r"\b(?:the|on the|by the) (\d{1,2})(?:st|nd|rd|th)\b")),
]  # fmt: skip


def _number(token: str) -> int | None:
    if token.isdigit():
        return int(token)
    return _NUMBERS.get(token)


def _next_weekday(today: date, weekday: int) -> date:
    """The coming `weekday`, strictly after today ("by Friday" said on a Friday is next week's)."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _future_day_month(today: date, day: int, month: int) -> date | None:
    try:
        candidate = date(today.year, month, day)
    except ValueError:
        return None
    if candidate < today:
        try:
            candidate = date(today.year + 1, month, day)
        except ValueError:
            return None
    return candidate


def _resolve(kind: str, match: re.Match[str], today: date) -> date | None:
    if kind == "iso":
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return None
    if kind == "today":
        return today
    if kind == "tomorrow":
        return today + timedelta(days=1)
    if kind == "day_after_tomorrow":
        return today + timedelta(days=2)
    if kind in ("in_n", "n_from_now"):
        count, unit = _number(match[1]), match[2]
        if count is None:
            return None
        if unit in _MONTH_UNITS:
            return _add_months(today, count)
        return today + timedelta(days=count * _UNIT_DAYS[unit])
    if kind == "end_of_week":
        friday = today + timedelta(days=(4 - today.weekday()) % 7)
        return friday if today.weekday() <= 4 else today + timedelta(days=6 - today.weekday())
    if kind == "end_of_month":
        return date(today.year, today.month, calendar.monthrange(today.year, today.month)[1])
    if kind == "weekend":
        return today if today.weekday() >= 5 else today + timedelta(days=5 - today.weekday())
    if kind == "next_weekend":
        return today + timedelta(days=5 - today.weekday() + 7)
    if kind == "next_week":
        return today + timedelta(days=7 - today.weekday())  # Monday of next week
    if kind == "this_week":
        return today + timedelta(days=max(0, 4 - today.weekday()))
    if kind == "next_month":
        return _add_months(today.replace(day=1), 1)
    if kind == "day_month":
        return _future_day_month(today, int(match[1]), _MONTHS[match[2]])
    if kind == "month_day":
        return _future_day_month(today, int(match[2]), _MONTHS[match[1]])
    if kind == "weekday":
        return _next_weekday(today, _WEEKDAYS[match[2]])
    if kind == "ordinal_day":
        day = int(match[1])
        if not 1 <= day <= 31:
            return None
        for months in range(3):
            base = _add_months(today.replace(day=1), months)
            if day <= calendar.monthrange(base.year, base.month)[1] and base.replace(day=day) >= today:
                return base.replace(day=day)
    return None


# Short weekday abbreviations ("mar", "sat", "sun", "mon") are also ordinary words; only accept
# them with a preposition in front.
_AMBIGUOUS = {"mon", "tue", "wed", "thu", "fri", "sat", "sun", "mar", "may", "mai", "tues", "thurs"}


def find_due(text: str, *, today: date) -> Due | None:
    """The first due-date phrase in `text`, resolved relative to `today` (the user's local date)."""
    if not text:
        return None
    folded = _fold(text)
    best: tuple[int, int, str, re.Match[str]] | None = None
    for order, (kind, pattern) in enumerate(_RULES):
        for match in pattern.finditer(folded):
            words = match.group(0).split()
            if (
                kind == "weekday"
                and match[2] in _AMBIGUOUS
                and not re.search(r"\b(on|by|until|till|next)\s+$", folded[: match.start()])
            ):
                continue
            if kind == "month_day" and match[1] in _AMBIGUOUS and len(words) < 2:
                continue
            if best is None or (match.start(), order) < (best[0], best[1]):
                best = (match.start(), order, kind, match)
            break
    if best is None:
        return None
    _, _, kind, match = best
    resolved = _resolve(kind, match, today)
    if resolved is None:
        return None
    # Folding keeps the length for the scripts we match (accents drop, letters stay), so the
    # span maps back onto the original; fall back to the folded phrase otherwise.
    original = text[match.start() : match.end()] if len(folded) == len(text) else match.group(0)
    return Due(date=resolved, text=original)


def parse_iso(value: object, *, today: date, max_days: int = 800) -> date | None:
    """A model's ISO date, if it is one and plausible (not before today, not years ahead)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None
    return parsed if today <= parsed <= today + timedelta(days=max_days) else None
