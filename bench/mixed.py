"""Mixed API traffic (issue 14): notes list, note detail, search, upload and chat at once.

    .venv/bin/python bench/mixed.py [--notes 200] [--clients 16] [--seconds 30] [--write-docs]
    .venv/bin/python bench/mixed.py --base http://127.0.0.1:8000 --token ACCESS   # a running `make run`

Without --base, a throwaway database gets one user with --notes notes (bench/_seed.py: the
labelled notes of bench/data plus generated ones, indexed with the local embedder), and the stack
starts as `make run` starts it: uvicorn with WEB_CONCURRENCY worker processes behind one port
(runstack's web_command) and one Procrastinate worker with WORKER_CONCURRENCY, which transcribes
the uploads with the local Whisper while the traffic runs. Chat goes to the LLM server at
LLM_SERVER_URL when it answers /health; otherwise the report says chat was not measured (this
script never starts the 1.1 GB model: `make run` or `manage.py llmserver` does).

Measured in one run, on the same machine as the load generator:
1. the notes list (`/api/brain-dumps/?page_size=20`) and `/healthz`, --clients closed-loop clients
   for --list-seconds each, one after the other (their ratio is what compares across machines);
2. mixed traffic for --seconds: --clients readers, each picking list / detail / search at random
   (weights 4 / 3 / 3), one uploader posting a recording every --upload-every seconds, and one chat
   client asking one streamed question after another; rps, p50 and p99 per route, non-2xx answers;
3. the resident memory (RSS) of every web and worker process at the end.

The closed loop is the one of /work/shared/tools/apiload.py and bench/search_api.py (a client sends
its next request when the answer to the last one arrived).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("TEST_DB_NAME", "bench_mixed")

from bench import _docs  # noqa: E402
from bench.retrieval_quality import DATA  # noqa: E402

SECTION = "## Load and soak (issue 14)"
LIST = "/api/brain-dumps/?page_size=20"
READ_WEIGHTS = {"list": 4, "detail": 3, "search": 3}
JFK = ROOT / "var" / "testdata" / "jfk.wav"


# --- processes and their memory (Linux /proc) ------------------------------------------------


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def descendants(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parents.setdefault(_ppid(int(entry.name)), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found += children
        todo += children
    return found


def listening_pids(port: int) -> list[int]:
    """Every process holding the listening socket of 127.0.0.1:port (uvicorn's workers share it)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{parts[9]}]")
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
    return sorted(pids)


def classify(pids: list[int]) -> dict[str, list[int]]:
    """{"web": [...], "worker": [...], "llm": [...]} by command line; uvicorn's supervisor and the
    spawn helpers of multiprocessing are left out (they serve no request)."""
    kinds: dict[str, list[int]] = {"web": [], "worker": [], "llm": []}
    for pid in pids:
        command = _cmdline(pid)
        if "multiprocessing" in command and "spawn_main" in command:
            kinds["web"].append(pid)  # a uvicorn worker process (--workers N)
        elif "uvicorn" in command and not any(_ppid(child) == pid for child in descendants(pid)):
            kinds["web"].append(pid)  # a single uvicorn process serves requests itself
        elif "procrastinate" in command and "worker" in command:
            kinds["worker"].append(pid)
        elif "llmserver" in command:
            kinds["llm"].append(pid)
    return kinds


def find_stack(base: str) -> dict[str, list[int]]:
    """The processes of a running stack from the port it serves: the web processes, and when they
    run under `manage.py runstack` (`make run`), its worker and LLM server too."""
    port = urlsplit(base).port or 80
    holders = listening_pids(port)
    if not holders:
        return {"web": [], "worker": [], "llm": []}
    top = min(holders)
    while "runstack" not in _cmdline(top) and _ppid(top) > 1 and "uvicorn" in _cmdline(_ppid(top)):
        top = _ppid(top)
    parent = _ppid(top)
    root = parent if "runstack" in _cmdline(parent) else top
    return classify([root, *descendants(root)])


# --- the stack this script starts ------------------------------------------------------------


@dataclass
class Stack:
    base: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def pids(self) -> dict[str, list[int]]:
        roots = [p.pid for p in self.processes if p.poll() is None]
        return classify([pid for root in roots for pid in (root, *descendants(root))])


@contextlib.contextmanager
def start_stack(*, connection: Any, port: int, logs: Path, env: dict[str, str] | None = None) -> Iterator[Stack]:
    """uvicorn as runstack starts it (WEB_CONCURRENCY processes) and one job worker, on the
    benchmark's database. Rate limits are lifted: they would answer 429 long before the machine
    is saturated. Access logs are off, as in bench/search_api.py."""
    from django.conf import settings

    from bench._seed import production_env, wait_up
    from mindpost.core.management.commands.runstack import web_command

    connection.ensure_connection()
    db = connection.settings_dict
    server_env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}",
        "THROTTLE_USER": "100000000/day",
        "THROTTLE_CHAT": "100000000/day",
        "THROTTLE_UPLOAD": "100000000/day",
        **production_env(),
        "LOG_LEVEL": "WARNING",
        "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="mindpost-bench-metrics-"),
        **(env or {}),
    }
    web = web_command(python=sys.executable, host="127.0.0.1", port=port, workers=settings.WEB_CONCURRENCY)
    worker = [sys.executable, "manage.py", "procrastinate", "worker"]
    worker += ["--concurrency", str(server_env.get("WORKER_CONCURRENCY", settings.WORKER_CONCURRENCY))]
    stack = Stack(base=f"http://127.0.0.1:{port}")
    for name, command in (("web", [*web, "--log-level", "warning", "--no-access-log"]), ("worker", worker)):
        with (logs / f"{name}.log").open("wb") as log:
            stack.processes.append(
                subprocess.Popen(command, cwd=ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT)
            )
    try:
        wait_up(stack.base)
        yield stack
    finally:
        for process in stack.processes:
            process.terminate()
        for process in stack.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def llm_up() -> str | None:
    """The LLM server's URL when it answers /health, else None."""
    import httpx
    from django.conf import settings

    root = settings.LLM_SERVER_URL.removesuffix("/v1")
    try:
        return settings.LLM_SERVER_URL if httpx.get(f"{root}/health", timeout=2).status_code == 200 else None
    except httpx.HTTPError:
        return None


# --- the load ------------------------------------------------------------------------------


@dataclass
class Route:
    latencies: list[float] = field(default_factory=list)
    codes: dict[int | str, int] = field(default_factory=dict)
    first_token: list[float] = field(default_factory=list)  # chat only

    def record(self, code: int | str, seconds: float) -> None:
        self.codes[code] = self.codes.get(code, 0) + 1
        self.latencies.append(seconds)

    @property
    def errors(self) -> int:
        return sum(count for code, count in self.codes.items() if not (isinstance(code, int) and code < 400))


def errors_cell(r: dict[str, Any]) -> str:
    """ "0", or the count and its codes: "3 (503: 2, ReadTimeout: 1)"."""
    bad = {code: n for code, n in r["codes"].items() if not (isinstance(code, int) and code < 400) and n}
    return f"{r['errors']} ({', '.join(f'{code}: {n}' for code, n in bad.items())})" if bad else "0"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000 if ordered else float("nan")


@dataclass
class Traffic:
    """What the clients ask for: note ids for details, questions for search, a recording."""

    note_ids: list[str]
    questions: list[str]
    audio: bytes
    audio_name: str
    chat: bool
    upload_every: float
    clients: int
    uploads: list[str] = field(default_factory=list)


def traffic_for(*, base: str, token: str, chat: bool, upload_every: float, clients: int) -> Traffic:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    ids: list[str] = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        page = client.get("/api/brain-dumps/", params={"page_size": 100})
        page.raise_for_status()
        ids = [str(item["id"]) for item in page.json()["results"]]
    if not ids:
        raise SystemExit("the user has no notes: seed some first (or let this script start its own stack)")
    questions = [q["q"] for q in json.loads((DATA / "questions.json").read_text())["answerable"]]
    if JFK.exists():
        audio, name = JFK.read_bytes(), "jfk.wav"
    else:  # `make test` makes the clip (var/testdata/jfk.wav); a tone still exercises the upload path
        sys.path.insert(0, str(ROOT))
        from tests.notes import audio_files

        audio, name = audio_files.wav_bytes(audio_files.tone(3.0)), "tone.wav"
    return Traffic(ids, questions, audio, name, chat, upload_every, clients)


async def run_mixed(*, base: str, token: str, traffic: Traffic, seconds: float, routes: dict[str, Route]) -> float:
    """Closed-loop readers, one paced uploader, one chat client, for `seconds`; returns the wall time.
    `routes` fills in as the run goes (a soak samples it while it runs)."""
    import httpx

    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=traffic.clients + 4, max_keepalive_connections=traffic.clients + 4)
    names, weights = list(READ_WEIGHTS), list(READ_WEIGHTS.values())
    questions = itertools.cycle(traffic.questions)
    for name in (*names, "upload", *(["chat"] if traffic.chat else [])):
        routes.setdefault(name, Route())

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=120) as client:

        async def timed(name: str, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
            started = time.perf_counter()
            try:
                response = await client.request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                routes[name].record(type(exc).__name__, time.perf_counter() - started)
                return None
            routes[name].record(response.status_code, time.perf_counter() - started)
            return response

        async def reader(seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < stop:
                name = rng.choices(names, weights)[0]
                if name == "list":
                    await timed(name, "GET", LIST)
                elif name == "detail":
                    await timed(name, "GET", f"/api/brain-dumps/{rng.choice(traffic.note_ids)}/")
                else:
                    await timed(name, "GET", "/api/search/?" + urlencode({"q": next(questions)}))

        async def uploader() -> None:
            while time.perf_counter() < stop:
                started = time.perf_counter()
                files = {"audio_file": (traffic.audio_name, traffic.audio, "audio/wav")}
                response = await timed("upload", "POST", "/api/brain-dumps/", files=files)
                if response is not None and response.status_code == 201:
                    traffic.uploads.append(str(response.json()["id"]))
                await asyncio.sleep(max(0.0, traffic.upload_every - (time.perf_counter() - started)))

        async def chatter() -> None:
            asked = itertools.cycle(traffic.questions[::-1])
            while time.perf_counter() < stop:
                created = await timed("chat", "POST", "/api/chat/conversations/", json={})
                if created is None or created.status_code != 201:
                    await asyncio.sleep(1)
                    continue
                routes["chat"].latencies.pop()  # only the question is timed, not creating its conversation
                routes["chat"].codes[201] -= 1
                url = f"/api/chat/conversations/{created.json()['id']}/messages/"
                started = time.perf_counter()
                code: int | str = 0
                first: float | None = None
                try:
                    async with client.stream(
                        "POST", url, json={"message": next(asked)}, headers={"Accept": "text/event-stream"}
                    ) as response:
                        code = response.status_code
                        event = ""
                        async for line in response.aiter_lines():
                            if line.startswith("event:"):
                                event = line[6:].strip()
                            elif line.startswith("data:") and event == "token" and first is None:
                                first = time.perf_counter() - started
                            elif line.startswith("data:") and event == "error":
                                code = "error event"
                except httpx.HTTPError as exc:
                    code = type(exc).__name__
                if first is not None:
                    routes["chat"].first_token.append(first)
                routes["chat"].record(code, time.perf_counter() - started)

        started = time.perf_counter()
        tasks = [reader(seed) for seed in range(traffic.clients)] + [uploader()]
        if traffic.chat:
            tasks.append(chatter())
        await asyncio.gather(*tasks)
        return time.perf_counter() - started


def summarize(routes: dict[str, Route], wall: float) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "requests": len(route.latencies),
            "rps": len(route.latencies) / wall,
            "p50": pct(route.latencies, 0.5),
            "p99": pct(route.latencies, 0.99),
            "errors": route.errors,
            "codes": dict(route.codes),
            "first_token_p50": pct(route.first_token, 0.5),
        }
        for name, route in routes.items()
    }


def list_vs_healthz(*, base: str, token: str, clients: int, seconds: float) -> dict[str, dict[str, Any]]:
    from bench._seed import wrk_closed_loop
    from bench.search_api import closed_loop

    results = {}
    for path in (LIST, "/healthz"):
        results[path] = asyncio.run(
            closed_loop(base=base, token=token, paths=itertools.cycle([path]), clients=clients, seconds=seconds)
        )
    # The same two paths with a load generator in C, when wrk is installed: the Python client above
    # takes about half of the 2 cores that the server needs.
    for path in (LIST, "/healthz"):
        measured = wrk_closed_loop(base=base, token=token, path=path, clients=clients, seconds=seconds)
        if measured is not None:
            results[f"{path} (wrk)"] = measured
    return results


def memory(pids: dict[str, list[int]]) -> dict[str, list[tuple[int, float]]]:
    return {kind: [(pid, rss) for pid in found if (rss := rss_mb(pid)) is not None] for kind, found in pids.items()}


# --- the report ------------------------------------------------------------------------------


def format_report(
    *,
    machine: str,
    where: str,
    args: argparse.Namespace,
    single: dict[str, dict[str, Any]],
    mixed: dict[str, dict[str, Any]],
    rss: dict[str, list[tuple[int, float]]],
    chat_note: str,
    uploads_note: str,
    load: tuple[float, float],
) -> str:
    lines = [
        "### Mixed traffic (bench/mixed.py)",
        "",
        f"{machine}. {args.note + ' ' if args.note else ''}{where} The load generator runs on the same "
        "machine. Load average (1 min) "
        f"{load[0]:.1f} before, {load[1]:.1f} after.",
        "",
        f"| {args.clients} clients, {args.list_seconds:.0f} s each | rps | p50 ms | p99 ms | non-200 | goal |",
        "|---|---|---|---|---|---|",
    ]
    for path, r in single.items():
        errors = sum(count for code, count in r["codes"].items() if code != 200)
        goal = ""
        if path.startswith(LIST):
            met = r["rps"] >= 1000 and r["p99"] <= 50 and not errors
            goal = f"≥ 1,000 rps at p99 ≤ 50 ms {'✓' if met else '✗'}"
        lines.append(
            f"| `{path}` | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {errors} of {r['requests']} | {goal} |"
        )
    ratios = [
        f"{single[LIST + suffix]['rps'] / single['/healthz' + suffix]['rps']:.2f} ({client})"
        for suffix, client in (("", "Python client"), (" (wrk)", "wrk"))
        if LIST + suffix in single and single["/healthz" + suffix]["rps"]
    ]
    lines += [
        "",
        f"Notes list / `/healthz` throughput ratio in this run: {', '.join(ratios)}. Rows marked (wrk) "
        "were driven by wrk (C) instead of the Python client, which competes with the server for the cores.",
        "",
        f"Mixed, {args.seconds:.0f} s: {args.clients} readers (list / detail / search, weights "
        f"{' / '.join(str(w) for w in READ_WEIGHTS.values())}), one upload every {args.upload_every:g} s, "
        f"one chat at a time. {chat_note}",
        "",
        "| route | requests | rps | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    labels = {
        "list": f"list `{LIST}`",
        "detail": "detail `/api/brain-dumps/<id>/`",
        "search": "search `/api/search/?q=`",
        "upload": "upload `POST /api/brain-dumps/`",
        "chat": "chat (streamed answer; first token p50 in brackets)",
    }
    for name, r in mixed.items():
        extra = f" ({r['first_token_p50']:.0f})" if name == "chat" and r["requests"] else ""
        lines.append(
            f"| {labels.get(name, name)} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.1f}{extra} | "
            f"{r['p99']:.1f} | {errors_cell(r)} |"
        )
    total = sum(r["errors"] for r in mixed.values())
    lines += ["", f"Errors (non-2xx or transport) in the mixed run: {total}. {uploads_note}", ""]
    web = rss.get("web", [])
    worker = rss.get("worker", [])
    met = "✓" if web and max(mb for _, mb in web) <= 250 else "✗"
    lines.append(
        "RSS at the end: web "
        + (", ".join(f"{mb:.0f} MB" for _, mb in web) or "not found")
        + f" (goal ≤ 250 MB per process {met}); worker "
        + (", ".join(f"{mb:.0f} MB" for _, mb in worker) or "not found")
        + (("; LLM server " + ", ".join(f"{mb:.0f} MB" for _, mb in rss["llm"])) if rss.get("llm") else "")
        + "."
    )
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--base", help="a running stack, e.g. http://127.0.0.1:8000 (default: start one)")
    parser.add_argument("--token", help="an access token for --base (POST /api/token/)")
    parser.add_argument("--notes", type=int, default=200, help="notes to seed when this script starts the stack")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--upload-every", type=float, default=5.0, help="seconds between two uploads")
    parser.add_argument("--chat", choices=("auto", "off"), default="auto", help="auto: when the LLM server answers")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--note", default="", help="a sentence for the report (e.g. 'noisy smoke run')")
    parser.add_argument("--write-docs", action="store_true")


@contextlib.contextmanager
def target(args: argparse.Namespace) -> Iterator[tuple[str, str, Any, str]]:
    """(base URL, token, a callable giving the stack's pids by kind, a sentence on where it ran)."""
    if args.base:
        if not args.token:
            raise SystemExit("--base needs --token")
        _setup_django()
        yield args.base, args.token, lambda: find_stack(args.base), f"Against the running stack at {args.base}."
        return
    from bench.retrieval_quality import setup_db

    connection, old_name = setup_db()
    try:
        from bench._seed import seed_user

        _, token, notes = seed_user(notes=args.notes)
        # The seeded notes stand for old, already enriched ones: their enrichment jobs (queued by
        # the pipeline) would keep the worker and the model busy through the whole run.
        with connection.cursor() as cursor:  # procrastinate's Django models are read-only
            cursor.execute("DELETE FROM procrastinate_jobs WHERE task_name = 'notes.enrich_note' AND status = 'todo'")
        logs = Path(tempfile.mkdtemp(prefix="mindpost-bench-logs-"))  # kept: the servers' output
        print(f"web and worker logs: {logs}", flush=True)
        with start_stack(connection=connection, port=args.port, logs=logs) as stack:
            from django.conf import settings

            where = (
                f"A user with {notes} notes; the stack as `make run` starts it: uvicorn with "
                f"WEB_CONCURRENCY={settings.WEB_CONCURRENCY} processes on 127.0.0.1 (access log off), "
                f"one job worker (WORKER_CONCURRENCY={settings.WORKER_CONCURRENCY}) transcribing the uploads."
            )
            yield stack.base, token, stack.pids, where
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def _setup_django() -> None:
    import django

    from mindpost.core import bootstrap

    bootstrap.ensure_dev_secrets()
    django.setup()


def uploads_outcome(ids: list[str], *, drain: float = 0) -> tuple[str, int]:
    """How the uploads of the run ended (only when this script owns the database), after waiting
    up to `drain` seconds for the worker to finish them; and how many failed."""
    from mindpost.notes.models import Note, NoteStatus

    if not ids:
        return "No upload was made.", 0
    started = time.monotonic()
    while Note.objects.filter(pk__in=ids, status=NoteStatus.PROCESSING).exists():
        if time.monotonic() - started >= drain:
            break
        time.sleep(1)
    waited = time.monotonic() - started
    counts: dict[str, int] = {}
    for status in Note.objects.filter(pk__in=ids).values_list("status", flat=True):
        counts[str(status)] = counts.get(str(status), 0) + 1
    after = f" {waited:.0f} s after the traffic stopped" if drain else " at the end of the run"
    summary = ", ".join(f"{v} {k}" for k, v in counts.items())
    return f"Uploads{after}: {len(ids)} made, {summary}.", counts.get(NoteStatus.FAILED, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=30, help="length of the mixed run")
    parser.add_argument("--list-seconds", type=float, default=10, help="length of each single-path run")
    args = parser.parse_args()
    machine = _docs.machine()
    with target(args) as (base, token, pids, where):
        chat_url = llm_up() if args.chat == "auto" else None
        chat_note = (
            f"Chat against the LLM server at {chat_url}."
            if chat_url
            else "Chat not measured: no LLM server answered at LLM_SERVER_URL (start `make run` or "
            "`manage.py llmserver`)."
        )
        traffic = traffic_for(
            base=base, token=token, chat=bool(chat_url), upload_every=args.upload_every, clients=args.clients
        )
        load_before = os.getloadavg()[0]
        single = list_vs_healthz(base=base, token=token, clients=args.clients, seconds=args.list_seconds)
        routes: dict[str, Route] = {}
        wall = asyncio.run(run_mixed(base=base, token=token, traffic=traffic, seconds=args.seconds, routes=routes))
        rss = memory(pids())
        load_after = os.getloadavg()[0]
        uploads_note = "" if args.base else uploads_outcome(traffic.uploads)[0]
        report = format_report(
            machine=machine,
            where=where,
            args=args,
            single=single,
            mixed=summarize(routes, wall),
            rss=rss,
            chat_note=chat_note,
            uploads_note=uploads_note,
            load=(load_before, load_after),
        )
    print(report)
    if args.write_docs:
        _docs.write_block("mixed", report, section=SECTION)


if __name__ == "__main__":
    main()
