"""Post drafts with the local model: time to three short variants, alone and beside a chat
stream, and how different the variants are from each other and from the note.

    .venv/bin/python bench/drafts.py [--runs 5] [--preset 1.5b] [--write-docs]

Each run writes drafts from a different note of bench/data/notes.json, so llama.cpp's prompt
cache can only reuse the fixed rules (as it does in production), never a whole prompt. Two
strategies are measured in the same run, alternating, so machine load hits both alike:

- `angles` (mindpost.posts.generation.run, the code in use): one JSON call per angle (hook,
  lesson, question), all starting with the same rules + notes;
- `one-call` (the previous code, kept here for comparison): one JSON call for all three
  variants, with one repair request when the reply is unusable or has fewer than three.

Then `angles` again while a chat answer streams at the same time: it must not fail, and the
stages it reports (progress) are printed.

Similarity. Word 3-gram Jaccard (generation.similarity) measures copied wording; two drafts at
or above NEAR_COPY (0.5: half of all their three-word phrases shared) read as one post lightly
edited, and generation drops such a draft. e5 cosine (mindpost.ai.get_embedder) is printed for
meaning; it is compressed on this model (unrelated notes ~0.75, DESIGN §6), so drafts of one
note always score high and it gets no threshold. The admission queue is off here
(LLM_QUEUE_SLOTS=0): the bench needs no database, and llama.cpp itself queues the two requests.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LLM_QUEUE_SLOTS", "0")
os.environ.setdefault("AI_TIMEOUT_SECONDS", "300")  # a loaded machine is measured, not failed

CHAT_QUESTION = "Summarise what I did on my trips this year, place by place, in a few sentences."


def _healthy(base_url: str) -> bool:
    import httpx

    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        return httpx.get(f"{root}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _legacy_prompt(count: int = 3, min_chars: int = 80, max_chars: int = 280) -> str:
    """The system prompt of the previous one-call generation (hashtags none for short posts)."""
    return "\n".join(
        [
            "You turn a person's own notes (transcribed speech) into social media posts that they will publish.",
            "Rules:",
            "- Use only facts, names, numbers, places and opinions that appear in the notes. Never add anything "
            "new: no invented details, statistics, links, quotes or opinions.",
            "- Keep the speaker's voice: first person, their words, tone and spelling of names.",
            "- Merge related thoughts and drop filler (um, like, you know). Conversational and ready to publish.",
            "- Hashtags: none.",
            f"- Write {count} different versions of the post.",
            f"- Each version has between {min_chars} and {max_chars} characters (never more than {max_chars}).",
            "Reply with JSON only, exactly this shape:",
            '{"posts": [{"post_text": "the post", "topics": ["topic"]}]}',
        ]
    )


def one_call(model: Any, note: str, stats: list[Any]) -> list[str]:
    from mindpost.posts import generation

    messages = [
        {"role": "system", "content": _legacy_prompt()},
        {"role": "user", "content": f"My notes:\n\n{note}"},
    ]
    raw = generation._complete(model, messages=messages, max_tokens=536, temperature=0.7, purpose="all", stats=stats)
    variants = generation.parse_reply(raw, fmt="single")
    if len(variants) < 3:
        repair = [
            *messages,
            {"role": "assistant", "content": raw[:4000]},
            {"role": "user", "content": "That reply had fewer than 3 versions. Reply again with only the JSON."},
        ]
        retry = generation.parse_reply(
            generation._complete(
                model, messages=repair, max_tokens=536, temperature=0.3, purpose="repair", stats=stats
            ),
            fmt="single",
        )
        variants = retry if len(retry) >= len(variants) else variants
    return [v["post_text"] for v in variants[:3]]


def angles(model: Any, note: str, stats: list[Any], stages: list[str] | None = None) -> list[str]:
    from mindpost.posts import generation

    plan = generation.Plan(notes_text=note, fmt="single", limit=280, target=280, floor=80, minimum=3, count=3)
    log = stages if stages is not None else []
    variants = generation.run(plan, model=model, stats=stats, on_stage=log.append)
    return [v.post_text for v in variants]


def similarities(texts: list[str], note: str, embedder: Any) -> dict[str, list[float]]:
    import numpy as np

    from mindpost.posts.generation import similarity

    pairs = list(itertools.combinations(range(len(texts)), 2))
    vectors = np.asarray(embedder.embed_passages([note, *texts]))
    cos = vectors @ vectors.T
    return {
        "jaccard_pairs": [similarity(texts[a], texts[b]) for a, b in pairs],
        "jaccard_note": [similarity(t, note) for t in texts],
        "e5_pairs": [float(cos[a + 1, b + 1]) for a, b in pairs],
        "e5_note": [float(cos[0, i + 1]) for i in range(len(texts))],
    }


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _fmt(values: list[float]) -> str:
    return f"p50 {_p50(values):.2f}, max {max(values):.2f}" if values else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--preset", default=os.environ.get("LLM_PRESET", "1.5b"))
    parser.add_argument("--startup-timeout", type=float, default=300)
    parser.add_argument("--offset", type=int, default=20, help="first note of bench/data/notes.json to use")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from bench._docs import machine, write_block
    from mindpost.ai import get_chat_model, get_embedder
    from mindpost.posts.generation import NEAR_COPY

    notes = [n["text"] for n in json.loads((ROOT / "bench/data/notes.json").read_text())]
    needed = 3 * args.runs
    if needed > len(notes):
        sys.exit(f"--runs {args.runs} needs {needed} distinct notes; bench/data/notes.json has {len(notes)}.")
    fresh = iter(notes[args.offset :] + notes[: args.offset])
    started_at = machine()

    base_url = settings.LLM_SERVER_URL
    server = None
    if not _healthy(base_url):
        print(f"starting manage.py llmserver ({args.preset}) for {base_url}")
        server = subprocess.Popen(
            [sys.executable, "manage.py", "llmserver"], cwd=ROOT, env={**os.environ, "LLM_PRESET": args.preset}
        )
        deadline = time.monotonic() + args.startup_timeout
        while not _healthy(base_url):
            if time.monotonic() > deadline or server.poll() is not None:
                server.terminate()
                sys.exit("the LLM server did not become healthy")
            time.sleep(1)
    try:
        model = get_chat_model()
        embedder = get_embedder()
        results: dict[str, dict[str, list[Any]]] = {
            name: {"seconds": [], "calls": [], "sims": [], "texts": []} for name in ("angles", "one-call", "with-chat")
        }
        for run in range(args.runs):
            order = ("angles", "one-call") if run % 2 == 0 else ("one-call", "angles")
            for name in order:
                note = next(fresh)
                stats: list[Any] = []
                t0 = time.monotonic()
                try:
                    texts = (angles if name == "angles" else one_call)(model, note, stats)
                except Exception as exc:  # reported and counted, the run goes on
                    print(f"{name:9s} run {run + 1}: FAILED {exc!r}")
                    results[name].setdefault("errors", []).append(repr(exc))
                    continue
                results[name]["seconds"].append(time.monotonic() - t0)
                results[name]["calls"].append(stats)
                results[name]["sims"].append(similarities(texts, note, embedder))
                results[name]["texts"].append(texts)
                print(
                    f"{name:9s} run {run + 1}: {results[name]['seconds'][-1]:5.1f} s, {len(texts)} variants, "
                    + ", ".join(
                        f"{c.purpose} {c.seconds:.1f}s ({c.prompt_tokens} prompt/{c.cached_tokens} cached/"
                        f"{c.predicted_tokens} predicted)"
                        for c in stats
                    )
                )
            # The same while a chat answer streams.
            note = next(fresh)
            chat_done: dict[str, Any] = {}

            def stream_chat(context: str = notes[run], chat_done: dict[str, Any] = chat_done) -> None:
                t = time.monotonic()
                first = None
                try:
                    for _delta in model.stream(
                        messages=[{"role": "user", "content": f"My notes: {context}\n\n{CHAT_QUESTION}"}],
                        max_tokens=200,
                    ):
                        first = first or time.monotonic() - t
                    chat_done.update(first=first, total=time.monotonic() - t)
                except Exception as exc:
                    chat_done.update(error=repr(exc))

            chat = threading.Thread(target=stream_chat)
            chat.start()
            time.sleep(0.2)  # the chat asks first
            stats = []
            stages: list[str] = []
            t0 = time.monotonic()
            try:
                texts = angles(model, note, stats, stages)
                error = ""
            except Exception as exc:  # reported, and counted as a failure
                texts, error = [], repr(exc)
            elapsed = time.monotonic() - t0
            chat.join()
            row = results["with-chat"]
            row["seconds"].append(elapsed)
            row["calls"].append(stats)
            row.setdefault("errors", []).append(error)
            row.setdefault("stages", []).append(stages)
            if texts:
                row["sims"].append(similarities(texts, note, embedder))
            print(
                f"with-chat run {run + 1}: {elapsed:5.1f} s, {len(texts)} variants"
                f"{', FAILED ' + error if error else ''}; chat {chat_done}; stages: {' → '.join(stages)}"
            )
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)

    def agg(name: str, key: str) -> list[float]:
        return [value for sims in results[name]["sims"] for value in sims[key]]

    lines = [
        f"Drafts ({args.preset}, three short variants, {args.runs} fresh notes per row; {started_at}; "
        f"load {os.getloadavg()[0]:.1f} at the end).",
        "",
        "| strategy | p50 s | max s | model calls p50 | predicted tokens p50 | 3-gram Jaccard pairs (p50/max) "
        "| Jaccard to note (p50/max) | e5 cosine pairs p50 | pairs ≥ threshold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("angles", "one-call", "with-chat"):
        row = results[name]
        pairs = agg(name, "jaccard_pairs")
        lines.append(
            f"| {name} | {_p50(row['seconds']):.1f} | {max(row['seconds'], default=float('nan')):.1f} | "
            f"{_p50([len(c) for c in row['calls']]):.0f} | "
            f"{_p50([sum(x.predicted_tokens for x in c) for c in row['calls']]):.0f} | {_fmt(pairs)} | "
            f"{_fmt(agg(name, 'jaccard_note'))} | {_p50(agg(name, 'e5_pairs')):.3f} | "
            f"{sum(p >= NEAR_COPY for p in pairs)}/{len(pairs)} |"
        )
    failures = sum(1 for e in results["with-chat"].get("errors", []) if e)
    progress = sum(1 for s in results["with-chat"].get("stages", []) if len(s) >= 2)
    lines += [
        "",
        "Failures alone: "
        + ", ".join(f"{n} {len(results[n].get('errors', []))}" for n in ("angles", "one-call"))
        + f". Beside a streaming chat: {failures} failures in {args.runs} runs; progress stages reported in "
        f"{progress}/{args.runs}. Near-copy threshold: word 3-gram Jaccard ≥ {NEAR_COPY}.",
    ]
    print("\n".join(lines))
    if args.write_docs:
        write_block("drafts", "### Post drafts\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
