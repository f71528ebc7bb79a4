"""The search API under load: one client, then 16 concurrent clients, on a user with 330 notes.

    .venv/bin/python bench/search_api.py [--notes 330] [--clients 16] [--seconds 10] [--write-docs]

A throwaway database gets one user with the 50 labelled notes of bench/data plus generated
notes of the same kinds (bench/retrieval_quality.py), indexed through the real pipeline with the
local embedder. uvicorn serves config.asgi on 127.0.0.1 as `make run` starts it (WEB_CONCURRENCY
worker processes; --config compares other server settings in the same run, e.g.
`--config WEB_CONCURRENCY=1 --config "WEB_CONCURRENCY=2 OMP_NUM_THREADS=1"`), and closed-loop
clients call `GET /api/search/?q=...` with a bearer token.

Two kinds of traffic are measured, because each web process keeps an LRU of query vectors:
- "fresh": every request asks a question never asked before (the query must be embedded);
- "repeated": the same 42 questions over and over (after the first round, all cache hits).
`/healthz` runs in the same session, for the ratio on a noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("TEST_DB_NAME", "bench_search_api")

from bench import _docs  # noqa: E402
from bench._seed import app_server, seed_user  # noqa: E402
from bench.retrieval_quality import DATA, setup_db  # noqa: E402

PREFIXES = ["", "Quick question: ", "Can you tell me ", "Remind me: ", "Hey, ", "I wonder ", "Please find "]


def fresh_queries(questions: list[str]) -> Iterator[str]:
    """Endless distinct questions: the labelled ones with varied openings and a running number."""
    for n in itertools.count():
        for prefix in PREFIXES:
            for question in questions:
                yield f"{prefix}{question} (#{n})"


async def closed_loop(
    *, base: str, token: str, paths: Any, clients: int, seconds: float
) -> dict[str, float | int | dict[int, int]]:
    import httpx

    latencies: list[float] = []
    codes: dict[int, int] = {}
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as client:

        async def worker() -> None:
            while time.perf_counter() < stop:
                path = next(paths)
                started = time.perf_counter()
                try:
                    response = await client.get(path)
                    codes[response.status_code] = codes.get(response.status_code, 0) + 1
                except httpx.HTTPError:
                    codes[0] = codes.get(0, 0) + 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "rps": n / wall,
        "p50": latencies[n // 2] * 1000,
        "p95": latencies[min(n - 1, int(n * 0.95))] * 1000,
        "p99": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "codes": codes,
    }


def _search_paths(queries: Any) -> Any:
    from urllib.parse import urlencode

    for query in queries:
        yield "/api/search/?" + urlencode({"q": query})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=330)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--config",
        action="append",
        help="server environment to measure, e.g. 'WEB_CONCURRENCY=1' or 'WEB_CONCURRENCY=2 OMP_NUM_THREADS=1'; "
        "repeat to compare in one run (default: what `make run` starts)",
    )
    parser.add_argument("--reuse-db", metavar="NAME", help="an already seeded database (development only)")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    if args.reuse_db:
        run(args, connection=_existing_db(args.reuse_db), reuse=True)
        return
    connection, old_name = setup_db()
    try:
        run(args, connection=connection)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _existing_db(name: str) -> Any:
    import django

    from mindpost.core import bootstrap

    bootstrap.ensure_dev_secrets()
    django.setup()
    from django.db import connection

    connection.settings_dict["NAME"] = name
    return connection


def _configs(args: argparse.Namespace) -> list[dict[str, str]]:
    from django.conf import settings

    if not args.config:
        return [{"WEB_CONCURRENCY": str(settings.WEB_CONCURRENCY)}]
    return [dict(item.split("=", 1) for item in config.split()) for config in args.config]


def run(args: argparse.Namespace, *, connection: Any, reuse: bool = False) -> None:
    from django.conf import settings

    machine = _docs.machine()
    questions = [q["q"] for q in json.loads((DATA / "questions.json").read_text())["answerable"]]
    if reuse:
        from mindpost.accounts import services as account_services
        from mindpost.accounts.models import User
        from mindpost.notes.models import Note

        user = User.objects.get(email="bench@example.com")
        token = str(account_services.tokens_issue(user=user).access_token)
        notes = Note.objects.filter(user=user).count()
    else:
        _, token, notes = seed_user(notes=args.notes)
    results = []
    for config in _configs(args):
        # uvicorn reads WEB_CONCURRENCY itself, as runstack's web_command passes it (--workers).
        with app_server(connection=connection, port=args.port, env=config) as base:
            results.append((config, measure(base=base, token=token, questions=questions, args=args)))
        print(format_report(results[-1:], notes=notes, args=args, machine=machine, settings=settings), flush=True)
    report = format_report(results, notes=notes, args=args, machine=machine, settings=settings)
    print(report)
    if args.write_docs:
        _docs.write_block("search-api", report)


def _one_client(*, base: str, headers: dict[str, str], queries: Iterator[str], n: int = 60) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for _ in range(n):
            started = time.perf_counter()
            response = client.get("/api/search/", params={"q": next(queries)})
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.text
    latencies.sort()
    return {"p50": statistics.median(latencies), "p95": latencies[int(len(latencies) * 0.95)]}


def measure(*, base: str, token: str, questions: list[str], args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    warm = httpx.get(f"{base}/api/search/", params={"q": "warm up"}, headers=headers, timeout=120)
    if warm.status_code != 200:
        raise SystemExit(f"search answered {warm.status_code}: {warm.text[:300]}")
    fresh = fresh_queries(questions)
    results: dict[str, Any] = {"load_avg_before": os.getloadavg()[0]}
    results["single_fresh"] = _one_client(base=base, headers=headers, queries=fresh)
    # Every process has its own query-vector cache: two rounds fill them all, the third is measured.
    repeated = itertools.cycle(questions)
    _one_client(base=base, headers=headers, queries=repeated, n=2 * len(questions))
    results["single_repeated"] = _one_client(base=base, headers=headers, queries=repeated)
    loop = asyncio.new_event_loop()
    try:
        results["fresh"] = loop.run_until_complete(
            closed_loop(base=base, token=token, paths=_search_paths(fresh), clients=args.clients, seconds=args.seconds)
        )
        results["repeated"] = loop.run_until_complete(
            closed_loop(
                base=base,
                token=token,
                paths=_search_paths(itertools.cycle(questions)),
                clients=args.clients,
                seconds=args.seconds,
            )
        )
        results["healthz"] = loop.run_until_complete(
            closed_loop(
                base=base,
                token=token,
                paths=itertools.cycle(["/healthz"]),
                clients=args.clients,
                seconds=args.seconds,
            )
        )
    finally:
        loop.close()
    results["load_avg_after"] = os.getloadavg()[0]
    return results


def format_report(
    results: list[tuple[dict[str, str], dict[str, Any]]],
    *,
    notes: int,
    args: argparse.Namespace,
    machine: str,
    settings: Any,
) -> str:
    def row(config: str, label: str, r: dict[str, Any], goal: bool) -> str:
        errors = sum(count for code, count in r["codes"].items() if code != 200)
        met = " ✓" if goal and r["rps"] >= 100 and r["p99"] <= 250 and not errors else ""
        latency = f"{r['p50']:.1f} | {r['p99']:.1f}"
        return f"| {config} | {label} | {r['rps']:.0f}{met} | {latency} | {errors} of {r['requests']} |"

    lines = [
        "### Search API under load (bench/search_api.py)",
        "",
        f"{machine}. The load generator runs on the same machine; a user with {notes} notes; uvicorn on 127.0.0.1 "
        f"started as `make run` starts it (WEB_CONCURRENCY worker processes on uvloop/httptools unless a row says "
        "UVICORN_LOOP/UVICORN_HTTP), in production mode (DEBUG off), planner statistics gathered after seeding; "
        f"EMBED_LOCAL_ENGINES="
        f'{settings.EMBED_LOCAL_ENGINES or "auto"} per process. "Fresh" questions were never asked before (each '
        'is embedded); "repeated" ones cycle through 42 questions (query-vector cache hits).',
        "",
        "| server | one client | p50 ms | p95 ms | goal |",
        "|---|---|---|---|---|",
    ]
    for config, r in results:
        name = " ".join(f"{k}={v}" for k, v in config.items())
        for key, label in (("single_fresh", "fresh questions"), ("single_repeated", "repeated questions")):
            single = r[key]
            met = "✓" if single["p50"] <= 30 else "✗"
            lines.append(f"| {name} | {label} | {single['p50']:.1f} | {single['p95']:.1f} | p50 ≤ 30 ms {met} |")
    lines += [
        "",
        f"| server | {args.clients} clients, {args.seconds:.0f} s each | rps | p50 ms | p99 ms | non-200 |",
        "|---|---|---|---|---|---|",
    ]
    for config, r in results:
        name = " ".join(f"{k}={v}" for k, v in config.items())
        lines.append(row(name, "search, fresh questions", r["fresh"], True))
        lines.append(row(name, "search, repeated questions", r["repeated"], True))
        lines.append(row(name, "/healthz (for the ratio)", r["healthz"], False))
    lines += ["", "Load average (1 min) before → after each server's runs: "]
    lines[-1] += "; ".join(
        f"{' '.join(f'{k}={v}' for k, v in config.items())}: {r['load_avg_before']:.1f} → {r['load_avg_after']:.1f}"
        for config, r in results
    )
    lines += ["", "Goals: one client p50 ≤ 30 ms; ≥ 100 rps at p99 ≤ 250 ms with 16 clients (✓ where met)."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
