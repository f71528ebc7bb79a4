"""Chat latency with the local model: time to the first streamed token and total time.

    .venv/bin/python bench/chat.py [--runs 3] [--preset 1.5b] [--write-docs]

The context is what the chat sends for "remind me about the person I met in Greece": the real
prompt (mindpost.chat.prompts) with five ~35-word dated notes, of which one is the answer. The
request goes to the llama.cpp server (xllamacpp) over its OpenAI-compatible API with the `openai`
client, streaming, temperature 0 and `cache_prompt: false`, so no run is served from the prompt
cache (DESIGN §3). If nothing answers at LLM_SERVER_URL, the script starts
`manage.py llmserver` with LLM_PRESET=--preset, waits for /health, and stops it afterwards.

Also reported: whether the answer names the right person, whether the model wrote [n] markers,
and which passages the server-side attribution cites.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

NOTES = [
    (
        "2026-04-11T21:05:00+09:00",
        "Osaka, second night. Had dinner at a tiny ramen place run by Hiroshi, who used "
        "to be a salaryman in Tokyo. He quit at forty to make noodles. He says the broth takes eighteen hours.",
    ),
    (
        "2026-05-20T16:40:00+01:00",
        "In Lisbon I spent the afternoon with Ana, she paints azulejo tiles in a studio in "
        "Alfama. She offered to teach me a short class next time I'm in Portugal.",
    ),
    (
        "2026-09-02T18:20:00+02:00",
        "Last day in Nafplio. I met a guy called Stavros at the harbour, he builds wooden "
        "fishing boats by hand, the same way his grandfather did. He invited me to see the workshop tomorrow.",
    ),
    (
        "2026-05-26T18:30:00-04:00",
        "At the conference in Toronto I met Aisha, she works on speech recognition for "
        "doctors at a hospital. She wants to compare notes on noisy audio and maybe write a paper together.",
    ),
    (
        "2026-05-12T17:45:00+02:00",
        "In Lyon I met Claire, she works in an organic bakery in the Croix-Rousse and "
        "wants to open her own cafe next year. She recommended a wine bar near the river.",
    ),
]
QUESTION = "remind me about the person I met in Greece"


def _healthy(base_url: str) -> bool:
    import httpx

    root = base_url.rstrip("/").removesuffix("/v1")
    try:
        return httpx.get(f"{root}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--passages", type=int, nargs="+", default=[5, 3], help="context sizes to measure (5 is the default chat)"
    )
    parser.add_argument("--preset", default=os.environ.get("LLM_PRESET", "1.5b"))
    parser.add_argument("--startup-timeout", type=float, default=300)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    import django

    from mindpost.core import bootstrap

    bootstrap.ensure_dev_secrets()  # an entry point, like manage.py
    django.setup()
    from django.conf import settings

    base_url = getattr(settings, "LLM_SERVER_URL", "http://127.0.0.1:8089/v1")
    server = None
    if not _healthy(base_url):
        print(f"no model server at {base_url}: starting manage.py llmserver (LLM_PRESET={args.preset})")
        env = {**os.environ, "LLM_PRESET": args.preset}
        server = subprocess.Popen([sys.executable, "manage.py", "llmserver"], cwd=ROOT, env=env)
        deadline = time.monotonic() + args.startup_timeout
        while not _healthy(base_url):
            if server.poll() is not None or time.monotonic() > deadline:
                server.terminate()
                raise SystemExit("the model server did not come up (is the model assembled? see the README)")
            time.sleep(1)
    try:
        results = [bench(base_url=base_url, runs=args.runs, passages=n) for n in args.passages]
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    if args.write_docs:
        write_docs(results, preset=args.preset)


def bench(*, base_url: str, runs: int, passages: int) -> dict[str, Any]:
    from openai import OpenAI

    from mindpost.chat import citations as cite
    from mindpost.chat.prompts import ContextPassage, build_messages
    from mindpost.core.filters import user_zone

    client = OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY") or "local", timeout=300)
    model_id = client.models.list().data[0].id
    # The right note stays in the context: the first `passages - 1` others, then Greece.
    chosen = [note for note in NOTES if "Nafplio" not in note[1]][: passages - 1]
    chosen.insert(min(2, len(chosen)), next(note for note in NOTES if "Nafplio" in note[1]))
    right = chosen.index(next(note for note in NOTES if "Nafplio" in note[1])) + 1
    context = [
        ContextPassage(number=i, text=text, created_at=datetime.fromisoformat(when))
        for i, (when, text) in enumerate(chosen, start=1)
    ]
    tz = user_zone("Europe/Berlin")
    messages = build_messages(question=QUESTION, passages=context, history=[], now=datetime.now(UTC), tz=tz)
    prompt_chars = sum(len(m["content"]) for m in messages)
    print(f"model {model_id}; prompt {prompt_chars} characters, {passages} passages; {runs} runs, cache_prompt false")

    firsts, totals, rates, answers = [], [], [], []
    prompt_tokens = None
    for run in range(runs):
        t0 = time.perf_counter()
        first = None
        parts: list[str] = []
        stream = client.chat.completions.create(
            model=model_id,
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            temperature=0,
            max_tokens=200,
            extra_body={"cache_prompt": False},
            stream_options={"include_usage": True},
        )
        completion_tokens = 0
        for chunk in stream:
            if chunk.usage is not None:
                prompt_tokens = chunk.usage.prompt_tokens
                completion_tokens = chunk.usage.completion_tokens
            if chunk.choices and chunk.choices[0].delta.content:
                if first is None:
                    first = time.perf_counter() - t0
                parts.append(chunk.choices[0].delta.content)
        total = time.perf_counter() - t0
        answer = "".join(parts).strip()
        first = first if first is not None else total
        generating = max(total - first, 1e-6)
        rate = (completion_tokens - 1) / generating if completion_tokens > 1 else 0.0
        firsts.append(first)
        totals.append(total)
        rates.append(rate)
        answers.append(answer)
        print(
            f"  run {run + 1}: first token {first:.2f}s, total {total:.2f}s, "
            f"{completion_tokens} tokens, {rate:.1f} tok/s"
        )
    answer = answers[-1]
    cited = cite.attribute(answer=answer, question=QUESTION, passages=[p.text for p in context])
    _, markers = cite.check_markers(answer, passages=[p.text for p in context])
    correct = "stavros" in answer.lower()
    print(f"answer: {answer}")
    print(
        f"names Stavros: {correct}; valid [n] markers written: {markers or 'none'}; "
        f"server-side citations: {[c.index for c in cited]} (the right passage is [3])"
    )
    return {
        "model": model_id,
        "prompt_tokens": prompt_tokens,
        "first_median": statistics.median(firsts),
        "first_max": max(firsts),
        "total_median": statistics.median(totals),
        "total_max": max(totals),
        "rate": statistics.median(rates),
        "runs": runs,
        "answer": answer,
        "correct": correct,
        "markers": markers,
        "cited": [c.index for c in cited],
        "passages": passages,
        "right": right,
    }


def write_docs(results: list[dict[str, Any]], *, preset: str) -> None:
    from bench._docs import machine, write_block

    first = results[0]
    lines = [
        "### Chat latency (`bench/chat.py`)",
        "",
        f"Machine: {machine()}. Local llama.cpp server (xllamacpp), LLM_PRESET={preset} (`{first['model']}`), "
        "streaming, temperature 0, `cache_prompt: false`; the real chat prompt (mindpost.chat.prompts) with dated "
        f'~40-word passages and the question "{QUESTION}"; {first["runs"]} runs per size. The chat sends '
        "CHAT_CONTEXT_PASSAGES=5 by default; fewer passages means fewer prompt tokens to process before the "
        "first token.",
        "",
        "| passages | prompt tokens | first token (median / max) | total (median / max) | generation |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['passages']} | {r['prompt_tokens']} | {r['first_median']:.2f} s / {r['first_max']:.2f} s "
            f"| {r['total_median']:.2f} s / {r['total_max']:.2f} s | {r['rate']:.1f} tokens/s |"
        )
    lines.append("")
    for r in results:
        lines.append(
            f'- {r["passages"]} passages: "{r["answer"]}" — names the right person: '
            f"{'yes' if r['correct'] else 'no'}; [n] markers written by the model: {r['markers'] or 'none'}; "
            f"citations attributed by the server: {r['cited']} (the right passage is [{r['right']}])."
        )
    write_block("chat", "\n".join(lines))


if __name__ == "__main__":
    main()
