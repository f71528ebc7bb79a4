"""Retrieval quality on a labelled set: recall@5 and MRR, hybrid against vector-only.

    .venv/bin/python bench/retrieval_quality.py [--fillers 300] [--grid] [--write-docs]

bench/data/notes.json holds 50 short first-person notes (names, numbers, codes, places, and a
German, a Spanish, a French and an Italian note) and bench/data/questions.json 42 questions with
the note that answers each (names, numbers, paraphrases, cross-language) plus 12 questions the
notes cannot answer. The notes go through the real pipeline (mindpost.notes services: chunking,
the local multilingual-e5 embedder, the blind keyword index) into a throwaway test database,
and every question is asked through mindpost.notes.selectors.passage_search, the code the API runs.

It is run twice: on the 50 notes alone, and with --fillers generated notes of the same kinds
(meetings, runs, purchases, codes and numbers, people met on trips) added, because DESIGN §4
found that keyword matching only pays off once there are a few hundred similar notes.

Reported per configuration: recall@5 (the right note among the top 5 passages' notes) and MRR
over notes. --grid sweeps the fusion weight, the RRF constant and the keyword idf gate. Then
the relevance floor: the top similarity of the unanswerable questions against the similarity of
the right note for answerable ones.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(__file__).resolve().parent / "data"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("TEST_DB_NAME", f"bench_retrieval_{os.getpid()}")
os.environ.setdefault("EMBED_BACKEND", "local")
os.environ.setdefault("LOG_LEVEL", "WARNING")


# --- Filler notes -----------------------------------------------------------------------------

_PEOPLE = [
    "Ben",
    "Chloe",
    "Daniel",
    "Farah",
    "Gustav",
    "Hannah",
    "Ibrahim",
    "Julia",
    "Kenji",
    "Laura",
    "Mateo",
    "Nina",
    "Oscar",
    "Paula",
    "Quentin",
    "Rosa",
    "Samir",
    "Tara",
    "Uwe",
    "Vera",
    "Wen",
    "Yusuf",
    "Zoe",
    "Leon",
    "Mira",
]
_CITIES = [
    "Copenhagen",
    "Krakow",
    "Dublin",
    "Vienna",
    "Prague",
    "Seville",
    "Porto",
    "Amsterdam",
    "Oslo",
    "Budapest",
    "Edinburgh",
    "Zurich",
    "Tallinn",
    "Bologna",
    "Ghent",
    "Ljubljana",
    "Riga",
    "Bergen",
    "Gdansk",
    "Bruges",
]
_JOBS = [
    "teaches chemistry",
    "repairs old clocks",
    "runs a bakery",
    "designs bridges",
    "writes children's books",
    "works in a bike shop",
    "restores furniture",
    "is a nurse on night shifts",
    "brews beer",
    "builds websites",
    "trains guide dogs",
    "plays cello in an orchestra",
    "sells vintage maps",
    "keeps bees",
    "fixes boilers",
]
_PROJECTS = [
    "the mobile app",
    "the data migration",
    "the pricing page",
    "the search feature",
    "the hiring plan",
    "the partner API",
    "the quarterly report",
    "the onboarding emails",
    "the design system",
    "the offsite",
]
_DECISIONS = [
    "we push it by two weeks",
    "we cut scope to the essentials",
    "we need another engineer",
    "we ship a beta first",
    "legal has to review it",
    "we test it with five customers",
]
_ITEMS = [
    ("a rice cooker", 79),
    ("running socks", 24),
    ("a desk lamp", 45),
    ("a used kayak", 420),
    ("concert tickets", 130),
    ("a winter coat", 210),
    ("a drill", 95),
    ("noise cancelling headphones", 280),
    ("a chess set", 60),
    ("a tent", 175),
    ("plant pots", 38),
    ("a monitor", 230),
]
_NUMBERS = [
    "library card",
    "locker",
    "parking permit",
    "loyalty card",
    "museum membership",
    "bike lock",
    "storage unit",
    "train pass",
    "gym locker",
    "coworking badge",
]
_DISHES = [
    "a mushroom risotto",
    "fish tacos",
    "a chickpea curry",
    "banana bread",
    "a Greek salad",
    "pad thai",
    "shakshuka",
    "a lasagna",
    "pumpkin soup",
    "dumplings",
]
_PLACES = ["the park", "the canal", "the forest trail", "the stadium track", "the old town", "the beach"]


def filler_notes(n: int, *, seed: int = 11) -> list[dict[str, str]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        kind = i % 7
        person, city = rng.choice(_PEOPLE), rng.choice(_CITIES)
        if kind == 0:
            text = (
                f"Met {person} in {city} today. {person} {rng.choice(_JOBS)} and told me about a trip "
                f"they are planning next year. Nice person, we swapped numbers."
            )
        elif kind == 1:
            km, mins = rng.choice([5, 8, 12, 15, 21]), rng.randint(25, 130)
            text = (
                f"Ran {km} kilometres around {rng.choice(_PLACES)} in {mins} minutes. "
                f"{rng.choice(['Legs felt heavy.', 'Felt strong at the end.', 'Too hot today.', 'Windy.'])}"
            )
        elif kind == 2:
            text = (
                f"Meeting with {person} about {rng.choice(_PROJECTS)}: {rng.choice(_DECISIONS)}. "
                f"Follow up on {rng.choice(['Monday', 'Wednesday', 'Friday'])}."
            )
        elif kind == 3:
            item, price = rng.choice(_ITEMS)
            text = f"Bought {item} for {price + rng.randint(-5, 20)} euros. {rng.choice(['Worth it.', 'Bit pricey.'])}"
        elif kind == 4:
            number = f"{rng.randint(1000, 9999)} {rng.randint(1000, 9999)}"
            text = f"My {rng.choice(_NUMBERS)} number is {number}, writing it down so I stop forgetting it."
        elif kind == 5:
            text = (
                f"Cooked {rng.choice(_DISHES)} tonight with {person}. "
                f"{rng.choice(['Needs more salt next time.', 'Came out great.', 'Too spicy for the kids.'])}"
            )
        else:
            text = f"Reminder: call {person} about the weekend in {city}, and book the train before prices go up."
        out.append(
            {
                "id": f"f{i:03d}",
                "date": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T12:00:00+01:00",
                "text": text,
            }
        )
    return out


# --- Running the questions --------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    name: str
    keyword_weight: float
    rrf_k: int
    min_idf: float


BASELINES = [
    Config("vector only", 0.0, 60, 0.0),
    Config("plain RRF (k=60)", 1.0, 60, 0.0),
]


def setup_db() -> tuple[Any, str]:
    import django

    from mindpost.core import bootstrap

    bootstrap.ensure_dev_secrets()  # an entry point, like manage.py
    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    return connection, old_name


def load_notes(user: Any, notes: list[dict[str, str]]) -> dict[str, str]:
    """Create the notes through the notes services; returns {note uuid: dataset id}."""
    from mindpost.notes import services
    from mindpost.notes.models import Note

    mapping: dict[str, str] = {}
    for note in notes:
        created = services.note_create_from_text(user=user, text=note["text"], idempotency_key=None).note
        services.note_process(note_id=created.pk, final_attempt=True)
        Note.objects.filter(pk=created.pk).update(created_at=datetime.fromisoformat(note["date"]))
        mapping[str(created.pk)] = note["id"]
    return mapping


def evaluate(
    *,
    user: Any,
    questions: list[dict[str, Any]],
    vectors: dict[str, list[float]],
    mapping: dict[str, str],
    config: Config,
) -> dict[str, Any]:
    from mindpost.notes.selectors import FusionParams, passage_search

    params = FusionParams(
        keyword_weight=config.keyword_weight, rrf_k=config.rrf_k, keyword_min_idf=config.min_idf, candidates=50
    )
    recalls, rrs, misses = [], [], []
    by_kind: dict[str, list[float]] = {}
    for item in questions:
        result = passage_search(user=user, query=item["q"], limit=10, vector=vectors[item["q"]], params=params)
        ranked: list[str] = []
        for hit in result.hits:
            note = mapping.get(str(hit.note_id), "?")
            if note not in ranked:
                ranked.append(note)
        relevant = set(item["relevant"])
        hit5 = bool(relevant & set(ranked[:5]))
        rank = next((i for i, n in enumerate(ranked, start=1) if n in relevant), None)
        recalls.append(1.0 if hit5 else 0.0)
        rrs.append(1.0 / rank if rank else 0.0)
        by_kind.setdefault(item["kind"], []).append(1.0 if hit5 else 0.0)
        if not hit5:
            misses.append(f"{item['q']!r} -> {ranked[:5]}")
    return {
        "config": config,
        "recall5": statistics.mean(recalls),
        "mrr": statistics.mean(rrs),
        "by_kind": {k: statistics.mean(v) for k, v in by_kind.items()},
        "misses": misses,
    }


def floor_stats(
    *, user: Any, questions: dict[str, Any], vectors: dict[str, list[float]], mapping: dict[str, str]
) -> dict[str, Any]:
    """Per question: the similarity of the right note (and whether the keyword side matched it),
    and for unanswerable questions the best similarity among the top passages."""
    from mindpost.notes.selectors import passage_search

    answerable, unanswerable = [], []
    for item in questions["answerable"]:
        result = passage_search(user=user, query=item["q"], limit=10, vector=vectors[item["q"]])
        right = [h for h in result.hits if mapping.get(str(h.note_id)) in set(item["relevant"])]
        best = max(right, key=lambda h: h.similarity or 0, default=None)
        answerable.append(
            (best.similarity or 0.0 if best else 0.0, item["q"], bool(best and best.keyword_rank is not None))
        )
    for q in questions["unanswerable"]:
        result = passage_search(user=user, query=q, limit=10, vector=vectors[q])
        top = max(result.hits, key=lambda h: h.similarity or 0, default=None)
        kw = [h.similarity or 0.0 for h in result.hits if h.keyword_rank is not None]
        unanswerable.append((top.similarity or 0.0 if top else 0.0, q, max(kw, default=0.0)))
    return {"answerable": sorted(answerable), "unanswerable": sorted(unanswerable, reverse=True)}


def _kept(sim: float, kw: bool, *, floor: float, margin: float) -> bool:
    return sim >= floor or (kw and sim >= floor - margin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fillers", type=int, default=300)
    parser.add_argument("--grid", action="store_true", help="sweep fusion weight, RRF k and the idf gate")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    connection, old_name = setup_db()
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args: argparse.Namespace) -> None:
    from django.conf import settings

    from mindpost.accounts.models import User
    from mindpost.ai import get_embedder

    notes = json.loads((DATA / "notes.json").read_text())
    questions = json.loads((DATA / "questions.json").read_text())
    embedder = get_embedder()
    t0 = time.perf_counter()
    texts = [q["q"] for q in questions["answerable"]] + questions["unanswerable"]
    vectors = {text: list(embedder.embed_query(text)) for text in texts}
    print(f"embedder {embedder.model_name}: {len(texts)} questions embedded in {time.perf_counter() - t0:.1f}s")

    tuned = Config(
        "tuned (settings)", settings.SEARCH_KEYWORD_WEIGHT, settings.SEARCH_RRF_K, settings.SEARCH_KEYWORD_MIN_IDF
    )
    configs = [*BASELINES, tuned]
    if args.grid:
        for weight in (0.5, 1.0, 1.5):
            for k in (10, 60):
                for gate in (0.0, 2.0, 2.5, 3.0):
                    configs.append(Config(f"w={weight} k={k} idf>={gate}", weight, k, gate))

    sections: list[str] = []
    grid_scores: dict[str, list[float]] = {}
    floors: dict[str, Any] = {}
    for label, extra in (("50 notes", 0), (f"{50 + args.fillers} notes", args.fillers)):
        if extra == 0:
            user = User.objects.create_user(email="bench-small@example.com", password=None)
            all_notes = notes
        else:
            user = User.objects.create_user(email="bench-large@example.com", password=None)
            all_notes = notes + filler_notes(extra)
        t0 = time.perf_counter()
        mapping = load_notes(user, all_notes)
        print(f"\n== {label}: indexed in {time.perf_counter() - t0:.1f}s")
        rows = []
        for config in configs:
            result = evaluate(
                user=user, questions=questions["answerable"], vectors=vectors, mapping=mapping, config=config
            )
            rows.append(result)
            grid_scores.setdefault(config.name, []).extend([result["recall5"], result["mrr"]])
        for result in rows[: len(BASELINES) + 1]:
            kinds = ", ".join(f"{k} {v:.2f}" for k, v in sorted(result["by_kind"].items()))
            print(
                f"  {result['config'].name:<22} recall@5 {result['recall5']:.3f}  MRR {result['mrr']:.3f}   ({kinds})"
            )
            for miss in result["misses"]:
                print(f"      miss: {miss}")
        sections.append(_table(label, rows[: len(BASELINES) + 1]))
        floors[label] = floor_stats(user=user, questions=questions, vectors=vectors, mapping=mapping)

    grid_lines: list[str] = []
    if args.grid:
        print("\nbest configurations (mean of recall@5 and MRR over both sizes):")
        ranked = sorted(grid_scores.items(), key=lambda kv: -statistics.mean(kv[1]))
        grid_lines = [
            f"Grid ({len(configs)} configurations: keyword weight w, RRF k, idf gate), best first by the mean of "
            "recall@5 and MRR over both sizes:",
            "",
            "| configuration | mean | recall@5 / MRR at 50 | at 350 |",
            "|---|---|---|---|",
        ]
        for name, values in ranked[:12]:
            print(f"  {name:<24} {statistics.mean(values):.4f}   " + " ".join(f"{v:.3f}" for v in values))
        for name, values in ranked[:8]:
            grid_lines.append(
                f"| {name} | {statistics.mean(values):.4f} | {values[0]:.3f} / {values[1]:.3f} "
                f"| {values[2]:.3f} / {values[3]:.3f} |"
            )
        for name, values in ranked:
            if name in ("vector only", "plain RRF (k=60)"):
                grid_lines.append(
                    f"| {name} | {statistics.mean(values):.4f} | {values[0]:.3f} / {values[1]:.3f} "
                    f"| {values[2]:.3f} / {values[3]:.3f} |"
                )

    print("\nrelevance floor (cosine similarity; [kw] = the keyword side matched too):")
    margin = settings.CHAT_KEYWORD_FLOOR_MARGIN
    for label, stats in floors.items():
        print(f"  {label}: lowest similarity of the right note (answerable):")
        for sim, q, kw in stats["answerable"][:6]:
            print(f"      {sim:.3f}  {q}{'  [kw]' if kw else ''}")
        print(f"  {label}: highest similarity among the top passages (unanswerable):")
        for sim, q, kw_sim in stats["unanswerable"][:5]:
            print(f"      {sim:.3f}  {q}{f'  [kw at {kw_sim:.3f}]' if kw_sim else ''}")
        for floor in (0.78, 0.80, 0.82, 0.84):
            lost = sum(
                1 for sim, _, kw in stats["answerable"] if sim and not _kept(sim, kw, floor=floor, margin=margin)
            )
            caught = sum(
                1
                for sim, _, kw_sim in stats["unanswerable"]
                if not _kept(sim, False, floor=floor, margin=margin)
                and not _kept(kw_sim, True, floor=floor, margin=margin)
            )
            mark = "  <- CHAT_RELEVANCE_FLOOR" if abs(floor - settings.CHAT_RELEVANCE_FLOOR) < 1e-9 else ""
            print(
                f"    floor {floor:.2f}: right note dropped for {lost}/{len(stats['answerable'])} answerable, "
                f"no model call for {caught}/{len(stats['unanswerable'])} unanswerable{mark}"
            )
        floor = settings.CHAT_RELEVANCE_FLOOR
        lost = sum(1 for sim, _, kw in stats["answerable"] if sim and not _kept(sim, kw, floor=floor, margin=margin))
        caught = sum(
            1
            for sim, _, kw_sim in stats["unanswerable"]
            if not _kept(sim, False, floor=floor, margin=margin) and not _kept(kw_sim, True, floor=floor, margin=margin)
        )
        pure = [sim for sim, _, kw in stats["answerable"] if sim and not kw]
        sections.append(
            f"Relevance floor at {label}: CHAT_RELEVANCE_FLOOR={floor} (keyword matches may be {margin} lower) "
            f"drops the right note for {lost} of {len(stats['answerable'])} answerable questions (lowest right-note "
            f'similarity without a keyword match {min(pure):.3f}) and answers "not in your notes" without a model '
            f"call for {caught} of {len(stats['unanswerable'])} unanswerable ones, whose best passages score "
            f"{stats['unanswerable'][-1][0]:.3f}-{stats['unanswerable'][0][0]:.3f}: as DESIGN §4 found, a threshold "
            "only removes the clearly unrelated, and the model decides the rest.\n"
        )

    if args.write_docs:
        from bench._docs import machine, write_block

        header = [
            "### Retrieval quality (`bench/retrieval_quality.py`)",
            "",
            f"Machine: {machine()}. Labelled set in bench/data: 50 notes (incl. German, Spanish, French and Italian), "
            f"{len(questions['answerable'])} answerable questions (names, numbers, paraphrases, cross-language) and "
            f"{len(questions['unanswerable'])} unanswerable ones; embedder {embedder.model_name} (local), "
            "keywords through the blind index. Note-level recall@5 and MRR over the top passages; the second "
            f"run adds {args.fillers} generated notes of the same kinds.",
            "",
        ]
        parts = ["\n".join(header).rstrip(), *[section.strip() for section in sections]]
        if grid_lines:
            parts.append("\n".join(grid_lines))
        write_block("retrieval", "\n\n".join(parts))


def _table(label: str, rows: list[dict[str, Any]]) -> str:
    kinds = sorted(rows[0]["by_kind"])
    lines = [
        f"**{label}**",
        "",
        "| ranking | recall@5 | MRR | " + " | ".join(f"recall@5 {k}" for k in kinds) + " |",
        "|---|---|---|" + "---|" * len(kinds),
    ]
    for row in rows:
        c = row["config"]
        name = (
            c.name
            if c.name != "tuned (settings)"
            else f"hybrid, tuned (w={c.keyword_weight}, k={c.rrf_k}, idf>={c.min_idf})"
        )
        lines.append(
            f"| {name} | {row['recall5']:.3f} | {row['mrr']:.3f} | "
            + " | ".join(f"{row['by_kind'][k]:.2f}" for k in kinds)
            + " |"
        )
    return "\n".join(lines) + "\n\n"


if __name__ == "__main__":
    main()
