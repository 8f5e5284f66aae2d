"""Ingest throughput and memory on canonical JSONL, against a bare polars baseline.

Makes (or takes, with --input) a canonical JSONL file with realistic prompts, its rows in
time order as a server writes them (``--shuffled``: in random time order, the worst case
for the store's day partitions), then times in the same run, alternating, several
repetitions of:

* baseline: ``pl.scan_ndjson(f).sink_parquet(out)`` (parse + write, nothing else);
* forensics: ``forensics.ingest.pipeline.ingest([f], fresh_store)`` (parse, map, normalise,
  validate, de-duplicate, partition by day, commit, sha256 of the input).

Each measurement runs in its own subprocess, which reports its wall time and peak RSS
(``ru_maxrss``). Prints rows/s, MB/s, the ratio forensics/baseline (target >= 0.5), and
the ingest's peak RSS at two input sizes (default 1M and 4M rows) to show that memory does
not grow with the input.

    .venv/bin/python benchmarks/bench_ingest_jsonl.py [--rows 1000000] [--big-rows 4000000]
        [--shuffled] [--reps 3] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

TOPICS = [
    "binary search trees",
    "the French revolution",
    "photosynthesis",
    "TCP congestion control",
    "Bayesian inference",
    "the Krebs cycle",
    "Rust ownership",
    "supply and demand",
    "quantum entanglement",
    "the causes of World War I",
    "gradient descent",
    "plate tectonics",
    "SQL window functions",
    "Kant's categorical imperative",
    "CRISPR gene editing",
    "black-Scholes pricing",
    "the immune response",
    "compiler register allocation",
]
TEMPLATES = [
    "Explain {t} step by step, as if to a first-year student, and give two worked examples.",
    "Solve the following problem about {t} and show your reasoning at every step: {n} cases.",
    "Write a detailed essay of about {n} words on {t}, with an introduction and a conclusion.",
    "hey can you help me understand {t}? my teacher explained it but I still dont get it",
    "Compare {t} with a related idea. Produce a table, then summarise the {n} main differences.",
    "Generate {n} exam questions on {t} with model answers and marking criteria.",
    "I'm debugging something related to {t}. Here is what I tried so far and it fails on case {n}.",
]
AGENTS = ["openai-python/1.40.0", "Mozilla/5.0 (X11; Linux x86_64)", "curl/8.5.0", "axios/1.7.2"]
MODELS = ["gpt-large", "gpt-small", "reasoner-1"]


SPAN_US = 42 * 86400 * 10**6  # six weeks


def make_jsonl(path: Path, rows: int, seed: int = 7, shuffled: bool = False) -> None:
    """A canonical JSONL of ``rows`` requests over six weeks, written in slices.

    Rows are in time order, as a server writes its access log (and as ``simulate``
    writes events); ``shuffled``: in random time order instead, the worst case for
    the store's day partitions (every batch then holds rows of every day).
    """
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-05-01T00:00:00", "us")
    with open(path, "wb") as fh:
        for lo in range(0, rows, 500_000):
            n = min(500_000, rows - lo)
            if shuffled:
                offsets = rng.integers(0, SPAN_US, n)
            else:  # this slice's share of the six weeks, in order
                first, last = SPAN_US * lo // rows, SPAN_US * (lo + n) // rows
                offsets = np.sort(rng.integers(first, last, n))
            acc = rng.integers(0, 25_000, n)
            t = rng.integers(0, len(TEMPLATES), n)
            topic = rng.integers(0, len(TOPICS), n)
            num = rng.integers(2, 900, n)
            frame = pl.DataFrame(
                {
                    "ts": start + offsets.astype("timedelta64[us]"),
                    "account_id": acc,
                    "api_key_id": acc * 3 + rng.integers(0, 3, n),
                    "request_id": np.arange(lo, lo + n),
                    "ip": rng.integers(0, 2**32, n, dtype=np.uint64),
                    "user_agent": rng.integers(0, len(AGENTS), n),
                    "model": rng.integers(0, len(MODELS), n),
                    "input_tokens": rng.integers(5, 4000, n),
                    "output_tokens": rng.integers(5, 4000, n),
                    "latency_ms": rng.gamma(2.0, 400.0, n).round(1),
                    "t": t,
                    "topic": topic,
                    "num": num,
                }
            )
            tmpl = pl.Series(TEMPLATES)
            frame = frame.select(
                pl.col("ts").dt.replace_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"),
                pl.format("acct-{}", "account_id").alias("account_id"),
                pl.format("key-{}", "api_key_id").alias("api_key_id"),
                pl.format("req-{}", "request_id").alias("request_id"),
                pl.format(
                    "{}.{}.{}.{}",
                    (pl.col("ip") // 2**24) % 256,
                    (pl.col("ip") // 2**16) % 256,
                    (pl.col("ip") // 256) % 256,
                    pl.col("ip") % 256,
                ).alias("src_ip"),
                pl.col("user_agent").replace_strict(list(range(len(AGENTS))), AGENTS),
                pl.lit("POST").alias("method"),
                pl.lit("/v1/chat/completions").alias("endpoint"),
                pl.lit(200).alias("status"),
                pl.col("model").replace_strict(list(range(len(MODELS))), MODELS),
                "input_tokens",
                "output_tokens",
                "latency_ms",
                pl.col("t")
                .replace_strict(list(range(len(TEMPLATES))), tmpl)
                .str.replace_all("{t}", "\x01", literal=True)
                .str.replace_all("{n}", "\x02", literal=True)
                .alias("p"),
                pl.col("topic").replace_strict(list(range(len(TOPICS))), TOPICS).alias("tp"),
                pl.col("num").cast(pl.String).alias("nm"),
            )
            frame = frame.with_columns(
                pl.col("p")
                .str.replace("\x01", pl.col("tp"), literal=True)
                .str.replace("\x02", pl.col("nm"), literal=True)
                .alias("prompt")
            ).drop("p", "tp", "nm")
            frame.write_ndjson(fh)


BASELINE = """
import json, resource, sys, time
import polars as pl
t = time.perf_counter()
pl.scan_ndjson(sys.argv[1]).sink_parquet(sys.argv[2])
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu": ru.ru_utime + ru.ru_stime,
                  "maxrss_mb": ru.ru_maxrss / 1024}))
"""

FORENSICS = """
import json, resource, sys, time
from forensics.ingest.pipeline import ingest
t = time.perf_counter()
res = ingest([sys.argv[1]], sys.argv[2])
assert res.rows_ingested > 0, res.errors
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - t, "rows": res.rows_ingested,
                  "cpu": ru.ru_utime + ru.ru_stime, "maxrss_mb": ru.ru_maxrss / 1024}))
"""


def run(code: str, *args: str) -> dict[str, float]:
    env = {**os.environ, "POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", "2")}
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(path: Path, reps: int, work: Path) -> tuple[list[dict], list[dict]]:
    base, ours = [], []
    for i in range(reps):
        base.append(run(BASELINE, str(path), str(work / f"baseline-{i}.parquet")))
        ours.append(run(FORENSICS, str(path), str(work / f"store-{i}")))
        subprocess.run(["rm", "-rf", str(work / f"store-{i}"), str(work / f"baseline-{i}.parquet")])
    return base, ours


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--big-rows", type=int, default=4_000_000, help="0 to skip the RSS check")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument(
        "--shuffled",
        action="store_true",
        help="generate rows in random time order (the worst case for day partitions)",
    )
    ap.add_argument("--input", help="use this canonical JSONL instead of generating one")
    ap.add_argument("--workdir", help="where to put generated files [a temp folder]")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-ingest-"))
    work.mkdir(parents=True, exist_ok=True)
    order = "shuffled" if args.shuffled else "ordered"
    path = Path(args.input) if args.input else work / f"events-{args.rows}-{order}.jsonl"
    if not path.exists():
        print(f"generating {args.rows:,} rows ({order}) -> {path}", file=sys.stderr)
        make_jsonl(path, args.rows, shuffled=args.shuffled)
    rows = args.rows if not args.input else sum(1 for _ in open(path, "rb"))
    mb = path.stat().st_size / 1e6
    base, ours = measure(path, args.reps, work)
    b = statistics.median(r["seconds"] for r in base)
    o = statistics.median(r["seconds"] for r in ours)
    print(
        f"input: {path.name}: {rows:,} rows, {mb:,.0f} MB"
        + ("" if args.input else f", rows in {'random' if args.shuffled else 'time'} order")
        + f"; {args.reps} repetitions, medians"
    )
    print(
        f"baseline  scan_ndjson->sink_parquet: {b:6.2f} s  {rows / b:>12,.0f} rows/s  {mb / b:7.1f} MB/s"
    )
    print(
        f"forensics ingest                   : {o:6.2f} s  {rows / o:>12,.0f} rows/s  {mb / o:7.1f} MB/s"
    )
    print(f"ratio forensics/baseline throughput: {b / o:.2f}  (target >= 0.5)")
    bb = min(r["seconds"] for r in base)
    ob = min(r["seconds"] for r in ours)
    print(f"best of {args.reps}: baseline {bb:.2f} s, forensics {ob:.2f} s, ratio {bb / ob:.2f}")
    bc = statistics.median(r["cpu"] for r in base)
    oc = statistics.median(r["cpu"] for r in ours)
    print(
        f"CPU seconds (user+sys, whole process): baseline {bc:.2f}, forensics {oc:.2f}; "
        f"ratio {bc / oc:.2f}"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"peak RSS at {rows:,} rows: forensics {max(r['maxrss_mb'] for r in ours):,.0f} MB, "
        f"baseline {max(r['maxrss_mb'] for r in base):,.0f} MB"
    )
    if args.big_rows:
        big = work / f"events-{args.big_rows}-{order}.jsonl"
        if not big.exists():
            print(f"generating {args.big_rows:,} rows ({order}) -> {big}", file=sys.stderr)
            make_jsonl(big, args.big_rows, shuffled=args.shuffled)
        res = run(FORENSICS, str(big), str(work / "store-big"))
        subprocess.run(["rm", "-rf", str(work / "store-big")])
        print(
            f"peak RSS at {args.big_rows:,} rows: forensics {res['maxrss_mb']:,.0f} MB "
            f"({res['seconds']:.1f} s, {args.big_rows / res['seconds']:,.0f} rows/s)"
        )


if __name__ == "__main__":
    main()
