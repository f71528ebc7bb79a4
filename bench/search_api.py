"""The search API under load: one client, then 16 concurrent clients, on a user with 330 notes.

    .venv/bin/python bench/search_api.py [--notes 330] [--clients 16] [--seconds 10] [--write-docs]

A throwaway database gets one user with the 50 labelled notes of bench/data plus generated
notes of the same kinds (bench/retrieval_quality.py), indexed through the real pipeline with the
local embedder. One uvicorn process (what `make run` starts per core) serves config.asgi on
127.0.0.1, and closed-loop clients call `GET /api/search/?q=...` with a bearer token.

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
import subprocess
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
from bench.retrieval_quality import DATA, filler_notes, load_notes, setup_db  # noqa: E402

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
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()

    connection, old_name = setup_db()
    try:
        run(args, connection=connection)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args: argparse.Namespace, *, connection: Any) -> None:
    from django.conf import settings

    from mindpost.accounts import services as account_services
    from mindpost.accounts.models import User

    machine = _docs.machine()
    notes = json.loads((DATA / "notes.json").read_text())
    notes += filler_notes(max(args.notes - len(notes), 0))
    questions = [q["q"] for q in json.loads((DATA / "questions.json").read_text())["answerable"]]
    user = User.objects.create_user(email="bench@example.com", password=None)  # signs in by token only
    started = time.perf_counter()
    load_notes(user, notes)
    print(f"{len(notes)} notes indexed in {time.perf_counter() - started:.0f} s")
    token = str(account_services.tokens_issue(user=user).access_token)  # as /api/token/ issues them

    connection.ensure_connection()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}",
        # Rate limits would answer 429 long before the machine is saturated.
        "THROTTLE_USER": "100000000/day",
        "DJANGO_DEBUG": "true",
        "LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(args.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        _wait_up(base)
        results = measure(base=base, token=token, questions=questions, args=args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report = format_report(results, notes=len(notes), args=args, machine=machine, settings=settings)
    print(report)
    if args.write_docs:
        _docs.write_block("search-api", report)


def _wait_up(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit("uvicorn did not come up")


def measure(*, base: str, token: str, questions: list[str], args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    warm = httpx.get(f"{base}/api/search/", params={"q": "warm up"}, headers=headers, timeout=120)
    if warm.status_code != 200:
        raise SystemExit(f"search answered {warm.status_code}: {warm.text[:300]}")
    fresh = fresh_queries(questions)
    single: list[float] = []
    for _ in range(60):
        started = time.perf_counter()
        response = httpx.get(f"{base}/api/search/", params={"q": next(fresh)}, headers=headers, timeout=60)
        single.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    single.sort()
    results: dict[str, Any] = {
        "single_fresh": {"p50": statistics.median(single), "p95": single[int(len(single) * 0.95)]},
        "load_avg_before": os.getloadavg()[0],
    }
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


def format_report(results: dict[str, Any], *, notes: int, args: argparse.Namespace, machine: str, settings: Any) -> str:
    def row(label: str, r: dict[str, Any]) -> str:
        errors = sum(count for code, count in r["codes"].items() if code != 200)
        return f"| {label} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {errors} of {r['requests']} |"

    single = results["single_fresh"]
    return "\n".join(
        [
            "### Search API under load (bench/search_api.py)",
            "",
            f"{machine}; load {results['load_avg_before']:.1f} before the concurrent runs, "
            f"{results['load_avg_after']:.1f} after. One uvicorn process on 127.0.0.1, the load generator "
            f"on the same machine; a user with {notes} notes; EMBED_LOCAL_ENGINES="
            f"{settings.EMBED_LOCAL_ENGINES or 'auto'}.",
            "",
            f"- One client, fresh questions (never asked before): p50 {single['p50']:.1f} ms, "
            f"p95 {single['p95']:.1f} ms (goal: p50 ≤ 30 ms).",
            "",
            f"| {args.clients} clients, {args.seconds:.0f} s each | rps | p50 ms | p99 ms | non-200 |",
            "|---|---|---|---|---|",
            row("search, fresh questions (each embedded)", results["fresh"]),
            row("search, 42 repeated questions (query-vector cache)", results["repeated"]),
            row("/healthz (same session, for the ratio)", results["healthz"]),
            "",
            "Goal: ≥ 100 rps at p99 ≤ 250 ms with 16 clients.",
        ]
    )


if __name__ == "__main__":
    main()
