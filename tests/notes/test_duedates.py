"""Due dates of action items, resolved in the user's time zone (mindpost.notes.duedates)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from mindpost.notes.duedates import find_due, local_today, parse_iso

MONDAY = date(2026, 11, 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # English
        ("call him next week about the boat", date(2026, 12, 7)),  # Monday of next week
        ("send the invoice by Friday", date(2026, 12, 4)),
        ("renew the passport tomorrow morning", date(2026, 12, 1)),
        ("pay rent by the end of the month", date(2026, 11, 30)),
        ("book the flights in a couple of weeks", date(2026, 12, 14)),
        ("dentist on March 3rd", date(2027, 3, 3)),  # already past this year: next year's
        ("finish it by the 15th", date(2026, 12, 15)),
        ("water the plants this weekend", date(2026, 12, 5)),
        ("call mom next Monday", date(2026, 12, 7)),
        # German
        ("ich muss bis Freitag die Steuer machen", date(2026, 12, 4)),
        ("nächste Woche den Klempner anrufen", date(2026, 12, 7)),
        ("in zwei Wochen das Auto zum TÜV bringen", date(2026, 12, 14)),
        ("übermorgen Blumen kaufen", date(2026, 12, 2)),
        ("am 3. März Geburtstag von Oma", date(2027, 3, 3)),
        # Spanish
        ("mañana llamar a Ana", date(2026, 12, 1)),
        ("el lunes por la mañana reunión", date(2026, 12, 7)),  # "por la mañana" is the morning
        ("tengo que pagar la luz hasta el viernes", date(2026, 12, 4)),
        ("la próxima semana ver al médico", date(2026, 12, 7)),
        ("el 5 de diciembre entregar el informe", date(2026, 12, 5)),
        # French
        ("je dois appeler Paul demain", date(2026, 12, 1)),
        ("rendre le livre dans trois jours", date(2026, 12, 3)),
        ("la semaine prochaine, réserver le train", date(2026, 12, 7)),
        ("envoyer le dossier avant vendredi", date(2026, 12, 4)),
        ("après-demain, rappeler le garage", date(2026, 12, 2)),
    ],
)
def test_phrases_in_four_languages(text: str, expected: date) -> None:
    due = find_due(text, today=MONDAY)
    assert due is not None, text
    assert due.date == expected


def test_a_weekday_said_on_that_weekday_is_next_weeks() -> None:
    friday = date(2026, 12, 4)
    due = find_due("by Friday", today=friday)
    assert due is not None
    assert due.date == date(2026, 12, 11)


@pytest.mark.parametrize("text", ["sometime", "Mar is a nice name", "I want to sit in the sun", "no rush", ""])
def test_no_date_where_none_is_said(text: str) -> None:
    assert find_due(text, today=MONDAY) is None


def test_the_phrase_is_kept_as_said() -> None:
    due = find_due("Ich muss nächste Woche zum Zahnarzt", today=MONDAY)
    assert due is not None
    assert due.text == "nächste Woche"


def test_a_note_at_half_past_midnight_in_tokyo_is_already_monday_there() -> None:
    # Sunday 15:30 UTC is Monday 00:30 in Tokyo.
    at = datetime(2026, 11, 29, 15, 30, tzinfo=UTC)
    tokyo, utc = local_today(at=at, timezone="Asia/Tokyo"), local_today(at=at, timezone="UTC")
    assert (tokyo, utc) == (date(2026, 11, 30), date(2026, 11, 29))
    assert find_due("tomorrow", today=tokyo).date == date(2026, 12, 1)  # type: ignore[union-attr]
    assert find_due("tomorrow", today=utc).date == date(2026, 11, 30)  # type: ignore[union-attr]
    # "Next week" from Tokyo's Monday is the Monday after; from UTC's Sunday it is the next day.
    assert find_due("next week", today=tokyo).date == date(2026, 12, 7)  # type: ignore[union-attr]
    assert find_due("next week", today=utc).date == date(2026, 11, 30)  # type: ignore[union-attr]


def test_a_note_at_half_past_eleven_at_night_keeps_its_local_date() -> None:
    # 23:30 on Sunday in Tokyo (14:30 UTC, same date) and in New York (04:30 UTC on Monday).
    assert local_today(at=datetime(2026, 11, 29, 14, 30, tzinfo=UTC), timezone="Asia/Tokyo") == date(2026, 11, 29)
    new_york = local_today(at=datetime(2026, 11, 30, 4, 30, tzinfo=UTC), timezone="America/New_York")
    assert new_york == date(2026, 11, 29)
    assert find_due("by Friday", today=new_york).date == date(2026, 12, 4)  # type: ignore[union-attr]


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    assert local_today(at=datetime(2026, 11, 29, 23, 0, tzinfo=UTC), timezone="Mars/Olympus") == date(2026, 11, 29)


def test_model_iso_dates_only_when_plausible() -> None:
    assert parse_iso("2026-12-24", today=MONDAY) == date(2026, 12, 24)
    assert parse_iso("2020-01-01", today=MONDAY) is None  # in the past
    assert parse_iso("2031-01-01", today=MONDAY) is None  # years ahead: a hallucination
    assert parse_iso("next week", today=MONDAY) is None
    assert parse_iso(None, today=MONDAY) is None
