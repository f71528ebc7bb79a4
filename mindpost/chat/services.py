"""Chat writes: conversations, and answering a question from the user's own notes.

One turn: check the question, take a CHAT unit (billing: refused before any model call),
retrieve (time words become date filters in the user's time zone; a follow-up also searches
with the previous question, so "what else did he say?" finds him), then either answer "not in
your notes" without a model call, or ask the model with the numbered passages and the earlier
turns. Citations are checked and attributed on the server (citations.py). The turn is stored
only once there is an answer: a failed model call leaves nothing behind and gives the unit back.

The JSON path runs chat_prepare + chat_complete in the request; the streaming path runs
chat_prepare in the request, streams with aopen_answer in the async view, and stores the
turn with chat_finish.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from mindpost.accounts.models import User
from mindpost.ai import get_chat_model
from mindpost.ai.types import AIError
from mindpost.billing import metering
from mindpost.chat import citations as cite
from mindpost.chat import query as query_words
from mindpost.chat.dates import TimeFilter, parse_time_filter
from mindpost.chat.models import AnswerKind, Conversation, Message, MessageRole
from mindpost.chat.prompts import NOT_FOUND_ANSWER, ContextPassage, build_messages, fit_context
from mindpost.chat.selectors import conversation_get, conversation_history
from mindpost.core.errors import Invalid, NotFound, Unavailable
from mindpost.core.filters import user_zone
from mindpost.notes.selectors import (
    Hit,
    NoteFilters,
    SearchFilters,
    excerpt,
    note_list,
    passage_search,
    recent_passages,
)

logger = logging.getLogger(__name__)

_TITLE_CHARS = 80
_RRF_K = 60
# A question about a period with no topic gets at most this many of its notes (the newest).
_PERIOD_NOTES = 12


# --- Conversations -------------------------------------------------------------------------


def conversation_create(*, user: User, title: Any = "") -> Conversation:
    title = title.strip() if isinstance(title, str) else ""
    if len(title) > 200:
        raise Invalid("The title is longer than 200 characters.", code="title_too_long", fields={"title": ["Max 200."]})
    return Conversation.objects.create(user=user, title=title)


def conversation_delete(*, conversation: Conversation) -> None:
    conversation.delete()


# --- Checking input --------------------------------------------------------------------------


def clean_question(message: Any) -> str:
    if message is None or (isinstance(message, str) and not message.strip()):
        raise Invalid(
            "Message is required.", code="empty_message", fields={"message": ["This field may not be blank."]}
        )
    if not isinstance(message, str):
        raise Invalid("The message must be a string.", code="invalid", fields={"message": ["Not a valid string."]})
    limit = settings.CHAT_MAX_MESSAGE_CHARS
    if len(message) > limit:
        raise Invalid(
            f"The message is longer than {limit} characters.",
            code="message_too_long",
            fields={"message": [f"At most {limit} characters."]},
            extra={"max_chars": limit},
        )
    return message.strip()


# --- Retrieval -------------------------------------------------------------------------------


@dataclass
class Retrieval:
    query: str  # what the current question searched for (filler and time words taken out)
    follow_up_query: str | None  # the previous question + this one, for follow-ups
    time_filter: TimeFilter | None
    hits: list[Hit]  # the passages given to the model, best first (a period's notes: oldest first)
    method: str
    # Set when the period asked about has no notes at all: "You didn't record anything yesterday (…)".
    nothing_recorded: str | None = None
    # The question without the filler around it ("(ref 4821)", "hey, can you…"), time words kept:
    # the 1.5B model answers "not in your notes" more often when it sees the filler too.
    cleaned_question: str = ""

    @property
    def not_found_answer(self) -> str:
        """What a turn without passages answers (no model call)."""
        return self.nothing_recorded or NOT_FOUND_ANSWER

    def as_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "follow_up_query": self.follow_up_query,
            "time_filter": self.time_filter.as_dict() if self.time_filter else None,
            "passage_ids": [hit.passage_id for hit in self.hits],
            "method": self.method,
        }


def _relevant(hit: Hit) -> bool:
    """Above the similarity floor, or a keyword hit on a telling (rare) word of the question."""
    if hit.similarity is not None and hit.similarity >= settings.CHAT_RELEVANCE_FLOOR:
        return True
    return (
        hit.keyword_rank is not None
        and hit.similarity is not None
        and hit.similarity >= (settings.CHAT_RELEVANCE_FLOOR - settings.CHAT_KEYWORD_FLOOR_MARGIN)
    )


def _merge(rankings: list[list[Hit]]) -> list[Hit]:
    """Reciprocal rank fusion of several result lists (the question alone, and with the previous one)."""
    merged: dict[int, Hit] = {}
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking, start=1):
            scores[hit.passage_id] = scores.get(hit.passage_id, 0.0) + 1.0 / (_RRF_K + rank)
            known = merged.get(hit.passage_id)
            if known is None or (hit.similarity or 0) > (known.similarity or 0):
                merged[hit.passage_id] = hit
    return sorted(merged.values(), key=lambda h: -scores[h.passage_id])


def _filters(time_filter: TimeFilter | None) -> SearchFilters:
    return SearchFilters(since=time_filter.since, until=time_filter.until) if time_filter else SearchFilters()


def _period_hits(*, user: User, time_filter: TimeFilter) -> list[Hit]:
    """The notes of a period, for a question that names a time and no topic ("what did I record
    today?"): every note, not the few nearest passages, one passage each (its first), oldest
    first; the newest _PERIOD_NOTES when there are more. chat_prepare fits them into the budget."""
    passages = recent_passages(user=user, filters=_filters(time_filter), limit=_PERIOD_NOTES * 4)
    first: dict[Any, Hit] = {}
    for hit in passages:  # newest note first, its passages in order
        if hit.note_id not in first and len(first) < _PERIOD_NOTES:
            first[hit.note_id] = hit
    return sorted(first.values(), key=lambda hit: (hit.note_created_at is None, hit.note_created_at, hit.position))


def retrieve(*, user: User, question: str, previous_question: str | None, now: datetime | None = None) -> Retrieval:
    now = now or timezone.now()
    tz = user_zone(user.timezone)
    limit = settings.CHAT_CONTEXT_PASSAGES
    # "Quick question: … (ref 4821)": only what is asked is searched for (chat/query.py).
    cleaned = query_words.clean_question(question)
    time_filter, query = parse_time_filter(cleaned, now=now, tz=tz)

    def nothing_then() -> str | None:
        """The answer for a period without a single note (None when it has some)."""
        if time_filter is None:
            return None
        period = NoteFilters(since=time_filter.since, until=time_filter.until)
        if note_list(user=user, filters=period).exists():
            return None
        return query_words.nothing_recorded_answer(time_filter, tz=tz, now=now)

    if time_filter and not query_words.names_topic(query):
        # "What did I record yesterday?" names a time and no topic: the notes of that time.
        hits = _period_hits(user=user, time_filter=time_filter)
        return Retrieval(
            query=query,
            follow_up_query=None,
            time_filter=time_filter,
            hits=hits,
            method="period",
            nothing_recorded=None if hits else nothing_then(),
            cleaned_question=cleaned,
        )

    follow_up_query = None
    follow_filter = time_filter
    if previous_question:
        previous_filter, previous_query = parse_time_filter(
            query_words.clean_question(previous_question), now=now, tz=tz
        )
        follow_filter = time_filter or previous_filter  # "what else?" after "...last week?" stays in last week
        follow_up_query = f"{previous_query} {query}"

    def search(filtered: bool) -> tuple[list[Hit], str]:
        primary = passage_search(
            user=user, query=query, filters=_filters(time_filter if filtered else None), limit=limit * 2
        )
        rankings = [primary.hits]
        # "my mother" when the note says "Mum": the question again with the word said the other ways.
        for variant in query_words.variants(query):
            rankings.append(
                passage_search(
                    user=user, query=variant, filters=_filters(time_filter if filtered else None), limit=limit * 2
                ).hits
            )
        if follow_up_query is not None:
            follow = passage_search(
                user=user,
                query=follow_up_query,
                filters=_filters(follow_filter if filtered else None),
                limit=limit * 2,
            )
            rankings.append(follow.hits)
        return [hit for hit in _merge(rankings) if _relevant(hit)][:limit], primary.method

    hits, method = search(filtered=True)
    used_filter = time_filter or follow_filter
    if not hits and used_filter is not None:
        # Nothing relevant in that time: look everywhere. The prompt dates every passage, so the
        # model can say it was not last week but in March (notes also get recorded after the fact).
        hits, method = search(filtered=False)
        method += "+unfiltered"
    return Retrieval(
        query=query,
        follow_up_query=follow_up_query,
        time_filter=used_filter,
        hits=hits,
        method=method,
        nothing_recorded=None if hits else nothing_then(),
        cleaned_question=cleaned,
    )


# --- One turn --------------------------------------------------------------------------------


@dataclass
class PreparedTurn:
    user: User
    conversation: Conversation | None  # None: a new conversation is created when the turn is stored
    question: str
    retrieval: Retrieval
    messages: list[dict[str, str]] = field(default_factory=list)  # for the model; empty when not found

    @property
    def found(self) -> bool:
        return bool(self.retrieval.hits)


@dataclass
class ChatReply:
    conversation_id: uuid.UUID
    message_id: uuid.UUID
    response: str
    citations: list[dict[str, Any]]
    found: bool
    model: str


def passage_payload(hit: Hit, *, answer: str = "") -> dict[str, Any]:
    return {
        "note_id": str(hit.note_id),
        "passage_id": hit.passage_id,
        "note_created_at": hit.note_created_at.isoformat() if hit.note_created_at else None,
        "excerpt": excerpt(hit.text, answer=answer),
        "start": hit.start,
        "end": hit.end,
    }


def chat_prepare(
    *, user: User, message: Any, conversation_id: Any = None, conversation: Conversation | None = None
) -> PreparedTurn:
    """Check the question, take a CHAT unit and retrieve. The caller owns the unit from here:
    chat_complete / chat_finish keep it, a failed model call must give it back (release_unit)."""
    question = clean_question(message)
    if conversation is None and conversation_id not in (None, ""):
        conversation = conversation_get(user=user, conversation_id=conversation_id)
    history = conversation_history(conversation=conversation, turns=settings.CHAT_HISTORY_TURNS) if conversation else []
    metering.reserve(user=user, metric=metering.Metric.CHAT)
    try:
        previous_question = next((content for role, content in reversed(history) if role == MessageRole.USER), None)
        retrieval = retrieve(user=user, question=question, previous_question=previous_question)
        prepared = PreparedTurn(user=user, conversation=conversation, question=question, retrieval=retrieval)
        if prepared.found:
            tz = user_zone(user.timezone)
            # Prompt tokens are what the first token waits for on CPU: each passage is cut to the
            # sentences nearest the question, then the notes and the earlier turns are fitted into
            # CHAT_CONTEXT_TOKENS (prompts.fit_context). Citations still match the whole passage.
            focus = retrieval.follow_up_query or question

            def nearest(text: str, chars: int) -> str:
                return excerpt(text, answer=focus, limit=chars)

            fitted = fit_context(
                passages=[
                    ContextPassage(
                        number=i,
                        text=nearest(hit.text, settings.CHAT_PASSAGE_CHARS),
                        created_at=hit.note_created_at,
                        start=hit.start,
                    )
                    for i, hit in enumerate(retrieval.hits, start=1)
                ],
                history=history,
                # "What did I record today?" is answered from every note of the day, which
                # needs more room than the few passages of a question on one topic.
                budget=settings.CHAT_PERIOD_CONTEXT_TOKENS
                if retrieval.method == "period"
                else settings.CHAT_CONTEXT_TOKENS,
                tz=tz,
                trim=nearest,
            )
            # Notes a small budget left out are not sources either: [n] stays the n-th source.
            del retrieval.hits[len(fitted.passages) :]
            prepared.messages = build_messages(
                # The model sees the question without its filler ("Quick question: … (ref 4821)"),
                # which made the 1.5B answer "not in your notes" on the same passages.
                question=retrieval.cleaned_question or question,
                passages=fitted.passages,
                history=fitted.history,
                now=timezone.now(),
                tz=tz,
            )
    except AIError as exc:
        # The query could not be embedded (EMBED_BACKEND=openai and the service is down).
        release_unit(user=user)
        raise Unavailable(
            "Search is unavailable right now because the embedding model is not reachable.",
            code="model_unavailable",
            extra={"passages": [], "conversation_id": str(conversation.pk) if conversation else None},
        ) from exc
    except BaseException:
        release_unit(user=user)
        raise
    return prepared


def release_unit(*, user: User) -> None:
    try:
        metering.release(user=user, metric=metering.Metric.CHAT)
    except Exception:  # never hide the error that made us give it back
        logger.exception("could not give a chat unit back")


def model_unavailable(prepared: PreparedTurn) -> Unavailable:
    """The model is down: with the retrieved passages, so the client can still show what the notes say."""
    return Unavailable(
        "The language model is unavailable right now. Here are the passages that match your question.",
        code="model_unavailable",
        extra={
            "passages": [passage_payload(hit) for hit in prepared.retrieval.hits],
            "conversation_id": str(prepared.conversation.pk) if prepared.conversation else None,
            "retry_after": 30,
        },
    )


def _generation_options() -> dict[str, Any]:
    return {"max_tokens": settings.CHAT_MAX_TOKENS, "temperature": settings.CHAT_TEMPERATURE}


def chat_complete(*, prepared: PreparedTurn) -> ChatReply:
    """Answer a prepared turn without streaming, and store it."""
    if not prepared.found:
        return chat_finish(prepared=prepared, answer=prepared.retrieval.not_found_answer, model_name="")
    from mindpost.ai.queue import Lane, llm_slot

    model = get_chat_model()
    try:
        # The model is shared by every process: wait for a CHAT slot (503 model_busy on timeout).
        with llm_slot(lane=Lane.CHAT):
            answer = model.complete(messages=prepared.messages, **_generation_options())
    except AIError as exc:
        logger.warning("chat model call failed", extra={"error": str(exc), "kind": type(exc).__name__})
        release_unit(user=prepared.user)
        raise model_unavailable(prepared) from exc
    except Unavailable:
        release_unit(user=prepared.user)
        raise
    return chat_finish(prepared=prepared, answer=answer, model_name=model.model_name)


async def aopen_answer(*, prepared: PreparedTurn) -> tuple[AsyncIterator[str], str]:
    """Open the model's answer stream without waiting for its first token: a model that is down
    (nothing listening, or an error status) becomes a 503 here, while the caller can still
    answer with a status. Returns (the deltas, model name); the deltas must be closed (aclose)."""
    from asgiref.sync import sync_to_async

    model = get_chat_model()
    aopen = getattr(model, "aopen_stream", None)
    if aopen is None:  # a backend that cannot open before it streams: failures come in-stream
        return model.astream(messages=prepared.messages, **_generation_options()), model.model_name
    try:
        stream: AsyncIterator[str] = await aopen(messages=prepared.messages, **_generation_options())
    except AIError as exc:
        logger.warning("chat model stream failed to start", extra={"error": str(exc)})
        await sync_to_async(release_unit)(user=prepared.user)
        raise model_unavailable(prepared) from exc
    return stream, model.model_name


def sources_payload(prepared: PreparedTurn) -> list[dict[str, Any]]:
    """The passages given to the model, in prompt order, as the `sources` event shows them."""
    hits = prepared.retrieval.hits
    titles: dict[Any, str] = dict(
        note_list(user=prepared.user)
        .filter(pk__in={hit.note_id for hit in hits if hit.note_id})
        .values_list("pk", "title")
    )
    return [
        {**passage_payload(hit, answer=prepared.question), "note_title": titles.get(hit.note_id, "")} for hit in hits
    ]


def chat_finish(*, prepared: PreparedTurn, answer: str, model_name: str) -> ChatReply:
    """Check and attribute citations, then store the question and the answer (one transaction)."""
    hits = prepared.retrieval.hits
    texts = [hit.text for hit in hits]
    if prepared.found:
        answer, _ = cite.check_markers(answer.strip(), passages=texts)
        if not answer:
            answer = NOT_FOUND_ANSWER
        attributions = cite.attribute(answer=answer, question=prepared.question, passages=texts)
        citations = [
            {"index": a.index, "marked": a.marked, **passage_payload(hits[a.index - 1], answer=answer)}
            for a in attributions
        ]
        kind = AnswerKind.ANSWER
    else:
        citations = []
        kind = AnswerKind.NOT_FOUND
    with transaction.atomic():
        conversation = prepared.conversation
        if conversation is None:
            conversation = Conversation.objects.create(user=prepared.user, title=_title(prepared.question))
        else:
            locked = Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
            if locked is None:  # deleted while the model was answering
                raise NotFound("Conversation not found.")
            conversation = locked
            if not conversation.title:
                conversation.title = _title(prepared.question)
        last = conversation.messages.aggregate(last=Max("position"))["last"]
        position = 0 if last is None else last + 1
        asked = Message(
            conversation=conversation,
            position=position,
            role=MessageRole.USER,
            kind=AnswerKind.QUESTION,
            content=prepared.question,
        )
        asked.retrieval = prepared.retrieval.as_dict()
        reply = Message(
            conversation=conversation,
            position=position + 1,
            role=MessageRole.ASSISTANT,
            kind=kind,
            content=answer,
            model_name=model_name[:200],
        )
        reply.citations = citations
        Message.objects.bulk_create([asked, reply])
        conversation.save(update_fields=["title", "updated_at"])
    prepared.conversation = conversation
    return ChatReply(
        conversation_id=conversation.pk,
        message_id=reply.pk,
        response=answer,
        citations=citations,
        found=prepared.found,
        model=model_name,
    )


def _title(question: str) -> str:
    line = " ".join(question.split())
    return line if len(line) <= _TITLE_CHARS else line[: _TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
