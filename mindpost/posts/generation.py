"""Post variants from the user's notes, in their voice, that really fit the limit.

The model is asked for strict JSON. Its reply is parsed defensively (code fences,
prose around the JSON, wrong shapes); a bad reply is retried once with a repair
request and never reaches the client. Length is counted here with X's weighted rules,
never taken from the model: a variant over the limit is regenerated once, then trimmed
at a sentence boundary.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from mindpost.accounts.models import User
from mindpost.ai import get_chat_model
from mindpost.ai.types import AIError, TransientAIError
from mindpost.billing import metering
from mindpost.core.errors import AppError, Invalid, Unavailable, UpstreamFailed
from mindpost.notes.models import Note, NoteStatus
from mindpost.posts import length, selectors
from mindpost.posts.models import PostFormat
from mindpost.posts.networks.base import Network

logger = logging.getLogger(__name__)

SHORT_MAX = 280
MEDIUM_MAX = 1000
MAX_TOPICS = 5
MAX_HASHTAG_CHARS = 40


@dataclass(frozen=True)
class Variant:
    post_text: str
    topics: list[str]  # valid X hashtags without the "#" (see `hashtag`)
    character_count: int
    parts: list[str]  # thread posts as they will be published; [] for single posts
    # The draft as the web card shows it and "Use draft" puts it in the editor: the text with the
    # hashtags that fit the limit (see `with_hashtags`). One string, built here, for both.
    draft_text: str = ""
    draft_count: int = 0


# --- hashtags --------------------------------------------------------------------------------
def _hashtag_char(char: str) -> bool:
    # What X (twitter-text's hashtag rule) accepts in a hashtag: letters, marks, decimal digits, "_".
    return char == "_" or unicodedata.category(char)[0] in "LM" or unicodedata.category(char) == "Nd"


def hashtag(topic: Any) -> str | None:
    """A model's topic as a valid X hashtag, without the "#"; None when it cannot be one.

    Words are joined in CamelCase ("remote work" -> "RemoteWork", "#self-care" -> "SelfCare"):
    X hashtags end at the first space or punctuation, and CamelCase stays readable (and is read
    word by word by screen readers). A single word keeps its case ("AI", "python"). Pure digits
    ("#2024") are not hashtags on X; over MAX_HASHTAG_CHARS is a sentence, not a tag: both dropped."""
    if not isinstance(topic, str):
        return None
    words, word = [], ""
    for char in unicodedata.normalize("NFC", topic.strip().lstrip("#\uff03")):
        if _hashtag_char(char):
            word += char
        elif word:
            words.append(word)
            word = ""
    if word:
        words.append(word)
    if len(words) > 1:
        words = [w[:1].upper() + w[1:] for w in words]
    tag = "".join(words)
    if not tag or len(tag) > MAX_HASHTAG_CHARS or not any(unicodedata.category(c)[0] in "LM" for c in tag):
        return None
    return tag


def hashtags(topics: Any) -> list[str]:
    """The valid, distinct (case-insensitively) hashtags of a list of topics, at most MAX_TOPICS."""
    out: dict[str, str] = {}
    for topic in topics if isinstance(topics, list) else []:
        tag = hashtag(topic)
        if tag is not None:
            out.setdefault(tag.casefold(), tag)
    return list(out.values())[:MAX_TOPICS]


def with_hashtags(text: str, topics: list[str], *, limit: int, sep: str = "\n\n") -> str:
    """`text` followed by the hashtags it does not already contain, as many as fit in `limit`
    (X's weighted length; for a thread, `text` is its last post)."""
    present = {match.casefold() for match in re.findall(r"#(\w+)", text)}
    tags: list[str] = []
    for topic in topics:
        if topic.casefold() in present:
            continue
        candidate = " ".join(f"#{t}" for t in [*tags, topic])
        if length.fits(f"{text}{sep}{candidate}", limit):
            tags.append(topic)
    return f"{text}{sep}{' '.join('#' + t for t in tags)}" if tags else text


@dataclass(frozen=True)
class Generation:
    variants: list[Variant]
    char_limit: int
    model: str


def variant_range(max_chars: int) -> tuple[int, int]:
    """How many variants to ask for: (at least, at most)."""
    if max_chars <= SHORT_MAX:
        return 3, 3
    if max_chars <= MEDIUM_MAX:
        return 2, 3
    return 1, 2


# --- notes ---------------------------------------------------------------------------------
def _ready_notes(*, user: User, note_ids: list[uuid.UUID]) -> list[Note]:
    if not note_ids:
        raise Invalid(
            "No brain dump UUIDs were provided.",
            code="notes_required",
            fields={"note_ids": ["Pick at least one note."]},
        )
    unique = list(dict.fromkeys(note_ids))
    if len(unique) > settings.POSTS_GENERATION_MAX_NOTES:
        raise Invalid(
            f"Pick at most {settings.POSTS_GENERATION_MAX_NOTES} notes.",
            code="too_many_notes",
            fields={"note_ids": [f"At most {settings.POSTS_GENERATION_MAX_NOTES} notes."]},
        )
    notes = {note.pk: note for note in Note.objects.filter(user=user, pk__in=unique)}
    missing = [str(note_id) for note_id in unique if note_id not in notes]
    if missing:
        # Someone else's note is reported exactly like a note that doesn't exist.
        raise Invalid(
            "No valid brain dumps found for the provided UUIDs.",
            code="notes_not_found",
            fields={"note_ids": [f"Unknown note: {note_id}" for note_id in missing]},
        )
    not_ready = [str(pk) for pk, note in notes.items() if note.status != NoteStatus.READY]
    if not_ready:
        raise Invalid(
            "Some notes are still being processed or failed.",
            code="notes_not_ready",
            fields={"note_ids": [f"Not ready: {note_id}" for note_id in not_ready]},
        )
    ordered = sorted(notes.values(), key=lambda note: note.created_at)
    if not any((note.transcription or "").strip() for note in ordered):
        raise Invalid("These notes have no text to write about.", code="notes_empty")
    return ordered


def _notes_text(notes: list[Any]) -> str:
    text = "\n---\n".join((note.transcription or "").strip() for note in notes if (note.transcription or "").strip())
    budget = settings.POSTS_GENERATION_MAX_INPUT_CHARS
    return text if len(text) <= budget else text[:budget].rsplit(" ", 1)[0]


# --- prompts ---------------------------------------------------------------------------------
def _system_prompt(*, fmt: str, count: int, min_chars: int, max_chars: int, limit: int) -> str:
    rules = [
        "You turn a person's own notes (transcribed speech) into social media posts that they will publish.",
        "Rules:",
        "- Use only facts, names, numbers, places and opinions that appear in the notes. Never add anything new: "
        "no invented details, statistics, links, quotes or opinions.",
        "- Keep the speaker's voice: first person, their words, tone and spelling of names.",
        "- Merge related thoughts and drop filler (um, like, you know). Conversational and ready to publish.",
        "- Hashtags: " + ("end with 2-3 relevant ones." if max_chars > MEDIUM_MAX else "none."),
    ]
    if fmt == PostFormat.THREAD:
        rules += [
            f"- Write {count} different versions, each a thread: a list of posts that read well in order.",
            f"- Each post in a thread has at most {limit} characters; the whole thread about {max_chars} characters.",
            "- Do not number the posts.",
            "Reply with JSON only, exactly this shape:",
            '{"posts": [{"parts": ["first post", "second post"], "topics": ["topic"]}]}',
        ]
    else:
        rules += [
            f"- Write {count} different versions of the post.",
            f"- Each version has between {min_chars} and {max_chars} characters (never more than {max_chars}).",
            "Reply with JSON only, exactly this shape:",
            '{"posts": [{"post_text": "the post", "topics": ["topic"]}]}',
        ]
    return "\n".join(rules)


# --- parsing ---------------------------------------------------------------------------------
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _json_candidates(raw: str) -> list[str]:
    candidates = [match.strip() for match in _FENCE.findall(raw)]
    text = raw.strip()
    candidates.append(text)
    # Prose around the JSON: take the outermost object or array.
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    return candidates


def parse_reply(raw: str, *, fmt: str) -> list[dict[str, Any]]:
    """The variants in a model reply, or [] when the reply has none we can use."""
    data: Any = None
    for candidate in _json_candidates(raw or ""):
        try:
            data = json.loads(candidate)
            break
        except ValueError:
            continue
    if isinstance(data, dict):
        data = data.get("posts", data.get("variants", [data] if ("post_text" in data or "parts" in data) else None))
    if not isinstance(data, list):
        return []
    variants: list[dict[str, Any]] = []
    for item in data:
        if isinstance(item, str):
            item = {"post_text": item}
        if not isinstance(item, dict):
            continue
        topics = hashtags(item.get("topics"))
        parts_raw = item.get("parts")
        parts: list[str] = []
        if isinstance(parts_raw, list):
            parts = [p.strip() for p in parts_raw if isinstance(p, str) and p.strip()]
        text = item.get("post_text")
        text = text.strip() if isinstance(text, str) else ""
        if fmt == PostFormat.THREAD and not parts and text:
            parts = [text]
        if fmt == PostFormat.THREAD and not parts:
            continue
        if fmt != PostFormat.THREAD and not text:
            if not parts:
                continue
            text = " ".join(parts)
        variants.append({"post_text": text, "parts": parts, "topics": topics})
    return variants


# --- the model -----------------------------------------------------------------------------
def _complete(model: Any, *, messages: list[dict[str, str]], max_tokens: int, temperature: float) -> str:
    try:
        return str(model.complete(messages=messages, max_tokens=max_tokens, temperature=temperature, json=True))
    except TransientAIError as exc:
        raise Unavailable(
            "The writing model is busy or unavailable. Try again in a moment.",
            code="model_unavailable",
            extra={"retry_after": 30},
        ) from exc
    except AIError as exc:
        raise UpstreamFailed("The writing model failed on these notes.", code="generation_failed") from exc


def _ask(
    model: Any, *, messages: list[dict[str, str]], fmt: str, max_tokens: int, minimum: int
) -> list[dict[str, Any]]:
    """Ask once; on an unusable reply ask once more to repair it. Never returns malformed data."""
    raw = _complete(model, messages=messages, max_tokens=max_tokens, temperature=0.7)
    variants = parse_reply(raw, fmt=fmt)
    if len(variants) >= minimum:
        return variants
    logger.info("model reply unusable, asking again", extra={"variants": len(variants)})
    repair = [
        *messages,
        {"role": "assistant", "content": raw[:4000]},
        {
            "role": "user",
            "content": f"That reply was not in the required format or had fewer than {minimum} versions. "
            "Reply again with only the JSON object in exactly the shape described, nothing else.",
        },
    ]
    retry = parse_reply(_complete(model, messages=repair, max_tokens=max_tokens, temperature=0.3), fmt=fmt)
    best = retry if len(retry) >= len(variants) else variants
    if not best:
        raise UpstreamFailed("The writing model did not return usable posts. Try again.", code="generation_failed")
    return best


def _shorten(model: Any, *, texts: list[str], limit: int, notes: str) -> list[str | None]:
    """One regeneration for the variants that came out too long; None where it failed."""
    listing = "\n".join(f"{i + 1}. {text}" for i, text in enumerate(texts))
    messages = [
        {
            "role": "system",
            "content": "You shorten social media posts. Keep the author's voice and facts; add nothing new. "
            f"Each shortened post has at most {limit} characters. Reply with JSON only: "
            '{"posts": [{"post_text": "the shortened post", "topics": []}]}, in the same order.',
        },
        {"role": "user", "content": f"Notes they are based on:\n{notes[:4000]}\n\nPosts to shorten:\n{listing}"},
    ]
    try:
        raw = _complete(model, messages=messages, max_tokens=max(256, len(texts) * limit // 2), temperature=0.2)
    except AppError:
        return [None] * len(texts)
    shortened = parse_reply(raw, fmt=PostFormat.SINGLE)
    return [shortened[i]["post_text"] if i < len(shortened) else None for i in range(len(texts))]


def _fit_singles(model: Any, variants: list[dict[str, Any]], *, limit: int, notes: str) -> list[Variant]:
    texts = [v["post_text"] for v in variants]
    over = [i for i, text in enumerate(texts) if not length.fits(text, limit)]
    if over:
        replacements = _shorten(model, texts=[texts[i] for i in over], limit=limit, notes=notes)
        for i, replacement in zip(over, replacements, strict=True):
            texts[i] = replacement if replacement and length.fits(replacement, limit) else texts[i]
    fitted = [length.trim_to_limit(text, limit) for text in texts]
    out = []
    for text, v in zip(fitted, variants, strict=True):
        draft = with_hashtags(text, v["topics"], limit=limit)
        out.append(
            Variant(
                post_text=text,
                topics=v["topics"],
                character_count=length.weighted_length(text),
                parts=[],
                draft_text=draft,
                draft_count=length.weighted_length(draft),
            )
        )
    return out


def _fit_threads(variants: list[dict[str, Any]], *, limit: int) -> list[Variant]:
    out = []
    for v in variants:
        parts = length.split_thread(v["parts"], limit)
        counts = [length.weighted_length(part) for part in parts]
        # The hashtags close the last post (after a line break, so the editor keeps them in it).
        last = with_hashtags(parts[-1], v["topics"], limit=limit, sep="\n")
        draft_parts = [*parts[:-1], last]
        out.append(
            Variant(
                post_text="\n\n".join(parts),
                topics=v["topics"],
                character_count=max(counts),
                parts=parts,
                draft_text="\n\n".join(draft_parts),
                draft_count=max(length.weighted_length(part) for part in draft_parts),
            )
        )
    return out


def generate(
    *, user: User, note_ids: list[uuid.UUID], min_chars: int, max_chars: int, fmt: str, network: Network
) -> Generation:
    """Variants for the user's ready notes. Counts one GENERATIONS unit, given back on failure."""
    if min_chars > max_chars:
        raise Invalid(
            "min_chars must not be larger than max_chars.",
            code="invalid_length_range",
            fields={"min_chars": ["Must be at most max_chars."]},
        )
    if fmt == PostFormat.THREAD and not network.supports_threads:
        raise Invalid(f"{network.display_name} posts cannot be threads.", code="thread_not_supported")
    notes = _ready_notes(user=user, note_ids=note_ids)
    limit = selectors.char_limit(user=user, network=network)
    # A single post can't be longer than the limit, whatever was asked for.
    target = max_chars if fmt == PostFormat.THREAD else min(max_chars, limit)
    floor = min(min_chars, target)
    minimum, count = variant_range(target)
    notes_text = _notes_text(notes)
    messages = [
        {
            "role": "system",
            "content": _system_prompt(fmt=fmt, count=count, min_chars=floor, max_chars=target, limit=limit),
        },
        {"role": "user", "content": f"My notes:\n\n{notes_text}"},
    ]
    # About 3 characters per token, plus JSON; capped so prompt + answer fit the model's context.
    max_tokens = max(512, min(settings.POSTS_GENERATION_MAX_TOKENS, count * target // 3 + 256))

    with metering.metered(user=user, metric=metering.Metric.GENERATIONS):
        model = get_chat_model()
        raw_variants = _ask(model, messages=messages, fmt=fmt, max_tokens=max_tokens, minimum=minimum)
        unique = list({v["post_text"] or "\n".join(v["parts"]): v for v in raw_variants}.values())[:count]
        if fmt == PostFormat.THREAD:
            variants = _fit_threads(unique, limit=limit)
        else:
            variants = _fit_singles(model, unique, limit=target, notes=notes_text)
    logger.info(
        "posts generated",
        extra={"user_id": str(user.pk), "variants": len(variants), "format": fmt, "model": model.model_name},
    )
    return Generation(variants=variants, char_limit=limit, model=str(model.model_name))
