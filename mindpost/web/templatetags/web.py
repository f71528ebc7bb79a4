"""Template helpers for the web app: icons, durations, highlighted excerpts."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from mindpost.notes.text import match_terms

register = template.Library()

# Runs of letters and digits, as the search index cuts words (notes.blind_index).
_WORD = re.compile(r"[^\W_]+")

# Outline icons (24x24, stroke) drawn for MindPost; decorative, so hidden from screen readers.
_ICONS = {
    "mic": "M12 15a3 3 0 0 0 3-3V6a3 3 0 1 0-6 0v6a3 3 0 0 0 3 3Zm6-3a6 6 0 0 1-12 0m6 6v3m-3 0h6",
    "stop": "M7 7h10v10H7z",
    "notes": "M7 4h8l4 4v12H7zM15 4v4h4M10 12h6M10 16h6",
    "chat": "M4 5h16v11H9l-5 4z",
    "compose": "M4 20h4L19 9l-4-4L4 16zM14 6l4 4",
    "posts": "M4 5h16M4 12h16M4 19h10",
    "settings": (
        "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6Zm7.4-3a7.4 7.4 0 0 0-.1-1.2l2-1.6-2-3.4-2.4.9a7.5 7.5 0 0 0-2-1.2"
        "L14.5 3h-5l-.4 2.5a7.5 7.5 0 0 0-2 1.2l-2.4-.9-2 3.4 2 1.6a7.4 7.4 0 0 0 0 2.4l-2 1.6 2 3.4 2.4-.9"
        "a7.5 7.5 0 0 0 2 1.2l.4 2.5h5l.4-2.5a7.5 7.5 0 0 0 2-1.2l2.4.9 2-3.4-2-1.6c.1-.4.1-.8.1-1.2Z"
    ),
    "search": "M11 18a7 7 0 1 0 0-14 7 7 0 0 0 0 14Zm9 2-4-4",
    "upload": "M12 16V4m0 0-4 4m4-4 4 4M4 16v4h16v-4",
    "play": "M7 5v14l12-7z",
    "trash": "M5 7h14M10 11v6m4-6v6M6 7l1 13h10l1-13M9 7V4h6v3",
    "retry": "M4 4v6h6M20 20v-6h-6M5 15a8 8 0 0 0 14 2M19 9A8 8 0 0 0 5 7",
    "check": "m5 13 4 4L19 7",
    "x": "M6 6l12 12M18 6 6 18",
    "image": "M4 5h16v14H4zM4 16l5-5 4 4 3-3 4 4M15 9h.01",
    "clock": "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18Zm0-13v5l3 2",
    "link": "M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1",
    "sparkles": (
        "M12 3l1.8 4.2L18 9l-4.2 1.8L12 15l-1.8-4.2L6 9l4.2-1.8zM18 15l.9 2.1L21 18l-2.1.9L18 21l-.9-2.1L15 18l2.1-.9z"
    ),
    "logout": "M15 12H4m0 0 4-4m-4 4 4 4M14 4h6v16h-6",
    "wave": "M3 12h2m2-4v8m4-12v16m4-12v8m4-5v2m2-1h0",
}


@register.simple_tag
def icon(name: str, size: str = "size-5", extra: str = "") -> SafeString:
    path = _ICONS.get(name, _ICONS["notes"])
    return format_html(
        '<svg class="{} {}" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="1.8" '
        'stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false"><path d="{}"/></svg>',
        size,
        extra,
        path,
    )


@register.filter
def duration(seconds: Any) -> str:
    """1:05 for 65 seconds; 1:02:03 past an hour; an em dash when unknown."""
    try:
        total = round(float(seconds))
    except (TypeError, ValueError):
        return "—"
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@register.filter
def highlight(text: Any, query: str | None) -> SafeString:
    """Escape `text` and wrap its whole words that match the query's meaningful words in <mark>.

    Words are compared as search compares them (notes.text.match_terms: normalised, stemmed,
    without stopwords), so "the" is never marked and "in" does not light up inside "morning"."""
    raw = str(text or "")
    terms = match_terms(query or "")
    if not terms:
        return escape(raw)
    html = []
    last = 0
    for match in _WORD.finditer(raw):
        if match_terms(match.group()) & terms:
            html.append(f"{escape(raw[last : match.start()])}<mark>{escape(match.group())}</mark>")
            last = match.end()
    html.append(str(escape(raw[last:])))
    return mark_safe("".join(html))  # noqa: S308 (every piece escaped above)


@register.filter
def percent(used: Any, limit: Any) -> int:
    try:
        return max(0, min(100, round(100 * float(used) / float(limit))))
    except (TypeError, ValueError, ZeroDivisionError):
        return 0


@register.filter
def startswith(value: Any, prefix: str) -> bool:
    return str(value or "").startswith(prefix)


@register.simple_tag
def web_nav() -> list[tuple[str, str, str, str]]:
    """(url-name prefix, label, icon, url) for the app's main sections."""
    from django.urls import reverse

    return [
        ("record", "Record", "mic", reverse("web:record")),
        ("notes", "Notes", "notes", reverse("web:notes")),
        ("todos", "To-do", "check", reverse("web:todos")),
        ("chat", "Chat", "chat", reverse("web:chat")),
        ("posts", "Posts", "posts", reverse("web:posts")),
        ("settings", "Settings", "settings", reverse("web:settings")),
    ]
