"""Note enrichment quality and speed on a labelled set (bench/data/enrich_set.json, issue 11).

    .venv/bin/python bench/enrich_quality.py [--preset 1.5b] [--port 8196] [--only ID ...]
        [--json out.json] [--write-docs]

Each note of the set (speech-style transcripts: fillers, self-corrections, rambling; English,
German, Spanish, French) becomes a ready typed note of one user (time zone and "now" from the
set) in a throwaway test database, and goes through the real enrichment service
(mindpost.notes.enrich.note_enrich: the prompt, the strict-JSON call in the BACKGROUND lane, the
defensive parsing, the due-date resolver, the tag cleaning of notes.tagging) against the local
model server, one note at a time. The notes have no language set, as typed notes: the language
comes from enrich.detect_language, as in production. If nothing answers at LLM_SERVER_URL
(default http://127.0.0.1:<--port>/v1), the script starts `manage.py llmserver` with
LLM_PRESET=--preset there and stops it afterwards.

Judged automatically:
- action items: an expected item matches a produced one when every keyword group of the label
  occurs in the produced text (any spelling of the group; case- and accent-insensitive
  substrings); matching is one to one, greedy in label order. precision = matched produced /
  produced, recall = matched expected / expected. Due dates are scored on the matched items:
  the resolved date must equal the label (null = no date said, and none given).
- tags: the note's tags after tagging are checked for stopwords (mindpost.notes.text.STOPWORDS and
  this script's own short list of fillers), possessives ('s, s', and the curly apostrophe) and
  verbs (a list of common verb forms in the four languages, without noun homographs such as
  "book" or "work", and English past forms in -ed; -ing forms count as nouns: "climbing").
- titles pass when they have 1-8 words, are not the transcript's first words, and are in the
  note's language: enrich.detect_language over the title with a relaxed threshold (one function
  word more than any other language) gives the note's language, or no language at all (a
  title of nouns and names has no function words and is counted "undecidable", not failed).
- seconds per note: wall time of note_enrich (queue + model + parsing + writes), p50 / p95.
  Prompt caching stays on as in production (every prompt shares the system text); the numbers
  of a shared machine are noisy: the coordinator re-runs on an idle one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(__file__).resolve().parent / "data"
SECTION = "## Enrichment (issue 11)"

os.environ.setdefault("TEST_DB_NAME", f"bench_enrich_{os.getpid()}")

from bench._docs import write_block  # noqa: E402  (after sys.path)
from bench.retrieval_quality import setup_db  # noqa: E402  (after sys.path)


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# --- action items ----------------------------------------------------------------------------
def item_matches(label: dict[str, Any], text: str) -> bool:
    produced = fold(text)
    return all(any(fold(word) in produced for word in group) for group in label["keywords"])


def match_items(labels: list[dict[str, Any]], produced: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(label index, produced index) pairs, one to one, greedy in label order."""
    used: set[int] = set()
    pairs = []
    for li, label in enumerate(labels):
        for pi, item in enumerate(produced):
            if pi not in used and item_matches(label, item["text"]):
                used.add(pi)
                pairs.append((li, pi))
                break
    return pairs


# --- tags ------------------------------------------------------------------------------------
_STOPWORD_TEXT = (
    "thing things stuff today tomorrow yesterday week time really just very also okay ok um uh yeah like maybe heute "
    "morgen woche mal halt hoy manana semana bueno pues aujourd'hui demain semaine "
    "alors euh ahm eh este vale note notes self"
)
_EXTRA_STOPWORDS = set(_STOPWORD_TEXT.split())
_VERB_TEXT = (
    "be is are was were been have has had do does did go goes "
    "went gone ran moved called need needs want wants send sent buy bought made "
    "get got take took give gave think thought felt say said tell told see "
    "saw know knew come came paid fixed write wrote started stopped finished tried baked "
    "sein ist war haben hat machen gemacht gehen geht anrufen kaufen schicken muss mussen "
    "sollte ser es fue estar tener tengo hacer llamar comprar pagar reservar ir etre "
    "est avoir faire aller appeler envoyer acheter payer reserver dois quiere faut dit habe "
    "gesagt tengo"
)
_VERBS = set(_VERB_TEXT.split())
_ED_NOUNS = {"bed", "seed", "speed", "need", "feed", "shed", "red", "bread", "breed"}


def tag_problems(tag: str) -> list[str]:
    from mindpost.notes.text import STOPWORDS

    problems = []
    raw = tag.strip().lstrip("#")
    word = fold(raw)
    if re.search(r"['\u2019]s$|s'$", raw, flags=re.I):
        problems.append("possessive")
    if word in STOPWORDS or word in _EXTRA_STOPWORDS:
        problems.append("stopword")
    single = " " not in raw and raw[:1].islower()
    # Past forms (-ed) are verbs; -ing forms are left alone (meeting, climbing, running are topics).
    if word in _VERBS or (single and re.fullmatch(r"[a-z]{3,}ed", word) and word not in _ED_NOUNS):
        problems.append("verb")
    return problems


# --- titles ----------------------------------------------------------------------------------
def title_language(title: str) -> str:
    from mindpost.notes.enrich import _LANGUAGE_SETS, _words

    words = _words(title)
    scores = {code: sum(1 for w in words if w in vocab) for code, vocab in _LANGUAGE_SETS.items()}
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if ranked[0][1] == 0 or ranked[0][1] == ranked[1][1]:
        return ""
    return ranked[0][0]


def title_checks(title: str, text: str, language: str) -> dict[str, Any]:
    from mindpost.notes.enrich import TITLE_MAX_WORDS, _is_prefix

    words = title.split()
    detected = title_language(title)
    return {
        "length_ok": 0 < len(words) <= TITLE_MAX_WORDS,
        "not_prefix": not _is_prefix(title, text),
        "language_ok": detected in (language, ""),
        "undecidable": detected == "",
    }


# --- running ---------------------------------------------------------------------------------
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def enrich_all(
    *, notes: list[dict[str, Any]], now: datetime, timezone: str, budget: float | None = None
) -> list[dict[str, Any]]:
    """Enrich the notes one by one; with a `budget` (seconds), stop starting new ones after it."""
    from mindpost.accounts.models import User
    from mindpost.notes import enrich
    from mindpost.notes.models import ActionItem, Note, NoteKind, NoteStatus

    user = User.objects.create_user(email="bench-enrich@example.com", password=None)
    user.timezone = timezone
    user.save(update_fields=["timezone"])
    replies: list[str] = []
    ask = enrich.ask_model

    def recording_ask(**kwargs: Any) -> Any:
        reply = ask(**kwargs)
        replies.append(reply.raw)
        return reply

    enrich.ask_model = recording_ask
    results: list[dict[str, Any]] = []
    deadline = time.monotonic() + budget if budget else None
    for spec in notes:
        if deadline is not None and time.monotonic() > deadline:
            print(f"time budget spent: {len(results)} of {len(notes)} notes enriched")
            break
        note = Note.objects.create(user=user, kind=NoteKind.TEXT, status=NoteStatus.READY, transcription=spec["text"])
        Note.objects.filter(pk=note.pk).update(created_at=now)
        replies.clear()
        started = time.perf_counter()
        enrich.note_enrich(note_id=note.pk, final_attempt=True)
        seconds = time.perf_counter() - started
        note.refresh_from_db()
        items = [
            {"text": item.text, "due": item.due_date.isoformat() if item.due_date else None, "due_text": item.due_text}
            for item in ActionItem.objects.filter(note=note).order_by("position")
        ]
        pairs = match_items(spec["items"], items)
        due_ok = sum(1 for li, pi in pairs if spec["items"][li]["due"] == items[pi]["due"])
        results.append(
            {
                "id": spec["id"],
                "language": spec["language"],
                "detected": note.language,
                "seconds": round(seconds, 2),
                "title": note.title,
                "summary": note.summary,
                "key_points": note.key_points,
                "tags": note.tags,
                "tag_problems": {tag: tag_problems(tag) for tag in note.tags if tag_problems(tag)},
                "items": items,
                "expected": len(spec["items"]),
                "matched": len(pairs),
                "due_ok": due_ok,
                "missed": [spec["items"][li]["keywords"] for li in range(len(spec["items"])) if li not in dict(pairs)],
                "extra": [items[pi]["text"] for pi in range(len(items)) if pi not in {p for _, p in pairs}],
                "title_checks": title_checks(note.title, spec["text"], spec["language"]),
                "model": note.enrichment_model,
                "raw": replies[-1] if replies else None,
            }
        )
        r = results[-1]
        print(
            f"{spec['id']}: {seconds:5.1f}s  items {r['matched']}/{r['expected']} (+{len(r['extra'])} extra)  "
            f"title {note.title!r}  tags {note.tags}"
        )
    enrich.ask_model = ask
    return results


def summarise(results: list[dict[str, Any]]) -> dict[str, Any]:
    produced = sum(len(r["items"]) for r in results)
    expected = sum(r["expected"] for r in results)
    matched = sum(r["matched"] for r in results)
    seconds = [r["seconds"] for r in results]
    problems: dict[str, int] = {"stopword": 0, "verb": 0, "possessive": 0}
    for r in results:
        for kinds in r["tag_problems"].values():
            for kind in kinds:
                problems[kind] += 1
    titles = [r["title_checks"] for r in results]
    return {
        "n": len(results),
        "non_english": sum(1 for r in results if r["language"] != "en"),
        "precision": matched / produced if produced else 1.0,
        "recall": matched / expected if expected else 1.0,
        "produced": produced,
        "expected": expected,
        "matched": matched,
        "due_ok": sum(r["due_ok"] for r in results),
        "tags": sum(len(r["tags"]) for r in results),
        "tag_problems": problems,
        "titles_ok": sum(1 for t in titles if t["length_ok"] and t["not_prefix"] and t["language_ok"]),
        "titles_length": sum(1 for t in titles if t["length_ok"]),
        "titles_not_prefix": sum(1 for t in titles if t["not_prefix"]),
        "titles_language": sum(1 for t in titles if t["language_ok"]),
        "titles_undecidable": sum(1 for t in titles if t["undecidable"]),
        "language_detected": sum(1 for r in results if r["detected"] == r["language"]),
        "rules_fallback": sum(1 for r in results if r["model"] == "rules"),
        "p50": statistics.median(seconds),
        "p95": percentile(seconds, 0.95),
        "max": max(seconds),
    }


def interleave(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Round robin over the languages, so a run cut short by --budget still covers each of them."""
    by_language: dict[str, list[dict[str, Any]]] = {}
    for note in notes:
        by_language.setdefault(note["language"], []).append(note)
    queues = sorted(by_language.values(), key=len, reverse=True)
    out: list[dict[str, Any]] = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


def _healthy(base_url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(base_url.removesuffix("/v1") + "/health", timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except OSError:
        return False


def _start_server(base_url: str, preset: str, timeout: float) -> subprocess.Popen[bytes] | None:
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


def write_docs(
    s: dict[str, Any], results: list[dict[str, Any]], *, preset: str, load: tuple[float, ...], set_name: str
) -> None:
    from bench._docs import machine

    p = s["tag_problems"]
    lines = [
        "### Enrichment quality and time (`bench/enrich_quality.py`)"
        + (": fallback rules alone, no model (`--rules-only`)" if preset.startswith("none") else ""),
        "",
        f"Machine: {machine()}; load average during the run {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
        "(1/5/15 min, read at the end). "
        f"{s['n']} of {s['total']} labelled notes written as speech transcripts "
        f"({s['non_english']} non-English: German, Spanish, French), {s['expected']} expected action items, "
        f"model preset `{preset}`, one note at a time through "
        "enrich.note_enrich. Matching rule: every keyword group of a label occurs in the produced item "
        "(case- and accent-insensitive), one to one. Title rules: 1-8 words, not the transcript's first words, "
        "and the title's function words are not of another language (a title of only nouns and names is "
        "undecidable and passes).",
        "",
        "| measure | result |",
        "|---|---|",
        f"| action items: precision | {s['precision']:.2f} ({s['matched']}/{s['produced']} produced) |",
        f"| action items: recall | {s['recall']:.2f} ({s['matched']}/{s['expected']} expected) |",
        f"| due date right on matched items | {s['due_ok']}/{s['matched']} |",
        f"| tags: stopword / verb / possessive | {p['stopword']} / {p['verb']} / {p['possessive']} "
        f"(of {s['tags']} tags) |",
        f"| titles passing all rules | {s['titles_ok']}/{s['n']} (length {s['titles_length']}, "
        f"not a prefix {s['titles_not_prefix']}, language {s['titles_language']}, "
        f"of which undecidable {s['titles_undecidable']}) |",
        f"| note language detected right (typed notes) | {s['language_detected']}/{s['n']} |",
        f"| replies that fell back to rules entirely | {s['rules_fallback']} |",
        f"| enrichment seconds per note p50 / p95 / max | {s['p50']:.1f} / {s['p95']:.1f} / {s['max']:.1f} |",
    ]
    misses = [r for r in results if r["missed"] or r["extra"]]
    if misses:
        lines += ["", "Items missed or extra:"]
        for r in misses:
            missed = "; ".join("+".join(group[0] for group in keywords) for keywords in r["missed"])
            extra = "; ".join(r["extra"])
            lines.append(f"- {r['id']}: missed [{missed}] extra [{extra}]")
    bad_tags = {r["id"]: r["tag_problems"] for r in results if r["tag_problems"]}
    if bad_tags:
        lines += ["", f"Flagged tags: {json.dumps(bad_tags, ensure_ascii=False)}"]
    name = "enrich-rules" if preset.startswith("none") else "enrich"
    if set_name != "enrich_set.json":
        name = f"{name}-{Path(set_name).stem}"
        lines[0] += f", on the held-out set `bench/data/{set_name}`"
    write_block(name, "\n".join(lines), section=SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=os.environ.get("LLM_PRESET", "1.5b"))
    parser.add_argument("--port", type=int, default=8196, help="for the model server, unless LLM_SERVER_URL is set")
    parser.add_argument("--only", nargs="*", default=[], help="only these note ids")
    parser.add_argument("--json", type=Path, help="also write the per-note results here")
    parser.add_argument("--startup-timeout", type=float, default=300)
    parser.add_argument("--budget", type=float, help="stop starting notes after this many seconds")
    parser.add_argument(
        "--rules-only", action="store_true", help="no model: what the fallback rules alone get (a baseline)"
    )
    parser.add_argument(
        "--replay",
        type=Path,
        help="a --json file of an earlier run: its recorded model replies instead of the model, to rescore "
        "a change in the parsing and rules (seconds are then not model time)",
    )
    parser.add_argument(
        "--set",
        default="enrich_set.json",
        help="labelled set in bench/data (enrich_heldout.json: notes never used to tune the rules)",
    )
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("LLM_SERVER_URL", f"http://127.0.0.1:{args.port}/v1")
    os.environ["CHAT_BACKEND"] = "local"
    os.environ["LLM_PRESET"] = args.preset
    os.environ.setdefault("AI_TIMEOUT_SECONDS", "900")  # a loaded shared machine is slow, not down

    data = json.loads((DATA / args.set).read_text())
    notes = interleave([n for n in data["notes"] if not args.only or n["id"] in args.only])
    now = datetime.fromisoformat(data["now"])
    connection, old_name = setup_db()
    from django.conf import settings

    if args.rules_only:
        from mindpost.ai.types import AIError
        from mindpost.notes import enrich

        def no_model(**kwargs: Any) -> Any:
            raise AIError("--rules-only")

        enrich.ask_model = no_model
        args.preset = "none (rules only)"
    if args.replay:
        from mindpost.notes import enrich

        recorded = {r["id"]: r["raw"] for r in json.loads(args.replay.read_text())["results"]}

        def replayed(**kwargs: Any) -> Any:
            text = kwargs["messages"][-1]["content"]
            spec_id = next(n["id"] for n in notes if n["text"] in text)
            return enrich.ModelReply(raw=recorded[spec_id], model="replay", seconds=0.0)

        enrich.ask_model = replayed
        args.rules_only = True  # no model server
        args.preset = f"replay of {args.replay.name}"
    server = None if args.rules_only else _start_server(settings.LLM_SERVER_URL, args.preset, args.startup_timeout)
    try:
        results = enrich_all(notes=notes, now=now, timezone=data["timezone"], budget=args.budget)
        load = os.getloadavg()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    s = summarise(results)
    s["total"] = len(notes)
    p = s["tag_problems"]
    print(
        f"\n{s['n']} notes ({s['non_english']} non-English), preset {args.preset}: action items precision "
        f"{s['precision']:.2f} recall {s['recall']:.2f} ({s['matched']} matched of {s['produced']} produced, "
        f"{s['expected']} expected; due right {s['due_ok']}/{s['matched']}); tags with problems: stopword "
        f"{p['stopword']} verb {p['verb']} possessive {p['possessive']} (of {s['tags']}); titles passing "
        f"{s['titles_ok']}/{s['n']} (undecidable language {s['titles_undecidable']}); seconds per note "
        f"p50 {s['p50']:.1f} p95 {s['p95']:.1f}; load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}"
    )
    if args.json:
        args.json.write_text(json.dumps({"summary": s, "results": results}, indent=1, ensure_ascii=False, default=str))
    if args.write_docs:
        write_docs(s, results, preset=args.preset, load=load, set_name=args.set)


if __name__ == "__main__":
    main()
