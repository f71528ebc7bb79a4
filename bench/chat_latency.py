"""Chat latency through the real API, over HTTP, on a user with 330 notes and the local 1.5B model.

    .venv/bin/python bench/chat_latency.py [--questions 10] [--concurrent 4] [--seed N] [--write-docs]
    .venv/bin/python bench/chat_latency.py --calibrate     # the token estimate against Qwen's tokeniser

A throwaway database gets one user with the 50 labelled notes of bench/data plus generated
notes (bench/_seed.py); uvicorn serves the app on 127.0.0.1 with CHAT_BACKEND=local. If nothing
answers at LLM_SERVER_URL, `manage.py llmserver` is started with LLM_PRESET=--preset (and stopped
at the end). Between the app and the model server sits a loopback TCP proxy that passes every
byte through and notes, per model request, when it arrived, when the first generated text came
back and the `timings` llama.cpp (xllamacpp) puts in the final chunk of every stream: prompt_n
(tokens evaluated), cache_n (tokens reused from the slot's prompt cache), prompt_ms,
predicted_n, predicted_ms.

Every question is asked once, never twice in a run, and --seed (default: the clock) picks
them from a pool of natural questions about the seeded notes, so that the model server's prompt
cache cannot answer for a question (cache_n shows what it did reuse). Measured:
1. one chat at a time: time to the `sources` event, to the first `token`, to `done`; p50/p95;
2. --concurrent chats at once: per chat `sources`, its first `queue` event and the positions it
   reported (the event is optional: "none" when the server does not send it), first token;
3. where the first token's time goes: retrieval (until `sources`), waiting (until the request
   reaches the model server), then llama.cpp's own prompt evaluation (tokenising included, it is
   not timed apart), and the first generated token;
4. prompt tokens before and after the static prefix and the token budget: the same retrieved
   passages laid out the old way (date in the system message, passages cut at
   CHAT_PASSAGE_CHARS only, no budget) and the new way, counted by the server's own tokeniser
   (/apply-template + /tokenize), with the prefix a next prompt can reuse from the cache.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("TEST_DB_NAME", f"bench_chat_latency_{os.getpid()}")
os.environ.setdefault("EMBED_BACKEND", "local")

from bench import _docs  # noqa: E402
from bench._seed import app_server, seed_user, wait_up  # noqa: E402
from bench.retrieval_quality import DATA, filler_notes, setup_db  # noqa: E402

# --- Questions never asked before -----------------------------------------------------------


def question_pool() -> list[str]:
    """Natural questions about the seeded notes: the labelled ones that are sentences, and one
    per generated note (people met, meetings, purchases, numbers, dinners, calls)."""
    labelled = json.loads((DATA / "questions.json").read_text())["answerable"]
    pool = [q["q"] for q in labelled if len(q["q"].split()) >= 3]
    for note in filler_notes(400):
        text = note["text"]
        if m := re.match(r"Met (\w+) in ([\w ]+) today\. \1 (.+?) and told", text):
            pool.append(f"What does {m[1]}, whom I met in {m[2]}, do for a living?")
        elif m := re.match(r"Meeting with (\w+) about (.+?):", text):
            pool.append(f"What did {m[1]} and I decide about {m[2]}?")
        elif m := re.match(r"Bought (.+?) for \d+ euros", text):
            pool.append(f"How much did I pay for {m[1]}?")
        elif m := re.match(r"My (.+?) number is", text):
            pool.append(f"What is my {m[1]} number?")
        elif m := re.match(r"Cooked (.+?) tonight with (\w+)\.", text):
            pool.append(f"How did the {m[1]} I cooked with {m[2]} turn out?")
        elif m := re.match(r"Reminder: call (\w+) about the weekend in ([\w ]+),", text):
            pool.append(f"Why did I want to call {m[1]} about {m[2]}?")
    return list(dict.fromkeys(pool))  # distinct, in order


def pick_questions(count: int, *, seed: int) -> list[str]:
    pool = question_pool()
    if count > len(pool):
        raise SystemExit(f"only {len(pool)} distinct questions; ask for fewer")
    return random.Random(seed).sample(pool, count)


# --- The model server, and a proxy that reads its timings -----------------------------------


def _healthy(base_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{_root(base_url)}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _root(base_url: str) -> str:
    return base_url.rstrip("/").removesuffix("/v1")


@contextmanager
def model_server(base_url: str, *, preset: str, timeout: float = 300) -> Iterator[None]:
    """The model server at base_url: the one already running, or `manage.py llmserver` for the run."""
    if _healthy(base_url):
        yield
        return
    print(f"no model server at {base_url}: starting manage.py llmserver (LLM_PRESET={preset})")
    env = {**os.environ, "LLM_PRESET": preset, "LLM_SERVER_URL": base_url}
    server = subprocess.Popen([sys.executable, "manage.py", "llmserver"], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + timeout
        while not _healthy(base_url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the model server did not come up (is the model assembled? see the README)")
            time.sleep(1)
        yield
    finally:
        server.terminate()
        server.wait(timeout=60)


@dataclass
class ModelCall:
    arrived: float  # perf_counter when the request reached the proxy
    question: str = ""
    first_text: float | None = None  # perf_counter of the first generated text
    timings: dict[str, float] = field(default_factory=dict)


_QUESTION = re.compile(rb'Question: ((?:[^"\\]|\\.)*)"')
_TIMINGS = re.compile(rb'"timings":(\{[^{}]*\})')
_TEXT = re.compile(rb'"delta":\{[^{}]*"content":"[^"]')


class TimingProxy:
    """A loopback TCP proxy in front of llama.cpp: bytes pass unchanged; each chat request gets a
    ModelCall (its question, arrival, first text, and the timings of the final chunk)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.calls: list[ModelCall] = []
        self.port = 0
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._run, daemon=True).start()
        self._ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.host, self.upstream_port)
        current: list[ModelCall] = []
        request = bytearray()

        async def upstream() -> None:
            while data := await reader.read(65536):
                if b"/chat/completions" in data[:200]:
                    current[:] = [ModelCall(arrived=time.perf_counter())]
                    self.calls.append(current[0])
                    request.clear()
                request.extend(data)
                if current and not current[0].question and (m := _QUESTION.search(request)):
                    current[0].question = json.loads(b'"' + m[1] + b'"').strip()
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def downstream() -> None:
            response = bytearray()
            while data := await up_reader.read(65536):
                if current:
                    call = current[0]
                    if call.first_text is None and _TEXT.search(data):
                        call.first_text = time.perf_counter()
                    response.extend(data)
                    if m := _TIMINGS.search(response):
                        call.timings = json.loads(m[1])
                        response.clear()
                writer.write(data)
                await writer.drain()
            writer.close()

        try:
            await asyncio.gather(upstream(), downstream())
        except (ConnectionError, OSError):
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def find(self, question: str) -> ModelCall | None:
        return next((c for c in reversed(self.calls) if c.question == question), None)


# --- One chat over the API --------------------------------------------------------------------


@dataclass
class Chat:
    question: str
    sources: float | None = None
    first_queue: float | None = None
    queue_zero: float | None = None  # when it reported position 0 (its turn)
    positions: list[int] = field(default_factory=list)
    first_token: float | None = None
    done: float | None = None
    found: bool = True
    error: str = ""
    model: ModelCall | None = None
    started: float = 0.0


async def ask(client: Any, question: str) -> Chat:
    """Create a conversation (not timed), then stream one question and time its events."""
    created = await client.post("/api/chat/conversations/", json={})
    url = f"/api/chat/conversations/{created.json()['id']}/messages/"
    chat = Chat(question=question)
    headers = {"Accept": "text/event-stream"}
    chat.started = started = time.perf_counter()
    async with client.stream("POST", url, json={"message": question}, headers=headers) as response:
        if response.status_code != 200:
            chat.error = f"HTTP {response.status_code}: {(await response.aread())[:200]!r}"
            return chat
        name = "message"
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                name = line[6:].strip()
                continue
            if not line.startswith("data:"):
                continue
            now = time.perf_counter() - started
            data = json.loads(line[5:])
            if name == "start":
                chat.found = bool(data.get("found", True))
            elif name == "sources" and chat.sources is None:
                chat.sources = now
            elif name == "queue":
                chat.first_queue = now if chat.first_queue is None else chat.first_queue
                chat.positions.append(int(data.get("position", -1)))
                if data.get("position") == 0 and chat.queue_zero is None:
                    chat.queue_zero = now
            elif name == "token" and chat.first_token is None:
                chat.first_token = now
            elif name == "done":
                chat.done = now
            elif name == "error":
                chat.error = str(data.get("code", data))
    return chat


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


# --- Prompt tokens, before and after ---------------------------------------------------------


_OLD_SYSTEM_TAIL = " Today is {today}."


def old_layout(*, question: str, hits: list[Any], tz: Any, now: datetime, passage_chars: int) -> list[dict[str, str]]:
    """The messages as the chat built them before the static prefix and the budget: the date at
    the end of the system message, each passage cut at CHAT_PASSAGE_CHARS, nothing else."""
    from mindpost.chat.prompts import SYSTEM_PROMPT, ContextPassage, render_context
    from mindpost.notes.selectors import excerpt

    today = now.astimezone(tz).strftime("%A %d %B %Y")
    context = [
        ContextPassage(
            number=i, text=excerpt(h.text, answer=question, limit=passage_chars), created_at=h.note_created_at
        )
        for i, h in enumerate(hits, start=1)
    ]
    return [
        {"role": "system", "content": SYSTEM_PROMPT + _OLD_SYSTEM_TAIL.replace("{today}", today)},
        {"role": "user", "content": f"Notes:\n\n{render_context(context, tz=tz)}\n\nQuestion: {question}"},
    ]


def server_tokens(base_url: str, messages: list[dict[str, str]]) -> list[int]:
    """The prompt llama.cpp evaluates for these messages, as token ids (its template and tokeniser)."""
    import httpx

    root = _root(base_url)
    prompt = httpx.post(f"{root}/apply-template", json={"messages": messages}, timeout=60).json()["prompt"]
    body = {"content": prompt, "add_special": False, "parse_special": True}
    return list(httpx.post(f"{root}/tokenize", json=body, timeout=60).json()["tokens"])


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def compare_layouts(*, user: Any, questions: list[str], base_url: str) -> dict[str, Any]:
    """Token counts of the old and new layouts for the same retrieved passages. "Reusable" is the
    prefix a prompt shares with the one before it: what the slot's cache can skip (users in
    different time zones, or a date change, end the old prefix earlier)."""
    from django.conf import settings
    from django.utils import timezone

    from mindpost.chat import services
    from mindpost.core.filters import user_zone

    now = timezone.now()
    rows: list[dict[str, int]] = []
    previous: dict[str, list[int]] = {}
    zones = ["Europe/Berlin", "Asia/Tokyo"]  # two users, alternating: the old prefix held the date
    for i, question in enumerate(questions):
        user.timezone = zones[i % 2]
        prepared = services.chat_prepare(user=user, message=question)
        services.release_unit(user=user)
        if not prepared.found:
            continue
        tz = user_zone(user.timezone)
        retrieval = services.retrieve(user=user, question=question, previous_question=None)
        old = server_tokens(
            base_url,
            old_layout(
                question=question, hits=retrieval.hits, tz=tz, now=now, passage_chars=settings.CHAT_PASSAGE_CHARS
            ),
        )
        new = server_tokens(base_url, prepared.messages)
        row = {"old": len(old), "new": len(new)}
        if previous:
            row["old_reused"] = _common_prefix(previous["old"], old)
            row["new_reused"] = _common_prefix(previous["new"], new)
        previous = {"old": old, "new": new}
        rows.append(row)
    system = server_tokens(base_url, [{"role": "system", "content": _system_prompt()}])
    return {"rows": rows, "system_tokens": len(system)}


def _system_prompt() -> str:
    from mindpost.chat.prompts import SYSTEM_PROMPT

    return SYSTEM_PROMPT


# --- Calibration -------------------------------------------------------------------------------


def calibrate(base_url: str) -> str:
    """estimate_tokens against the server's tokeniser, per language: chars per token and the ratio."""
    import httpx

    from mindpost.chat.prompts import estimate_tokens

    def count(text: str) -> int:
        return len(httpx.post(f"{_root(base_url)}/tokenize", json={"content": text}, timeout=60).json()["tokens"])

    notes = json.loads((DATA / "notes.json").read_text())
    groups = {
        "English (bench notes)": [n["text"] for n in notes if n["text"].isascii()]
        + [n["text"] for n in filler_notes(120)],
        "German/Spanish/French/Italian": [n["text"] for n in notes if not n["text"].isascii()],
    }
    extra = json.loads((DATA / "token_calibration.json").read_text())
    groups.update({lang: texts for lang, texts in extra.items() if not lang.startswith("_")})
    lines = [
        "| language | texts | chars per token (Qwen2.5) | estimate / actual, all | per text, min-max |",
        "|---|---|---|---|---|",
    ]
    for lang, texts in groups.items():
        actual = [count(t) for t in texts]
        estimated = [estimate_tokens(t) for t in texts]
        ratios = [e / a for e, a in zip(estimated, actual, strict=True)]
        lines.append(
            f"| {lang} | {len(texts)} | {sum(map(len, texts)) / sum(actual):.2f} | "
            f"{sum(estimated) / sum(actual):.2f} | {min(ratios):.2f}-{max(ratios):.2f} |"
        )
    return "\n".join(lines)


# --- The run -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=330)
    parser.add_argument("--questions", type=int, default=10, help="one at a time (at least 10 for the figures)")
    parser.add_argument("--concurrent", type=int, default=4)
    parser.add_argument("--seed", type=int, default=None, help="picks the questions (default: the clock)")
    parser.add_argument("--preset", default=os.environ.get("LLM_PRESET", "1.5b"))
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--calibrate", action="store_true", help="only the token-estimate calibration")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    args.seed = args.seed if args.seed is not None else int(time.time())

    import django

    from mindpost.core import bootstrap

    bootstrap.ensure_dev_secrets()
    django.setup()
    from django.conf import settings

    base_url = settings.LLM_SERVER_URL
    if args.calibrate:
        with model_server(base_url, preset=args.preset):
            table = calibrate(base_url)
        report = "\n".join(
            [
                "### Token estimate against Qwen2.5's tokeniser (bench/chat_latency.py --calibrate)",
                "",
                f"{_docs.machine()}. mindpost.chat.prompts.estimate_tokens (what CHAT_CONTEXT_TOKENS is counted "
                "in) against llama.cpp's /tokenize on the 1.5B server; above 1 the estimate errs high, as meant.",
                "",
                table,
            ]
        )
        print(report)
        if args.write_docs:
            _docs.write_block("chat-token-estimate", report)
        return

    connection, old_name = setup_db()
    try:
        with model_server(base_url, preset=args.preset):
            report = run(args, connection=connection, base_url=base_url)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(report)
    if args.write_docs:
        _docs.write_block("chat-latency", report)


def run(args: argparse.Namespace, *, connection: Any, base_url: str) -> str:
    import httpx

    machine = _docs.machine()
    load_start = os.getloadavg()
    questions = pick_questions(args.questions + args.concurrent + 1, seed=args.seed)
    warm_question, singles, group = questions[0], questions[1 : 1 + args.questions], questions[1 + args.questions :]
    user, token, notes = seed_user(notes=args.notes)
    proxy = TimingProxy(base_url)
    env = {"CHAT_BACKEND": "local", "LLM_SERVER_URL": proxy.url}
    with app_server(connection=connection, port=args.port, env=env) as base:
        wait_up(_root(base_url), path="/health")

        async def measure() -> tuple[list[Chat], list[Chat]]:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(base_url=base, headers=headers, timeout=300) as client:
                await ask(client, warm_question)  # loads the embedder and puts the fixed prefix in the cache
                one = []
                for question in singles:
                    chat = await ask(client, question)
                    one.append(chat)
                    print(_line(chat))
                together = await asyncio.gather(*(ask(client, q) for q in group))
                for chat in together:
                    print(_line(chat, concurrent=True))
                return one, list(together)

        one, together = asyncio.run(measure())
    for chat in one + together:
        chat.model = proxy.find(chat.question)
    layouts = compare_layouts(user=user, questions=singles, base_url=base_url)
    load_end = os.getloadavg()
    return format_report(
        one=one,
        together=together,
        layouts=layouts,
        notes=notes,
        args=args,
        machine=machine,
        load=(load_start, load_end),
    )


def _line(chat: Chat, *, concurrent: bool = False) -> str:
    def s(v: float | None) -> str:
        return f"{v:.2f}s" if v is not None else "—"

    queue = f", queue {s(chat.first_queue)} {chat.positions}" if concurrent else ""
    problem = f" ERROR {chat.error}" if chat.error else ("" if chat.found else " (not found: no model call)")
    return (
        f"  sources {s(chat.sources)}{queue}, first token {s(chat.first_token)}, done {s(chat.done)}"
        f"  {chat.question!r}{problem}"
    )


def format_report(
    *,
    one: list[Chat],
    together: list[Chat],
    layouts: dict[str, Any],
    notes: int,
    args: argparse.Namespace,
    machine: str,
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
) -> str:
    from django.conf import settings

    answered = [c for c in one if c.found and not c.error and c.first_token is not None]

    def stat(values: list[float]) -> str:
        return f"p50 {_pct(values, 0.5):.2f} s, p95 {_pct(values, 0.95):.2f} s" if values else "—"

    sources = [c.sources for c in one if c.sources is not None]
    firsts = [c.first_token for c in answered if c.first_token is not None]
    dones = [c.done for c in answered if c.done is not None]
    lines = [
        "### Chat latency through the API (bench/chat_latency.py)",
        "",
        f"{machine}; load average {load[0][0]:.1f} / {load[0][1]:.1f} / {load[0][2]:.1f} at start, "
        f"{load[1][0]:.1f} / {load[1][1]:.1f} / {load[1][2]:.1f} at end. One uvicorn process, the local "
        f"model server (LLM_PRESET={args.preset}), a user with {notes} notes; questions picked with "
        f"--seed {args.seed}, none asked twice. CHAT_CONTEXT_TOKENS={settings.CHAT_CONTEXT_TOKENS}, "
        f"CHAT_CONTEXT_PASSAGES={settings.CHAT_CONTEXT_PASSAGES}, LLM_PARALLEL="
        f"{getattr(settings, 'LLM_PARALLEL', 1)}.",
        "",
        f"**One chat at a time** ({len(one)} questions, {len(answered)} answered by the model):",
        f"- `sources`: {stat(sources)} (goal p50 ≤ 0.5 s)",
        f"- first token: {stat(firsts)} (goal p50 ≤ 2.5 s, p95 ≤ 4 s)",
        f"- `done`: {stat(dones)}",
        "",
        "Where the first token's time goes (medians over the answered questions; model figures are "
        "llama.cpp's own `timings` of each request):",
        "",
        "| part | median |",
        "|---|---|",
    ]
    lines += _breakdown(answered)
    lines += [
        "",
        f"**{len(together)} chats at once:**",
        "",
        "| chat | `sources` | first `queue` | positions | first token | prompt tokens (cached) |",
        "|---|---|---|---|---|---|",
    ]
    for i, chat in enumerate(sorted(together, key=lambda c: c.first_token or 1e9), start=1):
        lines.append(
            f"| {i} | {_s(chat.sources)} | {_s(chat.first_queue)} | "
            f"{', '.join(map(str, chat.positions)) or 'none'} | {_s(chat.first_token)} | {_tokens(chat)} |"
        )
    lasts = [c.first_token for c in together if c.first_token is not None]
    worst_sources = max((c.sources for c in together if c.sources is not None), default=float("nan"))
    lines += [
        "",
        f"Slowest `sources` {worst_sources:.2f} s (goal ≤ 1 s); last first token "
        f"{max(lasts) if lasts else float('nan'):.2f} s (goal ≤ 6 s, 11.9 s in the issue).",
    ]
    lines += _layout_lines(layouts)
    errors = [c for c in one + together if c.error]
    if errors:
        lines += ["", f"Errors: {', '.join(f'{c.question!r}: {c.error}' for c in errors)}"]
    return "\n".join(lines)


def _s(value: float | None) -> str:
    return f"{value:.2f} s" if value is not None else "—"


def _tokens(chat: Chat) -> str:
    t = chat.model.timings if chat.model else {}
    return f"{int(t['prompt_n'] + t['cache_n'])} ({int(t['cache_n'])})" if t else "—"


def _breakdown(chats: list[Chat]) -> list[str]:
    with_model = [c for c in chats if c.model and c.model.timings and c.first_token is not None]
    if not with_model:
        return ["| (no model timings recorded) | — |"]

    def med(values: list[float]) -> str:
        return f"{statistics.median(values):.2f} s"

    retrieval = [c.sources or 0.0 for c in with_model]
    # From `sources` until the request reaches llama.cpp: the admission queue and opening the stream.
    waiting = [max(c.model.arrived - c.started - (c.sources or 0.0), 0.0) for c in with_model if c.model]
    prompt = [c.model.timings["prompt_ms"] / 1000 for c in with_model if c.model]
    per_token = [
        c.model.timings["predicted_ms"] / max(c.model.timings["predicted_n"], 1) / 1000 for c in with_model if c.model
    ]
    # What is left of the first token: one generated token, HTTP and the app's own relaying.
    rest = [
        (c.first_token or 0.0) - (c.model.arrived - c.started) - c.model.timings["prompt_ms"] / 1000
        for c in with_model
        if c.model
    ]
    evaluated = [c.model.timings["prompt_n"] for c in with_model if c.model]
    cached = [c.model.timings["cache_n"] for c in with_model if c.model]
    speed = [
        c.model.timings["prompt_n"] / max(c.model.timings["prompt_ms"] / 1000, 1e-6) for c in with_model if c.model
    ]
    generated = [c.model.timings["predicted_n"] for c in with_model if c.model]
    return [
        f"| retrieval (POST until `sources`) | {med(retrieval)} |",
        f"| waiting (until the request reaches llama.cpp: queue, opening the stream) | {med(waiting)} |",
        f"| tokenising + prompt evaluation (llama.cpp `prompt_ms`) | {med(prompt)} |",
        f"| first generated token, HTTP and relaying (the rest) | {med(rest)} |",
        f"| — prompt tokens evaluated / reused from the cache (`prompt_n` / `cache_n`) | "
        f"{statistics.median(evaluated):.0f} / {statistics.median(cached):.0f} |",
        f"| — prompt evaluation speed | {statistics.median(speed):.0f} tokens/s |",
        f"| — generation: tokens per answer, time per token | {statistics.median(generated):.0f}, "
        f"{statistics.median(per_token) * 1000:.0f} ms |",
    ]


def _layout_lines(layouts: dict[str, Any]) -> list[str]:
    rows = layouts["rows"]
    if not rows:
        return []

    def med(key: str) -> str:
        values = [r[key] for r in rows if key in r]
        return f"{statistics.median(values):.0f}" if values else "—"

    return [
        "",
        f"**Prompt tokens, before and after** (the same {len(rows)} retrievals, counted by the server's "
        "template and tokeniser; alternating two users in Berlin and Tokyo; reusable = the prefix shared "
        "with the previous prompt, what the slot's cache skips):",
        "",
        "| layout | prompt tokens (median) | reusable from the cache | evaluated |",
        "|---|---|---|---|",
        f"| before: date in the system message, passages cut at CHAT_PASSAGE_CHARS | {med('old')} | "
        f"{med('old_reused')} | {_minus(rows, 'old')} |",
        f"| after: fixed system prefix ({layouts['system_tokens']} tokens), CHAT_CONTEXT_TOKENS budget | "
        f"{med('new')} | {med('new_reused')} | {_minus(rows, 'new')} |",
    ]


def _minus(rows: list[dict[str, int]], key: str) -> str:
    values = [r[key] - r[f"{key}_reused"] for r in rows if f"{key}_reused" in r]
    return f"{statistics.median(values):.0f}" if values else "—"


if __name__ == "__main__":
    main()
