"""Soak (issue 14): mixed traffic for 10 minutes, then errors (must be 0) and memory over time.

    .venv/bin/python bench/soak.py [--seconds 600] [--sample 10] [--warmup 60] [--write-docs]
    .venv/bin/python bench/soak.py --base http://127.0.0.1:8000 --token ACCESS   # a running `make run`

The traffic is bench/mixed.py's (readers on list / detail / search, a paced uploader, one chat
client when the LLM server answers; 8 readers and an upload every 15 s by default, below
saturation), on the stack bench/mixed.py starts or on a running one. Errors are non-2xx answers
and transport failures, plus uploads the pipeline failed (the uploads get --drain seconds after
the traffic to finish). Every --sample seconds the resident memory (RSS) of every web and job
worker process is read from /proc.
The first --warmup seconds load the models and fill the caches, so memory is judged after them:
per process its RSS at the start and the end of the measured part, its maximum, and the slope
of a least-squares line through the samples (MB per 10 minutes). "Flat" means a slope under
--flat-mb (default 10 MB per 10 minutes) for every process. The exit status is 1 when there
were errors or memory was not flat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _docs
from bench.mixed import (
    READ_WEIGHTS,
    SECTION,
    Route,
    add_common_arguments,
    errors_cell,
    llm_up,
    memory,
    run_mixed,
    summarize,
    target,
    traffic_for,
    uploads_outcome,
)


def slope_per_10_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB), in MB per 10 minutes."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / var * 600


class Sampler(threading.Thread):
    """Reads the RSS of the stack's processes every `interval` seconds; the per-route error count
    goes with every sample, so an error is placed in time."""

    def __init__(self, *, pids: Any, interval: float, routes: dict[str, Route]) -> None:
        super().__init__(daemon=True)
        self.pids, self.interval, self.routes = pids, interval, routes
        self.started = time.monotonic()
        self.samples: dict[tuple[str, int], list[tuple[float, float]]] = {}
        self.errors: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def sample(self) -> None:
        now = time.monotonic() - self.started
        for kind, found in memory(self.pids()).items():
            for pid, mb in found:
                self.samples.setdefault((kind, pid), []).append((now, mb))
        self.errors.append((now, sum(route.errors for route in list(self.routes.values()))))

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            self.sample()


def memory_rows(sampler: Sampler, *, warmup: float, flat_mb: float) -> tuple[list[str], list[str], bool]:
    """Table rows, a per-minute trace per process, and whether every slope is flat. The halves'
    maxima tell a process whose memory follows the work in hand (the worker: up to
    WORKER_CONCURRENCY transcriptions at once) from one that leaks, whose peaks keep climbing."""
    rows, traces, flat = [], [], True
    for (kind, pid), samples in sorted(sampler.samples.items()):
        measured = [(t, mb) for t, mb in samples if t >= warmup] or samples
        slope = slope_per_10_min(measured)
        ok = abs(slope) <= flat_mb
        flat = flat and ok
        half = len(measured) // 2 or 1
        first, second = measured[:half], measured[half:] or measured[:half]
        rows.append(
            f"| {kind} (pid {pid}) | {measured[0][1]:.0f} | {measured[-1][1]:.0f} | "
            f"{max(mb for _, mb in measured):.0f} | {max(mb for _, mb in first):.0f} / "
            f"{max(mb for _, mb in second):.0f} | {slope:+.1f} {'✓' if ok else '✗'} | {len(measured)} |"
        )
        minutes: dict[int, float] = {}
        for t, mb in measured:
            minutes.setdefault(int(t // 60), mb)  # the first sample of each minute
        traces.append(f"{kind} (pid {pid}): " + " ".join(f"{mb:.0f}" for mb in minutes.values()))
    return rows, traces, flat


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--seconds", type=float, default=600, help="length of the soak (10 minutes)")
    parser.add_argument("--sample", type=float, default=10, help="seconds between two memory samples")
    parser.add_argument("--warmup", type=float, default=60, help="seconds before memory is judged")
    parser.add_argument("--flat-mb", type=float, default=10, help="largest slope called flat, MB per 10 minutes")
    parser.add_argument("--drain", type=float, default=180, help="seconds to wait for the uploads to be processed")
    # A steady load below saturation (16 clients fill both processes' request lanes): a soak looks
    # for leaks and errors over time; bench/mixed.py measures the peak.
    # One upload every 15 s: Whisper needs a few seconds of both cores per clip, and a backlog that
    # grows for 10 minutes would measure the queue, not the processes.
    parser.set_defaults(clients=8, upload_every=15)
    args = parser.parse_args()
    machine = _docs.machine()
    with target(args) as (base, token, pids, where):
        chat_url = llm_up() if args.chat == "auto" else None
        traffic = traffic_for(
            base=base, token=token, chat=bool(chat_url), upload_every=args.upload_every, clients=args.clients
        )
        routes: dict[str, Route] = {}
        sampler = Sampler(pids=pids, interval=args.sample, routes=routes)
        load_before = os.getloadavg()[0]
        sampler.sample()
        sampler.start()
        wall = asyncio.run(run_mixed(base=base, token=token, traffic=traffic, seconds=args.seconds, routes=routes))
        sampler.halt.set()
        sampler.join()
        sampler.sample()
        load_after = os.getloadavg()[0]
        # Every upload must end ready: a note the pipeline failed is an error too.
        uploads_note, failed = ("", 0) if args.base else uploads_outcome(traffic.uploads, drain=args.drain)
    mixed = summarize(routes, wall)
    errors = sum(r["errors"] for r in mixed.values()) + failed
    rows, traces, flat = memory_rows(sampler, warmup=args.warmup, flat_mb=args.flat_mb)
    chat = f"chat against {chat_url}" if chat_url else "no chat (no LLM server answered at LLM_SERVER_URL)"
    lines = [
        "### Soak (bench/soak.py)",
        "",
        f"{machine}. {args.note + ' ' if args.note else ''}{where} Load average (1 min) {load_before:.1f} before, "
        f"{load_after:.1f} after.",
        "",
        f"{args.seconds:.0f} s of mixed traffic: {args.clients} readers (list / detail / search, weights "
        f"{' / '.join(str(w) for w in READ_WEIGHTS.values())}), one upload every {args.upload_every:g} s, {chat}. "
        f"**Errors: {errors}** (goal 0 {'✓' if errors == 0 else '✗'}). {uploads_note}",
        "",
        "| route | requests | rps | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {r['requests']} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} | {errors_cell(r)} |"
            for name, r in mixed.items()
        ),
        "",
        f"RSS every {args.sample:g} s, judged after the first {args.warmup:g} s (MB; slope of a least-squares line, "
        f"MB per 10 minutes; flat = within ±{args.flat_mb:g}):",
        "",
        "| process | start | end | max | max, 1st / 2nd half | slope | samples |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "RSS at each minute after the warm-up (MB):",
        "",
        *(f"- {trace}" for trace in traces),
        "",
        f"Memory flat: {'yes ✓' if flat else 'no ✗'}.",
    ]
    if errors:
        first = next((t for t, count in sampler.errors if count), None)
        lines.append(f"First error seen by the sample at {first:.0f} s; codes: " if first is not None else "Codes: ")
        lines[-1] += "; ".join(f"{name} {r['codes']}" for name, r in mixed.items() if r["errors"])
    report = "\n".join(lines)
    print(report)
    if args.write_docs:
        _docs.write_block("soak", report, section=SECTION)
    raise SystemExit(0 if errors == 0 and flat else 1)


if __name__ == "__main__":
    main()
