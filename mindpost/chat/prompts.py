"""The messages sent to the chat model: rules, earlier turns, the numbered notes, the question."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

NOT_FOUND_ANSWER = "I couldn't find anything about that in your notes."

# Every prompt token adds to the wait for the first one on a 2-core CPU (DESIGN §3), so this is
# short; but cutting the "no names or numbers, do not guess" sentence made the 1.5B model invent
# more, and "reply exactly" made it refuse answerable questions (tried with bench/chat.py).
SYSTEM_PROMPT = (
    "You answer questions about the user's own notes (voice memos). Use only the numbered notes given with "
    "the question; do not add facts, names or numbers that are not in them, and do not guess. Cite the notes "
    "you use by number, like [1] or [2][3]. "
    f'If the notes do not answer the question, reply: "{NOT_FOUND_ANSWER}" '
    'Answer in one to three short sentences in the language of the question, speaking to the user as "you". '
    "Today is {today}."
)

_HISTORY_CHARS = 600
_MARKERS = re.compile(r"\s*\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\]")


@dataclass(frozen=True)
class ContextPassage:
    number: int
    text: str
    created_at: datetime | None
    start: float | None = None


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def render_context(passages: list[ContextPassage], *, tz: tzinfo) -> str:
    lines = []
    for passage in passages:
        when = passage.created_at.astimezone(tz).strftime("%a %d %b %Y %H:%M") if passage.created_at else "undated"
        at = f", at {_clock(passage.start)}" if passage.start else ""
        lines.append(f"[{passage.number}] ({when}{at}) {' '.join(passage.text.split())}")
    return "\n\n".join(lines)


def build_messages(
    *,
    question: str,
    passages: list[ContextPassage],
    history: list[tuple[str, str]],
    now: datetime,
    tz: tzinfo,
) -> list[dict[str, str]]:
    """System rules, the earlier turns (markers stripped: their numbers meant other notes), then
    the notes and the question in one last user message, where a small model attends best."""
    today = now.astimezone(tz).strftime("%A %d %B %Y")
    messages = [{"role": "system", "content": SYSTEM_PROMPT.replace("{today}", today)}]
    for role, content in history:
        text = _MARKERS.sub("", content).strip()
        if len(text) > _HISTORY_CHARS:
            text = text[:_HISTORY_CHARS].rsplit(" ", 1)[0] + " …"
        messages.append({"role": role, "content": text})
    messages.append(
        {
            "role": "user",
            "content": f"Notes:\n\n{render_context(passages, tz=tz)}\n\nQuestion: {question.strip()}",
        }
    )
    return messages
