"""Post variants from the user's notes, in their voice, that really fit the limit.

One model call per variant, each from a different angle (ANGLES: hook, lesson, question), all
starting with the same fixed rules and notes so llama.cpp's prompt cache reuses that prefix (see
docs/architecture.md, "Post drafts", for the measurements behind this). Each reply is one JSON
object, parsed defensively (code fences, prose around the JSON, wrong shapes); only an unusable
reply costs a repair request, and nothing malformed reaches the client. Length is counted here
with X's weighted rules, never taken from the model: a variant over the limit is regenerated
once, then trimmed at a sentence boundary. `run` reports its stage and each variant as it is
ready, for the drafts job (services.draft_request_run); `generate` is the synchronous path.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from mindpost.accounts.models import User
from mindpost.ai import get_chat_model
from mindpost.ai.queue import Lane, llm_slot
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
    angle: str = ""  # the angle it was written from (ANGLES), "" when the model volunteered it


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
    stats: list[CallStats] = field(default_factory=list)


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
@dataclass(frozen=True)
class Angle:
    """One way into the same notes; each variant is written from a different one, so the three
    drafts differ in what they do, not only in wording (one JSON call for all three gave
    near-copies of each other and of the note)."""

    name: str
    instruction: str


ANGLES: tuple[Angle, ...] = (
    Angle("hook", "Open with a short, striking first line that makes people stop scrolling, then tell what happened."),
    Angle("lesson", "Say what I learned or took away from it, as a short reflection."),
    Angle("question", "Tell it in one or two sentences, then end with one question to my readers."),
)


def _system_prompt(*, fmt: str, count: int, min_chars: int, max_chars: int, limit: int) -> str:
    """The fixed part of every call of a draft: the same text for every note and every variant
    of a preset, so llama.cpp's prompt cache reuses its evaluation (the notes and the angle come after)."""
    rules = [
        "You ghostwrite social media posts for a person, from their own notes (transcribed speech).",
        "Rules:",
        '- Write as that person, in the first person ("I"). Never talk to them, never mention "the notes".',
        "- Use only facts, names, numbers, places and opinions that appear in the notes. Never add anything new: "
        "no invented details, statistics, links, quotes, advice or opinions.",
        "- Use your own words: do not copy whole sentences from the notes. Drop filler (um, like, you know).",
        f"- They get {count} different versions, each from a different angle; write only the version asked for.",
        "- Hashtags: " + ("end with 2-3 relevant ones." if max_chars > MEDIUM_MAX else "none in the text."),
        '- "topics": 1-3 short topics of the post.',
    ]
    if fmt == PostFormat.THREAD:
        rules += [
            "- Each version is a thread: a list of posts that read well in order. Do not number the posts.",
            f"- Each post in a thread has at most {limit} characters; the whole thread about {max_chars} characters.",
            "Reply with JSON only, exactly this shape:",
            '{"parts": ["first post", "second post"], "topics": ["topic"]}',
        ]
    else:
        rules += [
            f"- Each version has between {min_chars} and {max_chars} characters (never more than {max_chars}).",
            "Reply with JSON only, exactly this shape:",
            '{"post_text": "the post", "topics": ["topic"]}',
        ]
    return "\n".join(rules)


def _variant_request(*, notes_text: str, angle: Angle, index: int, count: int) -> str:
    return f"My notes:\n\n{notes_text}\n\nWrite version {index} of {count}. Angle: {angle.name}. {angle.instruction}"


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


_CUT_POST = re.compile(r'"post_text"\s*:\s*"((?:[^"\\]|\\.)*)\Z', re.DOTALL)
_WHOLE_POST = re.compile(r'"post_text"\s*:\s*"((?:[^"\\]|\\.)*)"')
_PARTIAL_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{0,3})?\Z")


def salvage_cut_reply(raw: str) -> str:
    """The whole sentences of a one-post reply that the token budget cut off (its JSON never
    closed), or "". A model that writes past the budget wrote more than the post can hold, so its
    finished sentences are kept rather than paying for a repair request (8-17 s here)."""
    raw = _PARTIAL_ESCAPE.sub("", (raw or "").rstrip())
    whole = _WHOLE_POST.search(raw)  # the cut came after the text, in the topics
    match = whole or _CUT_POST.search(raw)
    if match is None:
        return ""
    try:
        text = json.loads(f'"{match.group(1)}"').strip()
    except ValueError:
        return ""
    return text if whole else length.finished_sentences(text)  # not the sentence the cut went through


# --- similarity ------------------------------------------------------------------------------
NEAR_COPY = 0.5  # word 3-gram Jaccard at or above which two texts count as the same post reworded


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"\w+", text.casefold())
    return {tuple(words[i : i + 3]) for i in range(max(1, len(words) - 2))} if words else set()


def similarity(a: str, b: str) -> float:
    """Word 3-gram Jaccard similarity of two texts (0 = no phrase in common, 1 = same wording).

    Measures copied *wording*: two variants that share half their three-word phrases read as one
    post edited, whatever their angle. (bench/drafts.py also reports e5 cosine, for meaning.)"""
    x, y = _shingles(a), _shingles(b)
    return len(x & y) / len(x | y) if x and y else 0.0


# --- the model -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CallStats:
    """Where one model call's time went, as llama.cpp reports it (`usage`, `timings`), plus the
    wall time around it (which includes any queueing inside the server)."""

    purpose: str
    seconds: float
    prompt_tokens: int = 0
    cached_tokens: int = 0
    predicted_tokens: int = 0
    prompt_ms: float = 0.0
    predicted_ms: float = 0.0


def _raw_complete(
    model: Any, *, messages: list[dict[str, str]], max_tokens: int, temperature: float
) -> tuple[str, dict[str, Any]]:
    """The reply text and the server's `usage`/`timings` (empty for backends that don't say)."""
    build = getattr(model, "_request", None)
    client = getattr(model, "client", None)
    if build is None or client is None:  # another ChatModel implementation: text only
        return str(model.complete(messages=messages, max_tokens=max_tokens, temperature=temperature, json=True)), {}
    from mindpost.ai.clients import mapped_errors

    request = build(messages, max_tokens, temperature, json=True)
    with mapped_errors(model.label):
        response = client.chat.completions.create(**request)
    if not response.choices or response.choices[0].message.content is None:
        raise AIError(f"{model.label} returned no text.")
    usage = response.usage.model_dump() if response.usage is not None else {}
    extra = response.model_extra or {}
    return str(response.choices[0].message.content).strip(), {"usage": usage, "timings": extra.get("timings") or {}}


def _complete(
    model: Any,
    *,
    messages: list[dict[str, str]],
    max_tokens: int,
    temperature: float,
    purpose: str,
    stats: list[CallStats],
    on_position: Callable[[int], None] | None = None,
) -> str:
    """One model call, under the admission queue's DRAFT lane, timed into `stats`."""
    try:
        with llm_slot(lane=Lane.DRAFT, on_position=on_position):
            started = time.monotonic()
            raw, meta = _raw_complete(model, messages=messages, max_tokens=max_tokens, temperature=temperature)
    except TransientAIError as exc:
        raise Unavailable(
            "The writing model is busy or unavailable. Try again in a moment.",
            code="model_unavailable",
            extra={"retry_after": 30},
        ) from exc
    except AIError as exc:
        raise UpstreamFailed("The writing model failed on these notes.", code="generation_failed") from exc
    usage, timings = meta.get("usage", {}), meta.get("timings", {})
    call = CallStats(
        purpose=purpose,
        seconds=round(time.monotonic() - started, 3),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        cached_tokens=int(timings.get("cache_n") or 0),
        predicted_tokens=int(usage.get("completion_tokens") or 0),
        prompt_ms=float(timings.get("prompt_ms") or 0.0),
        predicted_ms=float(timings.get("predicted_ms") or 0.0),
    )
    stats.append(call)
    logger.info("draft model call", extra={**call.__dict__})
    return raw


def _ask(
    model: Any,
    *,
    messages: list[dict[str, str]],
    fmt: str,
    max_tokens: int,
    purpose: str,
    stats: list[CallStats],
    on_position: Callable[[int], None] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Ask once; only an unusable reply costs a second, repair request. Returns the variants
    ([] when both fail) and the conversation that gave them, ending with the model's reply."""
    raw = _complete(
        model,
        messages=messages,
        max_tokens=max_tokens,
        temperature=0.7,
        purpose=purpose,
        stats=stats,
        on_position=on_position,
    )
    variants = parse_reply(raw, fmt=fmt)
    if not variants and fmt != PostFormat.THREAD and (salvaged := salvage_cut_reply(raw)):
        logger.info("model reply cut at the token budget, its whole sentences kept", extra={"purpose": purpose})
        variants = [{"post_text": salvaged, "parts": [], "topics": []}]
    if variants:
        return variants, [*messages, {"role": "assistant", "content": raw}]
    logger.info("model reply unusable, asking again", extra={"purpose": purpose})
    repair = [
        *messages,
        {"role": "assistant", "content": raw[:4000]},
        {
            "role": "user",
            "content": "That reply was not in the required format. "
            "Reply again with only the JSON object in exactly the shape described, nothing else.",
        },
    ]
    raw = _complete(
        model,
        messages=repair,
        max_tokens=max_tokens,
        temperature=0.3,
        purpose=f"{purpose} (repair)",
        stats=stats,
        on_position=on_position,
    )
    return parse_reply(raw, fmt=fmt), [*repair, {"role": "assistant", "content": raw}]


def _shorten(
    model: Any, *, texts: list[str], limit: int, conversation: list[dict[str, str]], stats: list[CallStats]
) -> list[str | None]:
    """One regeneration for the variants that came out too long, None where it failed. It goes
    on from the conversation that wrote them: llama.cpp's slot still holds that prompt and the
    reply, so only the request below is evaluated (a fresh "shorten these" prompt with the notes
    cost ~16 s on 2 cores, more than writing the draft)."""
    counts = " and ".join(str(length.weighted_length(text)) for text in texts)
    them = "it" if len(texts) == 1 else f"each of the {len(texts)} posts"
    request = (
        f"Too long: {counts} characters. Write {them} again in at most {limit} characters: fewer words, "
        "the same facts and angle, nothing new. Reply with only the JSON object, in the same shape."
    )
    try:
        raw = _complete(
            model,
            messages=[*conversation, {"role": "user", "content": request}],
            max_tokens=_reply_tokens(max_chars=limit, posts=len(texts)),
            temperature=0.2,
            purpose="shorten",
            stats=stats,
        )
    except AppError:
        return [None] * len(texts)
    shortened = parse_reply(raw, fmt=PostFormat.SINGLE)
    return [shortened[i]["post_text"] if i < len(shortened) else None for i in range(len(texts))]


def _fit_singles(
    model: Any,
    variants: list[dict[str, Any]],
    *,
    limit: int,
    floor: int,
    conversation: list[dict[str, str]],
    stats: list[CallStats],
) -> list[Variant]:
    """Fit each variant to `limit`. Dropping whole sentences comes first when what is left is
    still a post (at least `floor` and half the limit long): no model call. Only what that can't
    fit is written again, once, then cut to fit."""
    texts = [v["post_text"] for v in variants]
    enough = max(floor, limit // 2)
    for i, text in enumerate(texts):
        trimmed = length.trim_sentences(text, limit)
        if trimmed and length.weighted_length(trimmed) >= enough:
            texts[i] = trimmed
    over = [i for i, text in enumerate(texts) if not length.fits(text, limit)]
    if over:
        replacements = _shorten(
            model, texts=[texts[i] for i in over], limit=limit, conversation=conversation, stats=stats
        )
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
                angle=v.get("angle", ""),
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
                angle=v.get("angle", ""),
            )
        )
    return out


# --- the pipeline ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """A checked request: everything generation needs, decided before any unit is taken."""

    notes_text: str
    fmt: str
    limit: int  # the account's post limit
    target: int  # the longest a variant may be
    floor: int
    minimum: int
    count: int


def plan(*, user: User, note_ids: list[uuid.UUID], min_chars: int, max_chars: int, fmt: str, network: Network) -> Plan:
    """Validate a request (Invalid with a code on bad input) without calling the model."""
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
    minimum, count = variant_range(target)
    return Plan(
        notes_text=_notes_text(notes),
        fmt=fmt,
        limit=limit,
        target=target,
        floor=min(min_chars, target),
        minimum=minimum,
        count=count,
    )


def _reply_tokens(*, max_chars: int, posts: int = 1) -> int:
    """The token budget of a reply with `posts` posts of at most `max_chars`: about 3 characters
    per token, plus the JSON around each; capped by the setting (prompt + reply must fit the context)."""
    return max(96, min(settings.POSTS_GENERATION_MAX_TOKENS, posts * (max_chars // 3 + 64)))


def run(
    p: Plan,
    *,
    model: Any,
    on_stage: Callable[[str], None] | None = None,
    on_variant: Callable[[Variant], None] | None = None,
    stats: list[CallStats] | None = None,
) -> list[Variant]:
    """Write up to `p.count` variants, one model call per angle, reporting each as it is ready.

    Every call starts with the same messages (the fixed rules, then the notes) and only its last
    line names the angle, so llama.cpp evaluates the notes once and the 2nd and 3rd calls reuse
    that prompt. A reply that carries more than one version (some models do) is used whole.
    Raises UpstreamFailed when the first angle gives nothing usable even after the repair."""
    stats = stats if stats is not None else []
    stage = on_stage or (lambda _text: None)
    system = _system_prompt(fmt=p.fmt, count=p.count, min_chars=p.floor, max_chars=p.target, limit=p.limit)
    variants: list[Variant] = []
    for index, angle in enumerate(ANGLES[: p.count], start=1):
        if len(variants) >= p.count:
            break
        label = f"Writing draft {len(variants) + 1} of {p.count} ({angle.name})"
        stage(label)

        def waiting(ahead: int, label: str = label) -> None:
            stage(f"Waiting for the model ({ahead} ahead)" if ahead > 0 else label)

        messages = [
            {"role": "system", "content": system},
            {
                "role": "user",
                "content": _variant_request(notes_text=p.notes_text, angle=angle, index=index, count=p.count),
            },
        ]
        raw, conversation = _ask(
            model,
            messages=messages,
            fmt=p.fmt,
            max_tokens=_reply_tokens(max_chars=p.target),
            purpose=angle.name,
            stats=stats,
            on_position=waiting,
        )
        if not raw and not variants:
            raise UpstreamFailed("The writing model did not return usable posts. Try again.", code="generation_failed")
        # Exact repeats within a reply go first; near-copies are judged on the fitted text (what the card shows).
        unique = list({item["post_text"] or "\n".join(item["parts"]): item for item in raw}.values())
        fresh = [{**item, "angle": angle.name if i == 0 else ""} for i, item in enumerate(unique)]
        fresh = fresh[: p.count - len(variants)]
        if p.fmt == PostFormat.THREAD:
            ready = _fit_threads(fresh, limit=p.limit)
        else:
            if any(not length.fits(f["post_text"], p.target) for f in fresh):
                stage(f"Shortening draft {len(variants) + 1}")
            ready = _fit_singles(model, fresh, limit=p.target, floor=p.floor, conversation=conversation, stats=stats)
        for variant in ready:
            if any(similarity(variant.post_text, other.post_text) >= NEAR_COPY for other in variants):
                logger.info("near-copy of an earlier draft dropped", extra={"angle": angle.name})
                continue
            variants.append(variant)
            if on_variant is not None:
                on_variant(variant)
    if not variants:
        raise UpstreamFailed("The writing model did not return usable posts. Try again.", code="generation_failed")
    return variants


def generate(
    *, user: User, note_ids: list[uuid.UUID], min_chars: int, max_chars: int, fmt: str, network: Network
) -> Generation:
    """Variants for the user's ready notes, synchronously. Counts one GENERATIONS unit, given back on failure."""
    p = plan(user=user, note_ids=note_ids, min_chars=min_chars, max_chars=max_chars, fmt=fmt, network=network)
    stats: list[CallStats] = []
    with metering.metered(user=user, metric=metering.Metric.GENERATIONS):
        model = get_chat_model()
        variants = run(p, model=model, stats=stats)
    logger.info(
        "posts generated",
        extra={
            "user_id": str(user.pk),
            "variants": len(variants),
            "format": fmt,
            "model": model.model_name,
            "calls": len(stats),
            "model_seconds": round(sum(c.seconds for c in stats), 2),
        },
    )
    return Generation(variants=variants, char_limit=p.limit, model=str(model.model_name), stats=stats)
