"""Time `compute_account_features` on a generated canonical frame (no simulator needed).

    POLARS_MAX_THREADS=2 .venv/bin/python benchmarks/features_speed.py --events 3000000 --accounts 25000
    POLARS_MAX_THREADS=2 .venv/bin/python benchmarks/features_speed.py --store STORE

With ``--store`` it times ``account_features`` on an existing store instead, as
``forensics cluster`` calls it (streaming engine affinity), and prints wall and CPU seconds
(user + sys) and the process's peak RSS; nothing is written to the store.

The events are written to Parquet and a fresh process reads them back, as `cluster` reads
the store, so that its peak RSS is the feature step's own. It prints the feature time next
to a baseline measured in the same process on the same file: the floor of any per-account
pass, a scan with one group_by(account_id).len() plus n_unique(src_ip).
Events are random but shaped like the store: templated prompts with numbers, IPs from
/24 pools, a handful of models and user agents, six weeks of timestamps.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from forensics.features import compute_account_features  # noqa: E402
from forensics.schema import ACCOUNT_SCHEMA, EVENT_SCHEMA  # noqa: E402

TEMPLATES = [
    "Solve step by step: {n} + {m} = ? Show your reasoning.",
    "Translate the sentence number {n} into French, please.",
    "Write a Python function that returns the {n}th prime after {m}.",
    "Summarise the following report id {n} in three bullet points.",
    "what is the capital of country {n}",
    "Explain like I'm five why {n} is bigger than {m}",
]


def generate(n_events: int, n_accounts: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-05-01T00:00:00", "us").astype(np.int64)
    six_weeks_us = 42 * 86400 * 1_000_000
    account = rng.zipf(1.3, n_events) % n_accounts
    ts = start + rng.integers(0, six_weeks_us, n_events)
    template = rng.integers(0, len(TEMPLATES), n_events)
    n, m = rng.integers(0, 10_000, n_events), rng.integers(0, 10_000, n_events)
    ip24 = (account * 7 + rng.integers(0, 3, n_events)) % 20_000
    frame = pl.DataFrame(
        {
            "ts": pl.Series(ts).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "account_id": pl.Series(account).cast(pl.String).str.zfill(7),
            "_a": ip24 // 256 + 11,
            "_b": ip24 % 256,
            "_d": rng.integers(1, 255, n_events),
            "_t": template,
            "_n": n,
            "_m": m,
            "status": rng.choice([200, 200, 200, 200, 200, 200, 200, 429, 500], n_events),
            "model": rng.choice(["model-a", "model-b", "model-c"], n_events),
            "user_agent": rng.choice(["openai-python/1.40.0", "curl/8.0", "Mozilla/5.0"], n_events),
            "input_tokens": rng.integers(5, 2000, n_events),
            "output_tokens": rng.integers(5, 4000, n_events),
        }
    )
    frame = frame.with_columns(
        pl.format("{}.{}.7.{}", "_a", "_b", "_d").alias("src_ip"),
        pl.col("_t")
        .replace_strict(list(range(len(TEMPLATES))), TEMPLATES)
        .str.replace("{n}", pl.col("_n").cast(pl.String), literal=True)
        .str.replace("{m}", pl.col("_m").cast(pl.String), literal=True)
        .alias("prompt"),
    )
    frame = frame.select(
        pl.col(c).cast(t) if c in frame.columns else pl.lit(None, dtype=t).alias(c)
        for c, t in EVENT_SCHEMA.items()
    )
    ids = pl.Series(np.arange(n_accounts)).cast(pl.String).str.zfill(7)
    created = start - rng.integers(0, 365 * 86400 * 1_000_000, n_accounts)
    accounts = pl.DataFrame(
        {
            "account_id": ids,
            "created_at": pl.Series(created).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "email_domain": rng.choice(["gmail.com", "outlook.com", "corp.example"], n_accounts),
            "payment_fingerprint": pl.Series(rng.integers(0, n_accounts, n_accounts)).cast(
                pl.String
            ),
        }
    ).select(
        pl.col(c).cast(t)
        if c in ("account_id", "created_at", "email_domain", "payment_fingerprint")
        else pl.lit(None, dtype=t).alias(c)
        for c, t in ACCOUNT_SCHEMA.items()
    )
    return frame, accounts


def peak_rss_gb() -> float:
    """This process's own peak RSS. Linux's ru_maxrss survives fork and exec, so a child
    would report its parent's (the generator's) peak; VmHWM belongs to this process alone."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def measure(events_path: str, accounts_path: str) -> None:
    """In a fresh process: baseline and features read from Parquet, as `cluster` reads them."""
    events = pl.scan_parquet(events_path)
    # features first, so that the peak RSS read right after it is the feature step's own
    t0, c0 = time.perf_counter(), time.process_time()
    table = compute_account_features(events, pl.scan_parquet(accounts_path))
    features_s, features_cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_gb = peak_rss_gb()

    t0, c0 = time.perf_counter(), time.process_time()
    base = events.group_by("account_id").agg(pl.len(), pl.col("src_ip").n_unique()).collect()
    baseline_s, baseline_cpu = time.perf_counter() - t0, time.process_time() - c0
    assert table.height == base.height

    print(f"load average: {os.getloadavg()[0]:.1f} (wall times stretch when it exceeds 2)")
    print(f"baseline scan + group_by(account).len+n_unique(ip): {baseline_s:6.2f} s wall "
          f"{baseline_cpu:6.2f} s cpu")  # fmt: skip
    print(f"compute_account_features ({table.width - 1} features): {features_s:6.2f} s wall "
          f"{features_cpu:6.2f} s cpu ({features_s / baseline_s:.0f}x baseline wall), "
          f"{table.height:,} accounts")  # fmt: skip
    print(f"peak RSS of the process after the features (before the baseline): {peak_gb:.2f} GB")


def measure_store(root: str) -> None:
    """Time the feature step on a store, as `forensics cluster` runs it (read-only)."""
    from forensics.features import account_features
    from forensics.store import Store

    store = Store(root)
    with pl.Config(engine_affinity="streaming"):
        t0, c0 = time.perf_counter(), time.process_time()
        result = account_features(store.scan_events(), store.scan_accounts())
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"load average: {os.getloadavg()[0]:.1f}")
    print(f"account_features on {root}: {wall:6.1f} s wall {cpu:6.1f} s cpu, "
          f"{result.table.height:,} accounts, {result.templates.height:,} (account, template) "
          f"pairs, peak RSS {peak_rss_gb():.2f} GB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--accounts", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store", help="time account_features on this store instead")
    parser.add_argument(
        "--measure", nargs=2, metavar=("EVENTS", "ACCOUNTS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    if args.store:
        measure_store(args.store)
        return

    t0 = time.perf_counter()
    events, accounts = generate(args.events, args.accounts, args.seed)
    print(f"generated {events.height:,} events, {accounts.height:,} accounts "
          f"in {time.perf_counter() - t0:.1f}s (POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']})")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="features-bench-") as tmp:
        events_path, accounts_path = f"{tmp}/events.parquet", f"{tmp}/accounts.parquet"
        events.write_parquet(events_path, compression="zstd")
        accounts.write_parquet(accounts_path)
        del events, accounts
        command = [sys.executable, __file__, "--measure", events_path, accounts_path]
        subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
