"""Chat answer quality on a labelled set: correct, correct and citing the right note, retrieval hit.

    .venv/bin/python bench/chat_quality.py [--preset 1.5b] [--port 8195] [--only KIND] [--write-docs]

The user has 330 notes: bench/data/notes.json's 50 labelled notes, the extra notes of
bench/data/chat_set.json (a day with 8 notes, "Mum"/"Dad" notes, two pairs of near-duplicates
where only one note answers) and generated fillers (bench/retrieval_quality.filler_notes). The
extra notes' dates are relative to the set's fixed `now` (Mon 30 Nov 2026 18:00, Europe/Berlin);
the fillers are spread over the eight weeks before it, never on that day or the day before, so
"what did I note yesterday?" has nothing to find. Everything goes through the real pipeline into
a throwaway test database (as bench/retrieval_quality.py does), and each question is asked once,
in a new conversation, through the real chat code (mindpost.chat.services chat_prepare +
chat_complete) with the clock frozen at `now`, against the local model server at temperature 0.
If nothing answers at LLM_SERVER_URL (default http://127.0.0.1:<--port>/v1), the script starts
`manage.py llmserver` with LLM_PRESET=--preset there and stops it afterwards.

Judged automatically, per question (case- and accent-insensitive substring matching):
- correct: every expected key fact is in the answer (a fact is a list of accepted spellings), or
  at least `facts_needed` of them (the day question: 6 of its 8 notes' facts). Unanswerable
  questions are correct when the answer says the notes do not have it (IDK_MARKERS) and the
  "empty-period" ones when it says nothing was recorded then and names the period.
- cites: correct, and the first citation the server attributed is an expected note, and no
  citation is a `wrong_notes` one (the near-duplicate that does not answer); for the day question
  every citation must be one of that day's notes. Unanswerable: correct with no citation.
- retrieval hit: an expected note is among the passages given to the model (the day question:
  all 8 of them); unanswerable and empty-period questions: no passage given (no model call).
Latency is the time of chat_prepare + chat_complete (no streaming); on a shared machine it is
noisy, compare presets within one run of the script.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("TEST_DB_NAME", f"bench_chat_quality_{os.getpid()}")

from bench.retrieval_quality import filler_notes, load_notes, setup_db  # noqa: E402  (after sys.path)

IDK_MARKERS = [
    "couldn't find",
    "could not find",
    "can't find",
    "cannot find",
    "not in your notes",
    "no information",
    "don't have",
    "do not have",
    "don't know",
    "doesn't say",
    "don't mention",
    "do not mention",
    "doesn't mention",
    "not mentioned",
    "no mention",
    "no record",
    "didn't record",
    "nothing about",
]


def fold(text: str) -> str:
    """Lower case without accents, so "Lucía" matches "lucia"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).replace("\u2019", "'")


def facts_found(answer: str, facts: list[list[str]]) -> int:
    folded = fold(answer)
    return sum(1 for spellings in facts if any(fold(s) in folded for s in spellings))


def build_notes(chat_set: dict[str, Any]) -> tuple[list[dict[str, str]], datetime]:
    """The 330 notes with their dates ({"id", "date", "text"}), and the frozen `now`."""
    tz = ZoneInfo(chat_set["timezone"])
    now = datetime.fromisoformat(chat_set["now"]).replace(tzinfo=tz)
    labelled = json.loads((DATA / "notes.json").read_text())
    extra = []
    for note in chat_set["notes"]:
        hour, minute = (int(part) for part in note["time"].split(":"))
        day = now.date() - timedelta(days=note["days_ago"])
        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
        extra.append({"id": note["id"], "date": when.isoformat(), "text": note["text"]})
    fillers = filler_notes(chat_set["total_notes"] - len(labelled) - len(extra))
    rng = random.Random(7)
    for note in fillers:  # recent weeks, never today or yesterday
        day = now.date() - timedelta(days=rng.randint(2, 56))
        note["date"] = datetime(
            day.year, day.month, day.day, rng.randint(7, 22), rng.randint(0, 59), tzinfo=tz
        ).isoformat()
    return labelled + extra + fillers, now


def judge(item: dict[str, Any], *, answer: str, cited: list[str], given: list[str], found: bool) -> dict[str, bool]:
    kind, expected = item["kind"], set(item["notes"])
    if kind == "unanswerable":
        correct = any(marker in fold(answer) for marker in IDK_MARKERS)
        return {"correct": correct, "cites": correct and not cited, "retrieval": not found}
    if kind == "empty-period":
        correct = facts_found(answer, item["facts"]) == len(item["facts"])
        return {"correct": correct, "cites": correct and not cited, "retrieval": not found}
    needed = item.get("facts_needed", len(item["facts"]))
    correct = facts_found(answer, item["facts"]) >= needed
    wrong = set(item.get("wrong_notes", []))
    if item.get("all_notes"):
        cites = correct and bool(cited) and set(cited) <= expected
        retrieval = expected <= set(given)
    else:
        cites = correct and bool(cited) and cited[0] in expected and not (set(cited) & wrong)
        retrieval = bool(expected & set(given))
    return {"correct": correct, "cites": cites, "retrieval": retrieval}


def ask_all(*, user: Any, questions: list[dict[str, Any]], mapping: dict[str, str], now: datetime) -> list[dict]:
    from mindpost.chat import services
    from mindpost.core.errors import AppError

    results = []
    with (
        mock.patch("django.utils.timezone.now", return_value=now),
        mock.patch("mindpost.billing.metering.reserve"),  # quota is not what is measured
        mock.patch("mindpost.billing.metering.release"),
    ):
        for item in questions:
            t0 = time.perf_counter()
            prepared = services.chat_prepare(user=user, message=item["q"])
            given = [mapping.get(str(hit.note_id), "?") for hit in prepared.retrieval.hits]
            try:
                reply = services.chat_complete(prepared=prepared)
                answer, found = reply.response, reply.found
                cited = [mapping.get(c["note_id"], "?") for c in reply.citations]
            except AppError as exc:  # the model timed out on a loaded machine: a wrong answer, go on
                answer, found, cited = f"(error: {exc.code})", True, []
            seconds = time.perf_counter() - t0
            verdict = judge(item, answer=answer, cited=cited, given=given, found=found)
            results.append({**item, **verdict, "answer": answer, "cited": cited, "given": given, "s": seconds})
            mark = "".join("x" if verdict[k] else "." for k in ("correct", "cites", "retrieval"))
            print(f"[{mark}] {seconds:5.1f}s {item['kind']:<15} {item['q']}")
            print(f"         given {given} cited {cited}")
            print(f"         -> {' '.join(answer.split())[:300]}")
    return results


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(results)
    kinds: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        kinds.setdefault(r["kind"], []).append(r)
    seconds = [r["s"] for r in results]
    return {
        "n": n,
        "correct": sum(r["correct"] for r in results),
        "cites": sum(r["cites"] for r in results),
        "retrieval": sum(r["retrieval"] for r in results),
        "idk": sum(r["correct"] for r in kinds.get("unanswerable", [])),
        "idk_n": len(kinds.get("unanswerable", [])),
        "kinds": {k: (sum(r["correct"] for r in v), sum(r["cites"] for r in v), len(v)) for k, v in kinds.items()},
        "p50": statistics.median(seconds),
        "max": max(seconds),
    }


def _start_server(base_url: str, preset: str, timeout: float) -> subprocess.Popen[bytes] | None:
    from bench.chat import _healthy

    if _healthy(base_url):
        return None
    print(f"no model server at {base_url}: starting manage.py llmserver (LLM_PRESET={preset})")
    env = {**os.environ, "LLM_PRESET": preset, "LLM_SERVER_URL": base_url}
    server = subprocess.Popen([sys.executable, "manage.py", "llmserver"], cwd=ROOT, env=env)
    deadline = time.monotonic() + timeout
    while not _healthy(base_url):
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            raise SystemExit("the model server did not come up (is the model assembled? see the README)")
        time.sleep(1)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=os.environ.get("LLM_PRESET", "1.5b"))
    parser.add_argument("--port", type=int, default=8195, help="for the model server, unless LLM_SERVER_URL is set")
    parser.add_argument("--only", help="ask only the questions of this kind")
    parser.add_argument("--label", default="", help="a name for this run in the docs block (e.g. 'before')")
    parser.add_argument("--json", type=Path, help="also write the per-question results here")
    parser.add_argument(
        "--compare", type=Path, nargs="*", default=[], help="earlier --json results: rows of the docs table too"
    )
    parser.add_argument("--startup-timeout", type=float, default=300)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("LLM_SERVER_URL", f"http://127.0.0.1:{args.port}/v1")
    os.environ["CHAT_BACKEND"] = "local"
    os.environ["LLM_PRESET"] = args.preset
    os.environ["CHAT_TEMPERATURE"] = "0"  # the bench must be repeatable
    os.environ.setdefault("AI_TIMEOUT_SECONDS", "900")  # a loaded shared machine is slow, not down

    connection, old_name = setup_db()
    from django.conf import settings

    server = _start_server(settings.LLM_SERVER_URL, args.preset, args.startup_timeout)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


def run(args: argparse.Namespace) -> None:
    from django.conf import settings

    from mindpost.accounts.models import User

    chat_set = json.loads((DATA / "chat_set.json").read_text())
    notes, now = build_notes(chat_set)
    user = User.objects.create_user(email="bench-chat@example.com", password=None)
    user.timezone = chat_set["timezone"]
    user.save(update_fields=["timezone"])
    t0 = time.perf_counter()
    mapping = load_notes(user, notes)
    print(f"{len(notes)} notes indexed in {time.perf_counter() - t0:.1f}s; model server {settings.LLM_SERVER_URL}")
    questions = [q for q in chat_set["questions"] if not args.only or q["kind"] == args.only]
    load = os.getloadavg()[0]
    results = ask_all(user=user, questions=questions, mapping=mapping, now=now)
    s = summary(results)
    print(
        f"\npreset {args.preset}: correct {s['correct']}/{s['n']}, correct and citing the right note "
        f'{s["cites"]}/{s["n"]}, retrieval hit {s["retrieval"]}/{s["n"]}, "I don\'t know" {s["idk"]}/{s["idk_n"]}; '
        f"per question p50 {s['p50']:.1f}s, max {s['max']:.1f}s (load {load:.1f} at start, noisy)"
    )
    for kind, (correct, cites, n) in s["kinds"].items():
        print(f"  {kind:<15} correct {correct}/{n}  cites {cites}/{n}")
    if args.json:
        args.json.write_text(
            json.dumps({"preset": args.preset, "label": args.label, "summary": s, "results": results}, indent=1)
        )
    if args.write_docs:
        earlier = [json.loads(path.read_text()) for path in args.compare]
        runs = [*earlier, {"preset": args.preset, "label": args.label, "summary": s, "results": results}]
        write_docs(runs)


def write_docs(runs: list[dict[str, Any]]) -> None:
    """One table row per run (earlier runs from their --json files, this run last), then this
    run's kinds and the questions it did not get right and cited."""
    from bench._docs import machine, write_block

    last = runs[-1]
    s = last["summary"]
    lines = [
        "### Chat answer quality (`bench/chat_quality.py`)",
        "",
        f"Machine: {machine()}. {s['n']} labelled questions (bench/data/chat_set.json) over a user with 330 notes, "
        "each through chat_prepare + chat_complete against the local model, temperature 0. Correct = the "
        "expected key facts are in the answer; cites = correct and the first citation is the note that answers "
        "(none for unanswerable ones); retrieval = that note was given to the model (for the day question all 8; "
        "for unanswerable and empty-period ones: no model call). Latency per question (retrieval + the whole "
        "answer, no streaming) is noisy on a shared machine: compare rows of one table only.",
        "",
        '| run | model | correct | correct + cites | retrieval hit | "I don\'t know" | p50 / max per question |',
        "|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        r = run["summary"]
        lines.append(
            f"| {run.get('label') or run['preset']} | {run['preset']} | {r['correct']}/{r['n']} "
            f"| {r['cites']}/{r['n']} "
            f"| {r['retrieval']}/{r['n']} | {r['idk']}/{r['idk_n']} | {r['p50']:.1f} s / {r['max']:.1f} s |"
        )
    lines += ["", "| kind | " + " | ".join(run.get("label") or run["preset"] for run in runs) + " |"]
    lines.append("|---|" + "---|" * len(runs))
    for kind in s["kinds"]:
        cells = []
        for run in runs:
            correct, cites, n = run["summary"]["kinds"].get(kind, (0, 0, 0))
            cells.append(f"{correct}/{n} correct, {cites}/{n} cited")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    misses = [r for r in last["results"] if not r["cites"]]
    if misses:
        lines += ["", f"Not correct-and-cited in the last run ({last.get('label') or last['preset']}):"]
        lines += [f'- "{r["q"]}" ({r["kind"]}): "{" ".join(r["answer"].split())[:160]}"' for r in misses]
    write_block("chat-quality", "\n".join(lines))


if __name__ == "__main__":
    main()
