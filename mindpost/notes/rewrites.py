"""Rewrites: a note retold in a style (clean-up, email, ...) and kept as a NoteVersion beside it.

The transcript is never touched: the job writes only its own NoteVersion row. Styles are data
(STYLES below, plus the user's own saved in NoteSettings.rewrite_styles_data), so adding one is
a line here, not a code path.

Each rewrite counts one GENERATIONS unit, like a post draft (a person asked for model output in
their voice); it is given back when the rewrite fails. The model call takes the admission queue
in the DRAFT lane (someone is waiting, but chat still goes first).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.ai import get_chat_model
from mindpost.ai.queue import Lane, llm_slot
from mindpost.ai.types import AIError, TransientAIError
from mindpost.billing import metering
from mindpost.core.errors import AppError, Conflict, Invalid, NotFound, Unprocessable
from mindpost.notes import tasks
from mindpost.notes.models import Note, NoteSettings, NoteStatus, NoteVersion, RewriteStatus

logger = logging.getLogger(__name__)

CUSTOM_PREFIX = "custom:"
MAX_CUSTOM_STYLES = 10
MAX_NAME_CHARS = 40
MAX_INSTRUCTIONS_CHARS = 500
MAX_INPUT_CHARS = 6_000  # about 1,500 tokens: the 1.5B model's context holds it with room for the reply
MAX_REPLY_TOKENS = 1_024
# A version still pending after this long lost its job (a worker died mid-call): shown as failed.
STALE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True)
class Style:
    key: str
    label: str
    instructions: str


STYLES: tuple[Style, ...] = (
    Style(
        "clean_up",
        "Clean up",
        "Rewrite it as clean, readable text. Remove filler words (um, uh, like, you know), false starts and "
        "repetitions, and fix grammar and punctuation. Keep my words, my meaning and the order of ideas.",
    ),
    Style("summary", "Summary", "Summarise it in two to four sentences: the main point first, then what matters."),
    Style(
        "email",
        "Email",
        "Turn it into an email I could send: a first line 'Subject: ...', a short greeting, clear short "
        "paragraphs and a brief sign-off without a name.",
    ),
    Style(
        "journal",
        "Journal entry",
        "Turn it into a reflective journal entry in the first person, in flowing paragraphs, past tense for "
        "what happened.",
    ),
    Style(
        "meeting_notes",
        "Meeting notes",
        "Turn it into meeting notes in Markdown with the headings '## Discussion', '## Decisions' and "
        "'## Action items' (as '- [ ] ...'). Leave a section out when the note says nothing for it.",
    ),
    Style(
        "linkedin_post",
        "LinkedIn post",
        "Turn it into a LinkedIn post: a strong first line, short paragraphs, a professional but personal tone, "
        "at most 1,300 characters, and two or three relevant hashtags at the end.",
    ),
)
_BUILT_IN = {style.key: style for style in STYLES}

FAILURE_MESSAGES = {
    "model_busy": "The writing model was busy. Try again in a moment.",
    "model_unavailable": "The writing model is unavailable right now. Try again in a moment.",
    "generation_failed": "The writing model could not rewrite this note. Try again.",
    "unknown_style": "That style no longer exists.",
    "rewrite_timed_out": "The rewrite took too long and was stopped. Try again.",
}


# --- styles ----------------------------------------------------------------------------------


def custom_styles(*, user: User, note_settings: NoteSettings | None = None) -> list[dict[str, str]]:
    """The user's own styles, as saved: [{"name", "instructions"}] (selector). Pass the user's
    settings row when you have it already, to save the query."""
    raw: str | None
    if note_settings is not None:
        raw = note_settings.rewrite_styles_data
    else:
        raw = NoteSettings.objects.filter(user=user).values_list("rewrite_styles_data", flat=True).first()
    try:
        data = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [s for s in data if isinstance(s, dict) and "name" in s] if isinstance(data, list) else []


def styles_for(*, user: User) -> list[Style]:
    """Every style this user can pick: the built-in ones, then their own ("custom:<name>")."""
    own = [
        Style(f"{CUSTOM_PREFIX}{s['name']}", str(s["name"]), str(s.get("instructions", "")))
        for s in custom_styles(user=user)
    ]
    return [*STYLES, *own]


def style_label(key: str) -> str:
    builtin = _BUILT_IN.get(key)
    return builtin.label if builtin else key.removeprefix(CUSTOM_PREFIX)


def style_resolve(*, user: User, key: str) -> Style:
    """The style `key` names for this user, or Invalid `unknown_style`."""
    key = (key or "").strip()
    for style in styles_for(user=user) if key.startswith(CUSTOM_PREFIX) else STYLES:
        if style.key == key:
            return style
    choices = ", ".join(style.key for style in styles_for(user=user))
    raise Invalid(
        f"Unknown style. Choose one of: {choices}.", code="unknown_style", fields={"style": [f"One of: {choices}."]}
    )


def custom_styles_clean(value: Any) -> list[dict[str, str]]:
    """Check a list of the user's own styles; Invalid with a code on the first problem."""
    if not isinstance(value, list):
        raise Invalid("rewrite_styles must be a list.", code="invalid_styles", fields={"rewrite_styles": ["A list."]})
    if len(value) > MAX_CUSTOM_STYLES:
        raise Invalid(
            f"At most {MAX_CUSTOM_STYLES} styles.",
            code="too_many_styles",
            fields={"rewrite_styles": [f"At most {MAX_CUSTOM_STYLES}."]},
        )
    cleaned: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"rewrite_styles[{index}]"
        if not isinstance(item, dict):
            raise Invalid("Each style is {name, instructions}.", code="invalid_styles", fields={where: ["An object."]})
        name, instructions = item.get("name"), item.get("instructions")
        if not isinstance(name, str) or not isinstance(instructions, str):
            raise Invalid("Name and instructions are text.", code="invalid_styles", fields={where: ["Text fields."]})
        name = " ".join(name.split())  # one line: it is shown in a menu and used in the key
        instructions = instructions.strip()
        if not name:
            raise Invalid("Give the style a name.", code="style_name_required", fields={f"{where}.name": ["Required."]})
        if len(name) > MAX_NAME_CHARS:
            raise Invalid(
                f"A style name has at most {MAX_NAME_CHARS} characters.",
                code="style_name_too_long",
                fields={f"{where}.name": [f"At most {MAX_NAME_CHARS} characters."]},
            )
        if not instructions:
            raise Invalid(
                "Say how to rewrite.",
                code="style_instructions_required",
                fields={f"{where}.instructions": ["Required."]},
            )
        if len(instructions) > MAX_INSTRUCTIONS_CHARS:
            raise Invalid(
                f"Instructions have at most {MAX_INSTRUCTIONS_CHARS} characters.",
                code="style_instructions_too_long",
                fields={f"{where}.instructions": [f"At most {MAX_INSTRUCTIONS_CHARS} characters."]},
            )
        if name.casefold() in seen:
            raise Invalid(
                "Two styles have the same name.", code="duplicate_style", fields={f"{where}.name": ["Taken."]}
            )
        seen.add(name.casefold())
        cleaned.append({"name": name, "instructions": instructions})
    return cleaned


def custom_styles_set(*, user: User, styles: Any) -> list[dict[str, str]]:
    """Replace the user's own styles (validated first; see custom_styles_clean)."""
    cleaned = custom_styles_clean(styles)
    note_settings, _ = NoteSettings.objects.get_or_create(user=user)
    note_settings.rewrite_styles_data = json.dumps(cleaned, ensure_ascii=False) if cleaned else ""
    note_settings.save(update_fields=["rewrite_styles_data", "updated_at"])
    return cleaned


# --- versions: reads -------------------------------------------------------------------------


def _expire_stale(*, note: Note) -> None:
    # Lazily, when someone looks: a pending version whose job died never finishes by itself.
    cutoff = timezone.now() - STALE_AFTER
    stale = list(NoteVersion.objects.filter(note=note, status=RewriteStatus.PENDING, updated_at__lt=cutoff))
    for version in stale:
        if _finish(version.pk, status=RewriteStatus.FAILED, failure_code="rewrite_timed_out"):
            metering.release(user=note.user, metric=metering.Metric.GENERATIONS)


def version_list(*, note: Note) -> list[NoteVersion]:
    """The rewrites of one (already authorised) note, newest first."""
    versions = list(NoteVersion.objects.filter(note=note).order_by("-created_at"))
    # The stale check is a second query only when the list holds a pending version that is overdue.
    cutoff = timezone.now() - STALE_AFTER
    if any(v.status == RewriteStatus.PENDING and v.updated_at < cutoff for v in versions):
        _expire_stale(note=note)
        versions = list(NoteVersion.objects.filter(note=note).order_by("-created_at"))
    return versions


def version_get(*, note: Note, version_id: uuid.UUID | str) -> NoteVersion:
    try:
        key = uuid.UUID(str(version_id))
    except ValueError as exc:
        raise NotFound("Version not found.") from exc
    _expire_stale(note=note)
    version = NoteVersion.objects.filter(note=note, pk=key).first()
    if version is None:
        raise NotFound("Version not found.")
    return version


def version_status(*, version_id: uuid.UUID) -> str | None:
    """Read fresh from the database (Prefer: wait polling)."""
    return NoteVersion.objects.filter(pk=version_id).values_list("status", flat=True).first()


def failure_message(version: NoteVersion) -> str:
    return FAILURE_MESSAGES.get(version.failure_code, FAILURE_MESSAGES["generation_failed"])


# --- versions: writes ------------------------------------------------------------------------


def rewrite_request(*, user: User, note: Note, style: str) -> NoteVersion:
    """Check the request (4xx before anything is queued), take one GENERATIONS unit, store a
    pending version and queue the job once this transaction commits."""
    resolved = style_resolve(user=user, key=style)
    if note.status != NoteStatus.READY:
        raise Conflict("This note is still being processed or failed.", code="note_not_ready")
    if not (note.transcription or "").strip():
        raise Unprocessable("This note has no text to rewrite.", code="note_empty")
    with transaction.atomic():
        metering.reserve(user=user, metric=metering.Metric.GENERATIONS)
        version = NoteVersion.objects.create(user=user, note=note, style=resolved.key)
        tasks.defer_rewrite_note(version_id=version.pk)
    return version


def version_delete(*, version: NoteVersion) -> None:
    version.delete()


def _finish(version_id: uuid.UUID, **values: Any) -> bool:
    """Record the outcome once: only a version still pending changes (a duplicate run, or one
    deleted meanwhile, changes nothing)."""
    return bool(
        NoteVersion.objects.filter(pk=version_id, status=RewriteStatus.PENDING).update(
            **values, updated_at=timezone.now()
        )
    )


def _messages(*, style: Style, text: str) -> list[dict[str, str]]:
    system = "\n".join(
        [
            "You rewrite a person's own note (often transcribed speech) in the style they ask for.",
            "Rules:",
            "- Use only what the note says: never add facts, names, numbers, dates or opinions.",
            "- Write as the person, in the first person, in the language of the note.",
            "- Reply with the rewritten text only: no preamble, no comments, no quotes around it.",
            f"Style: {style.instructions}",
        ]
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": f"My note:\n\n{text}"}]


_FENCE = re.compile(r"^```[a-zA-Z]*\n(.*)\n```$", re.DOTALL)
_PREAMBLE = re.compile(r"^(sure|here is|here's)\b[^\n]*:\s*\n+", re.IGNORECASE)


def clean_reply(raw: str) -> str:
    """The model's text without a code fence or a 'Here is ...:' line around it."""
    text = (raw or "").strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    return _PREAMBLE.sub("", text, count=1).strip()


def _failure_code(exc: Exception) -> str:
    if isinstance(exc, TransientAIError):  # the model server is down or overloaded
        return "model_unavailable"
    if isinstance(exc, AppError) and exc.code in FAILURE_MESSAGES:  # model_busy (queue), unknown_style
        return exc.code
    return "generation_failed"


def rewrite_run(*, version_id: uuid.UUID | str) -> None:
    """The job: write a pending version's body. Failures are recorded on the version (with a
    failure_code) and give the unit back; they are not raised, so the job is not retried (the
    person asks again, as for drafts). Only the NoteVersion row is written."""
    version = NoteVersion.objects.select_related("note", "user").filter(pk=version_id).first()
    if version is None or version.status != RewriteStatus.PENDING:
        return  # deleted, or already run (a duplicate delivery)
    user, note = version.user, version.note
    text = (note.transcription or "").strip()
    if len(text) > MAX_INPUT_CHARS:
        text = text[:MAX_INPUT_CHARS].rsplit(" ", 1)[0]
    try:
        style = style_resolve(user=user, key=version.style)
        model = get_chat_model()
        max_tokens = max(256, min(MAX_REPLY_TOKENS, len(text) // 3 + 128))
        with llm_slot(lane=Lane.DRAFT):
            raw = model.complete(messages=_messages(style=style, text=text), max_tokens=max_tokens, temperature=0.3)
        body = clean_reply(raw)
    except Exception as exc:
        code = _failure_code(exc)
        if code == "generation_failed" and not isinstance(exc, AIError | AppError):
            logger.exception("rewrite crashed", extra={"version_id": str(version.pk)})
        if _finish(version.pk, status=RewriteStatus.FAILED, failure_code=code):
            metering.release(user=user, metric=metering.Metric.GENERATIONS)
        logger.info("rewrite failed", extra={"version_id": str(version.pk), "code": code})
        return
    if not body:
        if _finish(version.pk, status=RewriteStatus.FAILED, failure_code="generation_failed"):
            metering.release(user=user, metric=metering.Metric.GENERATIONS)
        return
    _finish(version.pk, status=RewriteStatus.DONE, body=body, model=str(model.model_name)[:200])
    logger.info("rewrite written", extra={"version_id": str(version.pk), "style": version.style, "chars": len(body)})


__all__ = [
    "FAILURE_MESSAGES",
    "STYLES",
    "Style",
    "clean_reply",
    "custom_styles",
    "custom_styles_set",
    "rewrite_request",
    "rewrite_run",
    "style_resolve",
    "styles_for",
    "version_delete",
    "version_get",
    "version_list",
    "version_status",
]
