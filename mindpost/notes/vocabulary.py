"""The user's own words: names and terms passed to Whisper, and "fix this name everywhere".

Sources of a user's words, most important first: the vocabulary list in settings (typed by the
user, plus the names learnt from their transcript edits and name fixes, appended to it so they
can see and remove them), then their tags. Whisper reads at most 224 prompt tokens, so the prompt
keeps the leading terms that fit.

Matching for the replace is case-insensitive and accent-insensitive ("joaquin" finds "Joaquín")
on word boundaries, so "Afrio" never rewrites "Afrion".
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from mindpost.accounts.models import User
from mindpost.core.errors import Invalid
from mindpost.notes import tasks
from mindpost.notes.models import ActionItem, Note, NoteSettings, NoteStatus, UserTag

MAX_TERMS = 200
MAX_TERM_CHARS = 60
# Whisper's prompt window is 224 tokens. We have no tokenizer here (the ai package owns it), so
# each term is costed pessimistically: uncommon names split into ~1 token per 2 UTF-8 bytes, plus
# one for the ", " between terms. 200 leaves room for that estimate being off.
PROMPT_TOKEN_BUDGET = 200
# Tags are the weakest signal (often common words): only the most used ones.
PROMPT_MAX_TAGS = 30


# --- Terms -----------------------------------------------------------------------------


def _clean_term(term: str) -> str:
    return " ".join(term.split())


def parse_terms(text: str) -> list[str]:
    """The terms of a vocabulary text (one per line), cleaned and without duplicates (any case)."""
    seen: set[str] = set()
    terms: list[str] = []
    for line in (text or "").splitlines():
        term = _clean_term(line)
        key = fold(term)
        if term and key not in seen:
            seen.add(key)
            terms.append(term)
    return terms


def validate_vocabulary(text: Any) -> str:
    """The vocabulary as stored (one term per line), or Invalid with a code."""
    if isinstance(text, list):
        text = "\n".join(str(item) for item in text)
    if not isinstance(text, str):
        raise Invalid("The vocabulary must be text, one term per line.", code="invalid_vocabulary")
    terms = parse_terms(text)
    too_long = [term for term in terms if len(term) > MAX_TERM_CHARS]
    if too_long:
        raise Invalid(
            f"Each term must be at most {MAX_TERM_CHARS} characters.",
            code="vocabulary_term_too_long",
            fields={"vocabulary": [f"{too_long[0][:MAX_TERM_CHARS]}… is longer than {MAX_TERM_CHARS} characters."]},
        )
    if len(terms) > MAX_TERMS:
        raise Invalid(
            f"The vocabulary can hold at most {MAX_TERMS} terms.",
            code="vocabulary_too_many_terms",
            fields={"vocabulary": [f"{len(terms)} terms; at most {MAX_TERMS}."]},
        )
    return "\n".join(terms)


def vocabulary_add(*, user: User, terms: list[str]) -> list[str]:
    """Append new terms to the user's vocabulary (up to MAX_TERMS); returns the ones added."""
    wanted = [term for term in (_clean_term(t) for t in terms) if term and len(term) <= MAX_TERM_CHARS]
    if not wanted:
        return []
    with transaction.atomic():
        note_settings, _ = NoteSettings.objects.select_for_update().get_or_create(user=user)
        current = parse_terms(note_settings.vocabulary)
        known = {fold(term) for term in current}
        added: list[str] = []
        for term in wanted:
            if len(current) >= MAX_TERMS:
                break  # full: the user's own list wins over what we guessed
            if fold(term) not in known:
                known.add(fold(term))
                current.append(term)
                added.append(term)
        if added:
            note_settings.vocabulary = "\n".join(current)
            note_settings.save(update_fields=["vocabulary", "updated_at"])
    return added


# Capitalised words that start sentences or are capitalised anyway: never "names" on their own.
_COMMON_TEXT = """
    i a an the and but or so if then when while this that these those there here it its he she we they you
    my your his her our their me him us them what who why how where which yes no not ok okay also just
    today tomorrow yesterday monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    mr mrs ms dr
"""
_COMMON_CAPITALISED = frozenset(_COMMON_TEXT.split())
_NAME_WORD = re.compile(r"[^\W\d_][\w'\u2019-]*")


def learned_terms(*, before: str, after: str) -> list[str]:
    """Names the user introduced by editing: runs of capitalised words in `after` with at least one
    new word ("Tavroza" -> "Stavros" learns "Stavros"; "stavros" -> "Stavros" mid-sentence too)."""
    known = {fold(word) for word in _NAME_WORD.findall(before)}
    before_exact = set(_NAME_WORD.findall(before))
    # A word the user also writes in lower case ("the", "call") is an ordinary word, not a name.
    ordinary = _COMMON_CAPITALISED | {fold(word) for word in _NAME_WORD.findall(after) if word[:1].islower()}
    found: list[str] = []
    run: list[str] = []
    run_is_new = False

    def flush() -> None:
        nonlocal run, run_is_new
        if run and run_is_new:
            term = " ".join(run)
            if fold(term) not in {fold(t) for t in found} and len(term) <= MAX_TERM_CHARS:
                found.append(term)
        run, run_is_new = [], False

    for match in _NAME_WORD.finditer(after):
        word = re.sub(r"(?:['\u2019]s?|-)$", "", match.group())  # "Stavros's" -> "Stavros"
        preceding = after[: match.start()].rstrip()
        sentence_start = not preceding or preceding[-1] in ".!?\n"
        if run and preceding[-1:] in {".", "!", "?", ",", ";", ":"}:
            flush()
        capitalised = word[:1].isupper() and fold(word) not in ordinary
        # Sentence case alone teaches nothing: "call" -> "Call" at the start of a sentence.
        if capitalised and sentence_start and fold(word) in known:
            capitalised = False
        if capitalised:
            run.append(word)
            run_is_new = run_is_new or fold(word) not in known or word not in before_exact
        else:
            flush()
    flush()
    return found


def vocabulary_learn_from_edit(*, user: User, before: str, after: str) -> list[str]:
    """Record the names a transcript edit introduced; returns the ones added."""
    terms = learned_terms(before=before, after=after)
    return vocabulary_add(user=user, terms=terms) if terms else []


# --- The Whisper prompt ----------------------------------------------------------------


def _token_cost(term: str) -> int:
    return -(-len(term.encode()) // 2) + 1


def prompt_from_terms(terms: list[str], *, budget: int = PROMPT_TOKEN_BUDGET) -> str:
    """Comma-separated terms in order, as many of the leading ones as fit the token budget."""
    kept: list[str] = []
    seen: set[str] = set()
    spent = 0
    for term in terms:
        term = _clean_term(term)
        key = fold(term)
        if not term or key in seen:
            continue
        cost = _token_cost(term)
        if spent + cost > budget:
            break  # keep the order: a later, shorter term is less important than this one
        seen.add(key)
        kept.append(term)
        spent += cost
    return ", ".join(kept) + "." if kept else ""


def transcription_prompt(*, user: User) -> str:
    """The user's words for Whisper (settings vocabulary incl. learnt names, then tags), or ""."""
    vocabulary = NoteSettings.objects.filter(user=user).values_list("vocabulary", flat=True).first()
    terms = parse_terms(vocabulary or "")
    # `name` is encrypted (so no ORDER BY on it): order by use, which the model's Meta does.
    tags = [tag.name for tag in UserTag.objects.filter(user=user).only("name")[:PROMPT_MAX_TAGS]]
    return prompt_from_terms(terms + [tag for tag in tags if tag])


# --- Fix a name everywhere ---------------------------------------------------------------


def fold(text: str) -> str:
    """Lower case without accents: the key for comparing names."""
    return "".join(_fold_char(char) for char in text)


def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _folded_with_offsets(text: str) -> tuple[str, list[int]]:
    """`text` folded, and for each folded character the index of the original one (plus the end)."""
    pieces: list[str] = []
    offsets: list[int] = []
    for index, char in enumerate(text):
        folded = _fold_char(char)
        pieces.append(folded)
        offsets.extend([index] * len(folded))
    offsets.append(len(text))
    return "".join(pieces), offsets


@dataclass(frozen=True)
class Replacement:
    find: str
    replace: str
    pattern: re.Pattern[str]

    def apply(self, text: str) -> str:
        if not text:
            return text
        folded, offsets = _folded_with_offsets(text)
        matches = list(self.pattern.finditer(folded))
        if not matches:
            return text
        out: list[str] = []
        last = 0
        for match in matches:
            start, end = offsets[match.start()], offsets[match.end()]
            out.append(text[last:start])
            out.append(self.replace)
            last = end
        out.append(text[last:])
        return "".join(out)


def _check_term(value: Any, *, field: str) -> str:
    if not isinstance(value, str) or not _clean_term(value):
        raise Invalid("Enter the name to find and its replacement.", code="empty_term", fields={field: ["Required."]})
    term = _clean_term(value)
    if len(term) > MAX_TERM_CHARS:
        raise Invalid(
            f"A name can be at most {MAX_TERM_CHARS} characters.",
            code="term_too_long",
            fields={field: [f"At most {MAX_TERM_CHARS} characters."]},
        )
    return term


def replacement(*, find: Any, replace: Any) -> Replacement:
    """A checked replacement (Invalid with a code for empty or too long input)."""
    find_term = _check_term(find, field="find")
    replace_term = _check_term(replace, field="replace")
    words = [re.escape(fold(word)) for word in find_term.split()]
    if not any(re.search(r"\w", word) for word in words):
        raise Invalid("The name to find needs a letter or a digit.", code="invalid_term", fields={"find": ["Invalid."]})
    # Word boundaries that also hold next to accented letters, and any spacing between words.
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")
    return Replacement(find=find_term, replace=replace_term, pattern=pattern)


def _note_changes(note: Note, items: list[ActionItem], rule: Replacement) -> tuple[dict[str, Any], list[ActionItem]]:
    """The note fields and action items that the replacement changes (nothing written)."""
    changes: dict[str, Any] = {}
    for field in ("transcription", "title", "summary"):
        new = rule.apply(getattr(note, field))
        if new != getattr(note, field):
            changes[field] = new
    segments = note.segments
    new_segments = [{**segment, "text": rule.apply(str(segment.get("text", "")))} for segment in segments]
    if new_segments != segments:
        changes["segments"] = new_segments
    points = note.key_points
    new_points = [rule.apply(point) if isinstance(point, str) else point for point in points]
    if new_points != points:
        changes["key_points"] = new_points
    changed_items = []
    for item in items:
        new = rule.apply(item.text)
        if new != item.text:
            item.text = new
            changed_items.append(item)
    return changes, changed_items


def _ready_notes(user: User) -> Any:
    # Only ready notes: a processing note's job owns its transcript until it is indexed.
    return Note.objects.filter(user=user, status=NoteStatus.READY).order_by("pk")


def _items_by_note(user: User) -> dict[uuid.UUID, list[ActionItem]]:
    grouped: dict[uuid.UUID, list[ActionItem]] = {}
    for item in ActionItem.objects.filter(user=user, note__status=NoteStatus.READY):
        grouped.setdefault(item.note_id, []).append(item)
    return grouped


def vocabulary_replace_preview(*, user: User, find: Any, replace: Any) -> int:
    """How many of the user's notes `vocabulary_replace` would change (nothing written)."""
    rule = replacement(find=find, replace=replace)
    items = _items_by_note(user)
    return sum(
        1
        for note in _ready_notes(user).iterator(chunk_size=200)
        if any(_note_changes(note, items.get(note.pk, []), rule))
    )


def vocabulary_replace(*, user: User, find: Any, replace: Any) -> int:
    """Replace a misheard name across the user's notes; returns how many notes changed.

    Changed notes are marked edited, the replacement joins the vocabulary (so later recordings
    spell it right), and only notes whose transcript changed are re-indexed (after commit).
    """
    rule = replacement(find=find, replace=replace)
    items = _items_by_note(user)
    candidates = [
        note.pk
        for note in _ready_notes(user).iterator(chunk_size=200)
        if any(_note_changes(note, items.get(note.pk, []), rule))
    ]
    changed = 0
    with transaction.atomic():
        for note_id in candidates:
            # Again under the row lock: the note may have been edited since the scan.
            note = Note.objects.select_for_update().filter(pk=note_id, status=NoteStatus.READY).first()
            if note is None:
                continue
            note_items = list(ActionItem.objects.filter(note=note))
            changes, changed_items = _note_changes(note, note_items, rule)
            if not changes and not changed_items:
                continue
            for field, value in changes.items():
                setattr(note, field, value)
            note.edited = True
            fields = {"segments": "segments_data", "key_points": "key_points_data"}
            note.save(update_fields=[fields.get(name, name) for name in changes] + ["edited", "updated_at"])
            for item in changed_items:
                item.save(update_fields=["text", "updated_at"])
            if "transcription" in changes or "segments" in changes:
                tasks.defer_reindex_note(note_id=note.pk)  # queued once this transaction commits
            changed += 1
        vocabulary_add(user=user, terms=[rule.replace])
    return changed
