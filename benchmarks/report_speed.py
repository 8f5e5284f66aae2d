"""Time `forensics report` on a large synthetic clustered store, every format.

Builds (once, under --work) a store of --events canonical events over --accounts accounts
and six weeks, with --rings rings holding --flagged accounts, edges and a feature table as
`forensics cluster` writes them; then times build_report (the one pass over the events)
and each writer, and prints peak RSS. The baselines, measured in the same run, are bare
Polars scans of the same events grouped by day, and by account and day (the least work a
report with per-account figures must do).

    POLARS_MAX_THREADS=2 python benchmarks/report_speed.py --events 3000000 --accounts 25000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import shutil
import time
from pathlib import Path

import numpy as np
import polars as pl

from forensics.report import build_report, render
from forensics.schema import EVENT_SCHEMA, RING_EDGE_SCHEMA, RING_MEMBER_SCHEMA, RING_SCHEMA
from forensics.store import Store, write_json_atomic, write_parquet_atomic

START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
DAYS = 42


def build_store(
    root: Path, events: int, accounts: int, rings: int, flagged: int, seed: int
) -> Store:
    rng = np.random.default_rng(seed)
    ids = pl.Series("account_id", [f"acct{i:06d}" for i in range(accounts)])
    who = rng.integers(0, accounts, events)
    seconds = rng.integers(0, DAYS * 86400, events)
    frame = pl.DataFrame(
        {
            "ts": pl.Series(START.timestamp() * 1e6 + seconds * 1e6)
            .cast(pl.Int64)
            .cast(pl.Datetime("us", "UTC")),
            "account_id": ids.gather(who),
            "src_ip": pl.Series([f"198.51.{i % 256}.{i // 256 % 256}" for i in range(4096)]).gather(
                rng.integers(0, 4096, events)
            ),
            "output_tokens": rng.integers(10, 2000, events),
            "prompt": pl.Series(["solve <x> step by step", "hello", "translate <y>"]).gather(
                rng.integers(0, 3, events)
            ),
        }
    )
    for name, dtype in EVENT_SCHEMA.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    frame = frame.select([pl.col(n).cast(t) for n, t in EVENT_SCHEMA.items()])
    shutil.rmtree(root, ignore_errors=True)
    store = Store(root)
    with store.lock(), store.transaction() as txn:
        frame = frame.with_columns(pl.col("ts").dt.date().alias("_day"))
        for (day,), part in frame.partition_by("_day", as_dict=True).items():
            part.drop("_day").write_parquet(
                txn.stage(f"events/date={day}/part-bench.parquet"), compression="zstd"
            )
        manifest = store.read_manifest()
        manifest["inputs"].append({"path": "bench", "sha256": "f" * 64, "rows_ingested": events})
        txn.commit(manifest)

    # Rings: sizes decreasing geometrically, members are the first `flagged` accounts.
    weights = 0.7 ** np.arange(rings)
    sizes = np.maximum((flagged * weights / weights.sum()).astype(int), 3)
    ring_ids = [f"R{i + 1:03d}" for i in range(rings)]
    member_ring = np.repeat(np.arange(rings), sizes)
    members = pl.DataFrame(
        {
            "ring_id": [ring_ids[r] for r in member_ring],
            "account_id": ids[: len(member_ring)],
            "score": rng.uniform(0.5, 1.0, len(member_ring)),
        },
        schema=RING_MEMBER_SCHEMA,
    )
    # Edges: each member linked to 10 random fellow members.
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    a = np.repeat(np.arange(len(member_ring)), 10)
    ring_of_a = member_ring[a]
    b = offsets[ring_of_a] + rng.integers(0, sizes[ring_of_a])
    keep = a != b
    lo, hi = np.minimum(a, b)[keep], np.maximum(a, b)[keep]
    edges = pl.DataFrame(
        {
            "account_a": ids.gather(lo),
            "account_b": ids.gather(hi),
            "similarity": rng.uniform(0.3, 1.0, keep.sum()),
            "view": "combined",
        },
        schema=RING_EDGE_SCHEMA,
    ).unique(["account_a", "account_b"])
    evidence = {
        "findings": [
            {"kind": "shared_prompt", "text": "members share 3 templates", "strength": 0.9}
        ],
        "shared": {
            "prompt_templates": [
                {"value": "solve <*> step by step", "accounts": 10, "requests": 100}
            ]
        },
        "contrast": [
            {
                "feature": "requests",
                "label": "requests",
                "ring_median": 1,
                "population_median": 1,
                "ring_percentile": 50,
                "z": 2.0,
            },
            {
                "feature": "hour_entropy",
                "label": "hour-of-day entropy",
                "ring_median": 1,
                "population_median": 1,
                "ring_percentile": 50,
                "z": 1.0,
            },
        ],
        "examples": [
            {
                "ts": "2024-05-02T00:00:00Z",
                "account_id": "acct000001",
                "src_ip": "198.51.0.1",
                "user_agent": "ua",
                "model": "m",
                "prompt": "solve x step by step",
            }
        ]
        * 10,
    }
    rings_frame = pl.DataFrame(
        {
            "ring_id": ring_ids,
            "size": sizes.tolist(),
            "score": np.linspace(0.99, 0.6, rings).tolist(),
            "first_seen": [START] * rings,
            "last_seen": [START + dt.timedelta(days=DAYS)] * rings,
            "requests": [0] * rings,
            "output_tokens": [0] * rings,
            "views": [["prompt", "infra"]] * rings,
            "headline": [f"{s} accounts share 3 prompt templates" for s in sizes],
            "evidence": [json.dumps(evidence)] * rings,
        },
        schema=RING_SCHEMA,
    )
    features = pl.DataFrame(
        {"account_id": ids}
        | {f"feature_{k}": rng.normal(0, 1, accounts) for k in range(10)}
        | {
            "requests": rng.poisson(100, accounts).astype(float),
            "hour_entropy": rng.uniform(0, 4.5, accounts),
        }
    )
    write_parquet_atomic(store.features_path, features)
    write_parquet_atomic(store.ring_members_path, members)
    write_parquet_atomic(store.ring_edges_path, edges)
    write_parquet_atomic(store.rings_path, rings_frame)
    write_json_atomic(store.run_path, {"tool_version": "bench", "seed": seed, "parameters": {}})
    return store


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--accounts", type=int, default=25_000)
    parser.add_argument("--rings", type=int, default=12)
    parser.add_argument("--flagged", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/forensics-report-bench"))
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the store under --work if it exists"
    )
    args = parser.parse_args()

    existing = Store(args.work / "store")
    if args.reuse and existing.has_rings():
        store, build_s = existing, 0.0
    else:
        store, build_s = timed(
            lambda: build_store(
                args.work / "store", args.events, args.accounts, args.rings, args.flagged, args.seed
            )
        )
        print(
            f"synthetic store: {args.events:,} events, {args.accounts:,} accounts, {args.rings} rings, "
            f"{args.flagged:,} flagged ({build_s:.1f} s to build)"
        )

    _, baseline_s = timed(
        lambda: store.scan_events().group_by(pl.col("ts").dt.date()).agg(pl.len()).collect()
    )
    print(f"baseline: bare scan of events grouped by day      {baseline_s:6.2f} s")
    _, baseline2_s = timed(
        lambda: (
            store.scan_events()
            .group_by("account_id", pl.col("ts").dt.date().alias("date"))
            .agg(pl.len())
            .collect(engine="streaming")
        )
    )
    print(f"baseline: bare scan grouped by account and day    {baseline2_s:6.2f} s")
    report, model_s = timed(lambda: build_report(store))
    print(f"build_report (summary, per-ring daily, members)    {model_s:6.2f} s")
    report_charts, charts_s = timed(lambda: build_report(store, charts=True))
    print(f"build_report with charts (edges, features)        {charts_s:6.2f} s")
    ring_report, ring_s = timed(lambda: build_report(store, ring="R001", charts=True))
    print(f"build_report --ring R001 with charts              {ring_s:6.2f} s")
    for fmt in ("terminal", "markdown", "json", "csv"):
        text, seconds = timed(lambda fmt=fmt: render(report, fmt))
        print(f"render {fmt:<9} {len(text) / 1e6:7.2f} MB            {seconds:6.2f} s")
    text, seconds = timed(lambda: render(report_charts, "html"))
    print(f"render html      {len(text) / 1e6:7.2f} MB            {seconds:6.2f} s")
    text, seconds = timed(lambda: render(ring_report, "html"))
    print(f"render html --ring {len(text) / 1e6:5.2f} MB            {seconds:6.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:,.0f} MB")


if __name__ == "__main__":
    main()
