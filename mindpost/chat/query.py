"""A chat question turned into what is searched for, and the answer when a period has no notes.

- Filler around a question ("Quick question:", "hey, can you…", "(ref 4821)", "thanks!") is not
  what the user is looking for: it pulls the query's embedding away from the notes and, on the
  keyword side, rare tokens like a ticket number match nothing or the wrong note. It is cut off
  the ends of the question only, so a number the question is about ("which policy has 4471 in
  it?") stays.
- Family words: people dictate "Mum" and ask about "my mother". The embedder places "mother"
  nearer to any note about family or presents than to the one word "Mum", and the keyword side
  matches exact words only, so the question is also searched with the words it names spelled
  the other ways (`variants`), and the rankings are fused.
- Words about recording itself ("what did I *record* today?") name no topic: such a question
  asks for everything of that time (`names_topic`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo

from mindpost.chat.dates import MONTHS, WEEKDAYS, TimeFilter
from mindpost.notes.selectors import distinct_content_words

# Openers, repeated: "Hey, quick question: could you please tell me …"
_OPENER = re.compile(
    r"^\s*(?:"
    r"(?:hey|hi|hello|ok|okay|so|um+|uh+|yo|sorry|also|btw|by the way|one more thing|oh)\b[\s,!.:;-]*"
    r"|(?:a\s+)?(?:quick|short|small|random|silly|dumb)\s+question\b[\s,!.:;-]*"
    r"|question\s*[:-]\s*"
    r"|(?:i was wondering|just wondering|i wonder)\b(?:\s+(?:if|whether))?[\s,]*"
    r"|(?:can|could|would|will)\s+you\s+(?:please\s+)?(?:tell|remind|show)\s+me\b[\s,]*(?:(?:if|whether)\b\s*)?"
    r"|(?:can|could|would|will)\s+you\s+(?:please\s+)?(?=\w)"
    r"|please\b[\s,]*"
    r"|(?:do\s+you\s+)?(?:know|remember)\s+(?=what|when|where|who|which|how|why|if|whether)"
    r")",
    re.IGNORECASE,
)
# Closers, repeated: "… (ref 4821)", "… [ticket #12]", "… ref: AB-12", "… thanks!", "… please?"
_CODE = r"[a-z0-9][a-z0-9_/#-]*\d[a-z0-9_/#-]*"
_CLOSER = re.compile(
    r"(?:"
    r"\s*[(\[{]\s*(?:ref|reference|ticket|case|id|no|nr|#)\.?\s*[:#]?\s*" + _CODE + r"\s*[)\]}]"
    r"|\s*[,;-]\s*(?:ref|reference)\.?\s*[:#]?\s*"
    + _CODE
    + r"|[\s,;-]*\b(?:thanks|thank you|thx|ty|cheers|please|pls)\b[\s!.]*"
    r")\s*([?!.]*)\s*$",
    re.IGNORECASE,
)


def clean_question(text: str) -> str:
    """The question without the conversational filler and reference codes around it.

    Returns the text unchanged when nothing is left after cleaning (a question that is only
    "ref 4821" is searched for as it is)."""
    cleaned = " ".join(text.split())
    while True:
        match = _OPENER.match(cleaned)
        if not match or not match.group(0):
            break
        cleaned = cleaned[match.end() :]
    while True:
        match = _CLOSER.search(cleaned)
        if not match:
            break
        cleaned = cleaned[: match.start()] + (match.group(1) or "")
    cleaned = cleaned.strip(" ,;:-")
    return cleaned if distinct_content_words(cleaned) or not distinct_content_words(text) else text


# --- Family words ----------------------------------------------------------------------------

# Each group: the ways one relation is said (British and American spelling, pet names). German,
# Spanish, French and Italian words are in too: notes are dictated in those languages, and a
# question in English about "my mother" should reach a note saying "Mama" or "madre".
_FAMILY = [
    ("mother", "mum", "mom", "mummy", "mommy", "mama", "mutter", "madre", "mère", "mere", "maman"),
    ("father", "dad", "daddy", "papa", "vater", "padre", "père", "pere"),
    ("grandmother", "grandma", "granny", "gran", "nan", "nana", "oma", "abuela", "nonna", "mamie"),
    ("grandfather", "grandpa", "granddad", "grandad", "gramps", "opa", "abuelo", "nonno", "papi"),
    ("parents", "mum and dad", "mom and dad", "eltern", "padres", "genitori"),
    ("brother", "bro", "bruder", "hermano", "frère", "frere", "fratello"),
    ("sister", "sis", "schwester", "hermana", "sœur", "soeur", "sorella"),
    ("children", "kids", "kinder", "hijos", "enfants", "bambini"),
    ("son", "sohn", "hijo", "fils", "figlio"),
    ("daughter", "tochter", "hija", "fille", "figlia"),
    ("wife", "missus", "frau", "esposa", "femme", "moglie"),
    ("husband", "hubby", "mann", "esposo", "marido", "mari", "marito"),
    ("present", "gift", "geschenk", "regalo", "cadeau"),
]
_GROUPS: dict[str, tuple[str, ...]] = {word: group for group in _FAMILY for word in group}
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)


def variants(query: str) -> list[str]:
    """The query again with each family word it contains said the other ways ("my mother" ->
    "my mum mom mama …"), at most one extra query; [] when it names no such word."""
    extra: list[str] = []
    for match in _WORD.finditer(query):
        word = match.group(0).lower().removesuffix("'s")
        group = _GROUPS.get(word)
        if group is None:
            continue
        extra += [w for w in group if w != word and " " not in w and w not in extra]
    return [f"{query} {' '.join(extra)}"] if extra else []


# --- Questions about a time, with no topic --------------------------------------------------

# "record", "write down", "dictate": the act of noting, not a topic (notes/text.py's stop words
# already drop "note", "say", "mention", "talk").
_RECORDING_WORDS = frozenset(
    [
        "record",
        "recorded",
        "recording",
        "records",
        "write",
        "wrote",
        "written",
        "writing",
        "jot",
        "jotted",
        "dictate",
        "dictated",
        "log",
        "logged",
        "save",
        "saved",
        "capture",
        "captured",
        "add",
        "added",
        "do",
        "done",
        "happen",
        "happened",
        "happening",
        "voice",
        "memo",
        "memos",
        "entry",
        "entries",
        "day",
        "today",
        "tonight",
        "morning",
        "afternoon",
        "evening",
        "night",
        "week",
        "weekend",
        "month",
        "year",
    ]
)


def names_topic(query: str) -> bool:
    """Whether the question (its time words already taken out) asks about something."""
    return any(word not in _RECORDING_WORDS for word in distinct_content_words(query))


# --- "You didn't record anything then" -------------------------------------------------------


def _day(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b}"


def period_label(time_filter: TimeFilter, *, tz: tzinfo, now: datetime) -> str:
    """The period as the user named it, with its dates in their time zone:
    "yesterday (Sun 29 Nov)", "last week (16-22 Nov)", "in March (1-31 Mar 2026)"."""
    since = time_filter.since.astimezone(tz)
    last = (time_filter.until - timedelta(microseconds=1)).astimezone(tz)
    last = min(last, now.astimezone(tz))  # a rolling window ends now
    if since.date() == last.date():
        dates = _day(since)
    elif since.year != last.year:
        dates = f"{since.day} {since:%b %Y} - {last.day} {last:%b %Y}"
    elif since.month != last.month:
        dates = f"{since.day} {since:%b} - {last.day} {last:%b}"
    else:
        dates = f"{since.day}-{last.day} {last:%b}"
    if last.year != now.astimezone(tz).year and str(last.year) not in dates:
        dates += f" {last.year}"
    words = [
        word.capitalize() if word.lower().strip(".,") in MONTHS or word.lower() in WEEKDAYS else word.lower()
        for word in time_filter.phrase.split()
    ]
    return f"{' '.join(words)} ({dates})"


def nothing_recorded_answer(time_filter: TimeFilter, *, tz: tzinfo, now: datetime) -> str:
    """The answer, without a model call, when the user has no notes at all in the period asked about."""
    return f"You didn't record anything {period_label(time_filter, tz=tz, now=now)}."
