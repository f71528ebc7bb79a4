"""Enrichment: a title, a summary, key points, action items and topic tags for a ready note.

Runs in a background job (tasks.enrich_note) after the note is ready and after each transcript
edit, so it never delays "searchable". One model call under the admission queue's BACKGROUND
lane (chat and drafts go first), asking for one strict JSON object in the note's language.
The reply is parsed defensively: each field is checked on its own, and whatever is missing or
unusable falls back to rules (a title from the first sentence, tags from tags.extract_tags,
action items from "I need to / ich muss / tengo que / je dois ..." sentences), so a bad reply
never fails the job. Due dates are resolved here (duedates.py), never taken from the model's
arithmetic, in the user's time zone.

Idempotent: Note.enriched_digest is the sha256 of the text enriched, and a rerun on the same
text makes no model call. A user's own title (title_edited) and tags (tags_edited, through
tagging.note_apply_tags) are never overwritten; action items the user marked done survive a
re-enrichment (matched by normalised text).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from mindpost.ai import get_chat_model
from mindpost.ai.queue import Lane, llm_slot
from mindpost.ai.types import AIError, TransientAIError
from mindpost.core import metrics
from mindpost.core.errors import Unavailable
from mindpost.notes import duedates
from mindpost.notes.models import ActionItem, EnrichmentStatus, Note, NoteKind, NoteStatus
from mindpost.notes.tags import STOPWORDS, extract_tags
from mindpost.notes.text import match_terms

logger = logging.getLogger(__name__)

TITLE_MAX_WORDS = 8
SUMMARY_MAX_SENTENCES = 3
MAX_KEY_POINTS = 6
MAX_ACTION_ITEMS = 10
MAX_TAG_CANDIDATES = 8
MAX_INPUT_CHARS = 6000  # ~1,500 tokens: the 1.5B model's context is shared with the reply
MAX_REPLY_TOKENS = 600
QUEUE_TIMEOUT_SECONDS = 600.0  # nobody waits for a background call: let it queue behind chat

LANGUAGE_NAMES = {
    "en": "English", "de": "German", "es": "Spanish", "fr": "French", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch",
}  # fmt: skip


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --- language ------------------------------------------------------------------------------
# The most frequent function words of each language: a typed note has no language from Whisper,
# and the benchmark checks a title is in the note's language. Counting these decides reliably on
# a sentence or more; shorter or other-language text gives "" (the model then just mirrors it).
_LANGUAGE_WORDS = {
    "en": "the and to of a i is that it in you for was on with this have be my we not just so but",
    "de": "der die das und ich ist nicht zu den mit sie es ein eine auch auf dass noch mal wir morgen bis muss",
    "es": "el la de que y en los las un una por para con no es lo se mi pero tengo hay del al",
    "fr": "le la les de et un une est que je pas pour des en du il dans ce sur avec mais faut dois",
    "it": "il di che e la un una per non sono mi ho gli della anche ma devo",
    "pt": "o de que e do da em um uma para com nao os no se na por mais eu",
    "nl": "de het een en van ik niet dat is op te met voor maar ook nog moet",
}
_LANGUAGE_SETS = {code: frozenset(words.split()) for code, words in _LANGUAGE_WORDS.items()}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", _fold(text))


def detect_language(text: str) -> str:
    """ISO code of the language with the most function words in `text`, or "" when unclear."""
    words = _words(text)
    if len(words) < 3:
        return ""
    scores = {code: sum(1 for w in words if w in vocab) for code, vocab in _LANGUAGE_SETS.items()}
    best = max(scores, key=lambda code: scores[code])
    ranked = sorted(scores.values(), reverse=True)
    if ranked[0] < 2 or ranked[0] < 1.3 * ranked[1]:
        return ""
    return best


# --- the prompt ----------------------------------------------------------------------------
def build_messages(*, text: str, language: str, today: date) -> list[dict[str, str]]:
    name = LANGUAGE_NAMES.get(language, "")
    in_language = f"in {name}, the language of the note" if name else "in the same language as the note"
    system = "\n".join(
        [
            "You organise a person's voice note (a raw speech transcript with filler words and self-corrections).",
            f"Write every field {in_language}. Use only what the note says; never invent anything.",
            "Reply with one JSON object and nothing else, exactly these keys:",
            '{"title": "...", "summary": "...", "key_points": ["..."], '
            '"action_items": [{"text": "...", "due": "..."}], "tags": ["..."]}',
            f"- title: at most {TITLE_MAX_WORDS} words naming what the note is about; not its first words.",
            "- summary: 1 to 3 short sentences.",
            "- key_points: 1 to 5 short points.",
            "- action_items: each thing the speaker says they must, will or should do, or wants to be reminded of, "
            'as a short imperative ("Call Maria about the boat"). When a self-correction changes a task, keep '
            'only the corrected version. "due": the time words the speaker used for it exactly as said '
            '("next week", "bis Freitag"), or "" if none. No tasks mentioned: [].',
            '- tags: 1 to 5 topics, each a noun or a name (whole, like "Richard Powers"); '
            "no verbs, no possessives, no filler words.",
        ]
    )
    clipped = text if len(text) <= MAX_INPUT_CHARS else text[:MAX_INPUT_CHARS].rsplit(" ", 1)[0]
    user = f"Today is {today.isoformat()} ({today.strftime('%A')}).\n\nThe note:\n{clipped}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# --- parsing the reply -----------------------------------------------------------------------
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)


def _load_object(raw: str) -> dict[str, Any] | None:
    candidates = [m.strip() for m in _FENCE.findall(raw or "")]
    text = (raw or "").strip()
    candidates.append(text)
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def _clean_line(value: Any, *, max_chars: int) -> str:
    if not isinstance(value, str):
        return ""
    line = " ".join(value.split()).strip(" \"'“”«»-*•")
    return line[:max_chars].strip()


_TITLE_PREFIX = re.compile(r"^(title|titel|titulo|titre)\s*:\s*", re.IGNORECASE)
_FILLER_WORDS = (
    "um uh uhm erm hmm so okay ok well like yeah right alright basically actually anyway "
    "also ähm äh naja halt eh este bueno pues vale euh ben bah alors voila donc"
)
_FILLERS = frozenset(_fold(word) for word in _FILLER_WORDS.split())


def _is_prefix(title: str, text: str) -> bool:
    """True when the title's words are the transcript's first words (the old derived title)."""
    title_words, text_words = _words(title), _words(text)
    return bool(title_words) and text_words[: len(title_words)] == title_words


def clean_title(value: Any) -> str:
    """A model title with quotes, a "Title:" label and end punctuation removed, cut to 8 words."""
    title = _TITLE_PREFIX.sub("", _clean_line(value, max_chars=200)).rstrip(".!?;:,")
    words = title.split()
    if len(words) > TITLE_MAX_WORDS:
        title = " ".join(words[:TITLE_MAX_WORDS]).rstrip(",;:-")
    return title


def rule_title(text: str, *, tags: list[str]) -> str:
    """A title when the model gave none: the main topics, else the first sentence without
    fillers, at most 8 words."""
    # Frequency tags include past forms and adverbs ("fixed", "finally"): not title material.
    topics = [t for t in tags if " " in t or (not re.fullmatch(r"[a-z]+(ed|ly)", t) and _fold(t) not in _FILLERS)]
    if len(topics) >= 2:
        return " · ".join(tag[:1].upper() + tag[1:] for tag in topics[:3])
    sentence = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
    words = [w for w in sentence.split() if _fold(w).strip(",.!?") not in _FILLERS]
    return " ".join(words[:TITLE_MAX_WORDS]).rstrip(",.;:!?")


_SENTENCES = re.compile(r"[^.!?。]+[.!?。]*")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCES.findall(" ".join(text.split())) if s.strip()]


def clean_summary(value: Any) -> str:
    summary = _clean_line(value, max_chars=1000)
    sentences = _sentences(summary)
    return " ".join(sentences[:SUMMARY_MAX_SENTENCES]) if sentences else ""


def clean_list(value: Any, *, limit: int, max_chars: int = 200) -> list[str]:
    if isinstance(value, str):
        value = re.split(r"\n|;", value)
    if not isinstance(value, list):
        return []
    out: dict[str, str] = {}
    for item in value:
        line = _clean_line(item, max_chars=max_chars)
        if line:
            out.setdefault(_fold(line), line)
    return list(out.values())[:limit]


@dataclass
class ItemDraft:
    text: str
    due_text: str = ""
    due_date: date | None = None
    start_seconds: float | None = None


def normalise_item(text: str) -> str:
    """What two versions of one to-do have in common: folded words, no punctuation."""
    return " ".join(_words(text))


# Phrases that introduce a task in what people say, per language.
_TASK_CUES = re.compile(
    r"\b(i (?:need to|have to|must|should|ought to|want to|gotta|got to)|i'?ll|i will|i'?m going to|"
    r"remind me to|don'?t forget to|remember to|reminder to self|note to self|must|to-do|todo list|"
    r"ich muss|ich sollte|ich will|ich werde|nicht vergessen|erinner mich|erinnerung an mich|"
    r"tengo que|debo|necesito|hay que|no olvidar|no te olvides de|recordar|acordarme de|"
    r"je dois|il faut que|il faut|je vais|ne pas oublier|n'oublie pas de|penser a|rappelle-moi de)\b"
)

# Verbs that open a self-instruction ("buy flour", "llamar a Juan", "appeler le garage"); German
# puts the infinitive last ("Oma anrufen"). The 1.5B model often files such tasks under key
# points, and speech states them bare ("um, interview Kate ..."), with no cue phrase at all.
_LEAD_VERBS_TEXT = """
    add answer apply arrange ask bake bring book buy call cancel change check clean confirm contact cook do
    draft drop email fill finish fix follow get give hand interview invite learn let look mail make meet move
    order organise organize pack pay phone pick plan post practice practise prepare print put read remind renew
    reply reschedule research return review ring schedule see sell send set share sign start submit take talk
    tell text try update upload visit wash water write
    llamar comprar pagar enviar mandar escribir reservar cancelar preparar terminar revisar pedir traer visitar
    hacer buscar practicar
    appeler acheter payer envoyer ecrire reserver annuler preparer finir terminer verifier demander apporter
    rendre visiter prendre faire chercher
"""
_LEAD_VERBS = frozenset(_LEAD_VERBS_TEXT.split())
_FINAL_VERBS_TEXT = """
    anrufen besorgen kaufen bezahlen zahlen schicken senden schreiben buchen kundigen abholen vorbereiten
    erledigen machen mitbringen besuchen bestellen uben fragen absagen reservieren
"""
_FINAL_VERBS = frozenset(_FINAL_VERBS_TEXT.split())
_FILLERS_TEXT = "uh um erm so and also like oh okay ok then actually maybe just well"
_FILLERS = frozenset(_FILLERS_TEXT.split())
# Words that say when, not what: two items about one task differ in them, and an item with only
# these besides its verb ("übermorgen anrufen") is a restatement, not a task of its own.
_WHEN_WORDS_TEXT = """
    today tonight tomorrow morning afternoon evening week weekend next day days month by before after on at
    monday tuesday wednesday thursday friday saturday sunday probably due latest
    heute morgen ubermorgen woche wochenende hoy manana semana aujourd'hui demain semaine
"""
_WHEN_WORDS = frozenset(_WHEN_WORDS_TEXT.split())
_CLAUSES = re.compile(r"[.!?;:]|,\s*(?:and|und|y|et)\b|\band then\b")
# A bare clause keeps its task and drops the reason: "cancel the gym, because I never go".
_CLAUSE_TAIL = re.compile(r",|\b(?:because|since|so that|so|which|weil|porque|parce que)\b")


def _lead_verb(text: str) -> str:
    """The task verb that opens `text` (after fillers) or, German, ends its first clause; or ""."""
    words = _words(text)
    while words and words[0] in _FILLERS:
        words = words[1:]
    if words and words[0] in _LEAD_VERBS:
        return words[0]
    first_clause = _words(re.split(r"[,;:]", _fold(text), maxsplit=1)[0])
    if first_clause and first_clause[-1] in _FINAL_VERBS:
        return first_clause[-1]
    return ""


def _content(text: str, verb: str = "") -> set[str]:
    return {w for w in _words(text) if w != verb and w not in STOPWORDS and w not in _WHEN_WORDS and len(w) > 2}


def _strip_fillers(text: str) -> str:
    words = text.strip().split()
    while words and _fold(words[0]).strip(",.") in _FILLERS:
        words = words[1:]
    text = " ".join(words).strip(" ,")
    return text[:1].upper() + text[1:]


def task_candidates(*, key_points: list[str], text: str, model_gave_items: bool) -> list[str]:
    """Tasks the model's list missed: key points phrased as tasks and, when the model listed none,
    cue sentences and bare imperative clauses of the transcript."""
    found = [
        kp for kp in key_points if (_lead_verb(kp) or _TASK_CUES.search(_fold(kp))) and _said_as_task(kp, text=text)
    ]
    if not model_gave_items:
        found += rule_action_items(text)
        for clause in _CLAUSES.split(" ".join(text.split())):
            clause = _strip_fillers(_CLAUSE_TAIL.split(_strip_fillers(clause), maxsplit=1)[0])
            if _lead_verb(clause) and len(_words(clause)) >= 2:
                found.append(clause)
    return [candidate for candidate in found if not _retracted(candidate, text=text)]


# Rambling speech takes things back: "buy a new washer, or, actually just call a plumber".
_RETRACTION = re.compile(
    r"^\W*(?:or\W+(?:actually|rather)|actually\W+no|no\W+wait|scratch that|never mind|nein\W+warte|"
    r"o\W+mejor|no\W+espera|non\W+attends|ou\W+plutot)\b"
)


def _retracted(candidate: str, *, text: str) -> bool:
    """Whether the speaker took `candidate` back right after saying it."""
    folded = _fold(" ".join(text.split()))
    ends = [m.end() for w in _content(candidate) if (m := re.search(rf"\b{re.escape(w)}\b", folded))]
    return bool(ends) and bool(_RETRACTION.match(folded[max(ends) :]))


def _stem(word: str) -> str:
    # Crude but language-blind: "steuerberater"/"steuerberaters", "cancel"/"cancellations".
    return word[:6]


def _restates(a: set[str], b: set[str]) -> bool:
    """Two items about one thing: at least half of the smaller one's content words are shared."""
    a, b = {_stem(w) for w in a}, {_stem(w) for w in b}
    return bool(a and b) and 2 * len(a & b) >= min(len(a), len(b))


def _said_as_task(key_point: str, *, text: str) -> bool:
    """A key point phrased as a task ("Read Ishiguro") is one only if the speaker said it as one:
    a clause of the transcript that holds its verb and one of its content words, and opens with
    the verb (or, German, ends with it) or carries a cue ("I want to ...")."""
    verb = _lead_verb(key_point)
    words = {_stem(w) for w in _content(key_point, verb)}
    if not verb or not words:
        return bool(words) and bool(_TASK_CUES.search(_fold(key_point)))
    for clause in _CLAUSES.split(" ".join(text.split())):
        folded = _words(clause)
        if verb not in folded or not words & {_stem(w) for w in folded}:
            continue
        if _TASK_CUES.search(_fold(clause)) or any(_lead_verb(part) == verb for part in re.split(r"[,;]", clause)):
            return True
    return False


def merge_items(*, items: list[ItemDraft], candidates: list[str]) -> list[ItemDraft]:
    """`items` plus each candidate that names something new: one with no content word besides its
    verb and when-words, or whose content words are mostly another item's, is a restatement."""
    merged = list(items)
    for candidate in candidates:
        verb = _lead_verb(candidate)
        words = _content(candidate, verb)
        if not words:
            continue
        if any(_restates(words, _content(item.text, _lead_verb(item.text))) for item in merged):
            continue
        # "Buy flour", "Buy eggs": one to-do with the verb once.
        same_verb = next((i for i in merged if verb and _lead_verb(i.text) == verb), None)
        if same_verb is not None and len(_words(candidate)) <= 4 and len(_words(same_verb.text)) <= 6:
            rest = candidate.split(None, 1)[1] if " " in candidate else ""
            same_verb.text = f"{same_verb.text.rstrip('.')} and {rest}".strip()
            continue
        merged.append(ItemDraft(text=_clean_line(candidate, max_chars=300).rstrip(".")))
    return merged[:MAX_ACTION_ITEMS]


def rule_action_items(text: str) -> list[str]:
    """Sentences that announce a task, when the model gave no usable list."""
    return [s.rstrip(".") for s in _sentences(text) if _TASK_CUES.search(_fold(s))][:MAX_ACTION_ITEMS]


_PROMPT_EXAMPLE = "call maria about the boat"
_PROMPT_EXAMPLE_WORDS = frozenset({"maria", "boat"})


def _copies_example(item: str, *, text: str) -> bool:
    """The small model copies the prompt's example, sometimes with a name from the note ("Call
    Anna about the boat"): an item with the example's words that the note never says."""
    absent = _PROMPT_EXAMPLE_WORDS - set(_words(text))
    return normalise_item(item) == _PROMPT_EXAMPLE or bool(absent & set(_words(item)))


def clean_items(value: Any, *, text: str = "") -> list[ItemDraft] | None:
    """The model's action items; None when the field is missing or not a list (use rules)."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return None
    items: dict[str, ItemDraft] = {}
    for raw in value:
        if isinstance(raw, str):
            raw = {"text": raw}
        if not isinstance(raw, dict):
            continue
        item = _clean_line(raw.get("text") or raw.get("task") or raw.get("action"), max_chars=300)
        if not item or _copies_example(item, text=text):
            continue
        due = raw.get("due", raw.get("due_date", raw.get("due_text", "")))
        items.setdefault(normalise_item(item), ItemDraft(text=item, due_text=due if isinstance(due, str) else ""))
    return list(items.values())[:MAX_ACTION_ITEMS]


@dataclass
class Enrichment:
    title: str
    summary: str
    key_points: list[str]
    items: list[ItemDraft]
    tags: list[str]
    used_rules: list[str] = field(default_factory=list)  # fields that fell back to rules


def interpret(raw: str | None, *, text: str) -> Enrichment:
    """A model reply (or None: no reply at all) as an Enrichment, every field checked alone."""
    data = _load_object(raw) if raw is not None else None
    data = data or {}
    used_rules: list[str] = []
    tags = clean_list(data.get("tags"), limit=MAX_TAG_CANDIDATES, max_chars=60)
    if not tags:
        used_rules.append("tags")
        tags = extract_tags(text)
    title = clean_title(data.get("title"))
    if not title or (_is_prefix(title, text) and len(_words(text)) > TITLE_MAX_WORDS):
        used_rules.append("title")
        title = rule_title(text, tags=tags)
    summary = clean_summary(data.get("summary"))
    if not summary:
        used_rules.append("summary")
    key_points = clean_list(data.get("key_points"), limit=MAX_KEY_POINTS)
    items = clean_items(data.get("action_items"), text=text)
    # The 1.5B model files many tasks under key points or leaves them out ("buy flour and eggs"),
    # and sometimes gives no list at all: add the tasks it missed, never a restatement of one.
    candidates = task_candidates(key_points=key_points, text=text, model_gave_items=bool(items))
    if items is None or (not items and candidates):
        used_rules.append("action_items")
    items = merge_items(items=items or [], candidates=candidates)
    return Enrichment(
        title=title, summary=summary, key_points=key_points, items=items, tags=tags, used_rules=used_rules
    )


# --- placing items in the note --------------------------------------------------------------
_ITEM_CLAUSES = re.compile(r"[.!?;:\u3002]|(?:,\s*|\s+)(?:and|und|y|et)\b,?")


def _best_span(item: ItemDraft, spans: Sequence[tuple[str, float | None]]) -> tuple[str, float | None] | None:
    """The span (sentence or segment) that shares most content words with the item; a span that
    announces a task ("I need to ...") or holds its due phrase wins a tie (the item was said there)."""
    terms = match_terms(item.text)
    if not terms or not spans:
        return None
    due = _fold(item.due_text)

    def score(i: int) -> tuple[int, int, int]:
        span = spans[i][0]
        overlap = len(terms & match_terms(span))
        bonus = (1 if _TASK_CUES.search(_fold(span)) else 0) + (1 if due and due in _fold(span) else 0)
        return (overlap + bonus if overlap else 0, overlap, -i)

    best = max(range(len(spans)), key=score)
    return spans[best] if score(best)[0] > 0 else None


def resolve_items(items: list[ItemDraft], *, note: Note, today: date) -> list[ItemDraft]:
    segments = note.segments if note.kind == NoteKind.VOICE else []
    segment_spans = [(str(s.get("text", "")), float(s["start"])) for s in segments if "start" in s]
    # Clauses, not sentences: "write the notes by Thursday and ping legal" holds two to-dos and
    # one date, which belongs to the first.
    clause_spans: list[tuple[str, float | None]] = [
        (c.strip(), None) for c in _ITEM_CLAUSES.split(" ".join(note.transcription.split())) if c.strip()
    ]
    for item in items:
        segment = _best_span(item, segment_spans)
        item.start_seconds = segment[1] if segment else None
        clause = _best_span(item, clause_spans)
        # The item's own words; the phrase the model quoted if it was said where the item was (the
        # 1.5B model repeats one item's date on the next, or invents "next week"); else the clause
        # the item was said in (the segment when no clause matched).
        said = clause[0] if clause else (segment[0] if segment else "")
        quoted = item.due_text if item.due_text and _fold(item.due_text) in _fold(said) else ""
        for source in (item.text, quoted, said):
            found = duedates.find_due(source, today=today)
            if found is not None:
                item.due_date, item.due_text = found.date, found.text
                break
        else:
            item.due_date = duedates.parse_iso(item.due_text, today=today)
            if item.due_date is None:
                item.due_text = ""
    return items


# --- the model call --------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelReply:
    raw: str
    model: str
    seconds: float


def ask_model(*, messages: list[dict[str, str]]) -> ModelReply:
    """One strict-JSON completion in the BACKGROUND lane. TransientAIError when the model is
    down or the queue is full (the job retries); AIError when it refuses the request."""
    model = get_chat_model()
    try:
        with llm_slot(lane=Lane.BACKGROUND, timeout=QUEUE_TIMEOUT_SECONDS):
            started = time.monotonic()
            raw = model.complete(messages=messages, max_tokens=MAX_REPLY_TOKENS, temperature=0.1, json=True)
    except Unavailable as exc:  # waited too long behind interactive work: try again later
        raise TransientAIError(str(exc)) from exc
    return ModelReply(raw=raw, model=str(getattr(model, "model_name", "")), seconds=time.monotonic() - started)


# --- the job's service ------------------------------------------------------------------------
def _user_today(note: Note) -> date:
    return duedates.local_today(at=note.created_at or timezone.now(), timezone=note.user.timezone)


def note_enrich(*, note_id: str | uuid.UUID, final_attempt: bool, force: bool = False) -> bool:
    """Enrich a ready note unless its text was already enriched. True when it wrote a result.

    Model unavailable: TransientAIError propagates (the job retries); on the last attempt the
    note is marked failed first. Any unusable reply falls back to rules instead of failing."""
    note = Note.objects.select_related("user").filter(pk=note_id).first()
    if note is None or note.status != NoteStatus.READY or not note.transcription.strip():
        return False
    text = note.transcription
    text_digest = digest(text)
    if not force and note.enriched_digest == text_digest and note.enrichment_status == EnrichmentStatus.DONE:
        return False
    language = note.language or detect_language(text)
    today = _user_today(note)
    Note.objects.filter(pk=note.pk).exclude(enrichment_status=EnrichmentStatus.PENDING).update(
        enrichment_status=EnrichmentStatus.PENDING
    )
    raw: str | None
    try:
        with metrics.stage("enrich"):  # wait for a model slot + the call (/metrics stage durations)
            reply = ask_model(messages=build_messages(text=text, language=language, today=today))
        raw, model_name = reply.raw, reply.model
    except TransientAIError:
        if final_attempt:
            Note.objects.filter(pk=note.pk).update(enrichment_status=EnrichmentStatus.FAILED)
        raise
    except AIError as exc:
        # The model refused this request (too long, bad parameters): rules instead of a retry.
        logger.warning("enrichment model call failed; using rules", extra={"note_id": str(note.pk), "error": str(exc)})
        raw, model_name = None, "rules"
    result = interpret(raw, text=text)
    if result.used_rules:
        logger.info("enrichment fell back to rules", extra={"note_id": str(note.pk), "fields": result.used_rules})
    resolve_items(result.items, note=note, today=today)
    return _store(note_id=note.pk, text=text, result=result, model_name=model_name, language=language)


def _store(*, note_id: uuid.UUID, text: str, result: Enrichment, model_name: str, language: str) -> bool:
    with transaction.atomic():
        note = Note.objects.select_for_update().select_related("user").filter(pk=note_id).first()
        if note is None or note.transcription != text:
            return False  # deleted, or edited meanwhile: the job queued by that edit enriches the new text
        fields = ["summary", "key_points_data", "enrichment_status", "enriched_digest", "enriched_at"]
        if not note.title_edited and result.title:
            note.title = result.title
            fields.append("title")
        if not note.language and language:
            note.language = language
            fields.append("language")
        note.summary = result.summary
        note.key_points = result.key_points
        note.enrichment_status = EnrichmentStatus.DONE
        note.enriched_digest = digest(text)
        note.enriched_at = timezone.now()
        note.enrichment_model = model_name[:200]
        note.save(update_fields=[*fields, "enrichment_model", "updated_at"])
        _replace_items(note=note, items=result.items)
    # Outside the row lock: tagging takes the user's vocabulary lock first, then the note's.
    _apply_tags(note=note, candidates=result.tags)
    return True


def item_origin(text: str) -> str:
    """Keyed digest of an item's normalised text: the to-dos are encrypted, so a plain hash would
    let anyone with the database guess short ones."""
    return salted_hmac("mindpost.notes.ActionItem.origin", normalise_item(text), algorithm="sha256").hexdigest()


def _replace_items(*, note: Note, items: list[ItemDraft]) -> None:
    """Replace the items of the previous enrichment. The ones the user marked done or edited stay;
    a new item that is one of them (same normalised text, or the text it first had) is that one,
    not a second, open copy."""
    existing = list(ActionItem.objects.filter(note=note))
    kept_items = [item for item in existing if item.done or item.edited]
    kept: dict[str, ActionItem] = {}
    for item in kept_items:
        kept[item_origin(item.text)] = item
        if item.origin:
            kept.setdefault(item.origin, item)
    ActionItem.objects.filter(note=note, done=False, edited=False).delete()
    new: list[ActionItem] = []
    reused: set[uuid.UUID] = set()
    for position, draft in enumerate(items):
        origin = item_origin(draft.text)
        same = kept.get(origin)
        if same is not None and same.pk not in reused:
            reused.add(same.pk)
            if same.position != position:
                same.position = position
                same.save(update_fields=["position", "updated_at"])
            continue
        new.append(
            ActionItem(
                user_id=note.user_id,
                note=note,
                position=position,
                text=draft.text,
                due_text=draft.due_text,
                due_date=draft.due_date,
                start_seconds=draft.start_seconds,
                origin=origin,
            )
        )
    ActionItem.objects.bulk_create(new)


def _apply_tags(*, note: Note, candidates: list[str]) -> None:
    # tagging.note_apply_tags cleans the candidates, reuses the user's vocabulary and leaves a
    # note whose tags the user edited alone.
    from mindpost.notes.tagging import note_apply_tags

    note_apply_tags(note=note, candidates=candidates, source="enrichment")
