"""Benchmark `forensics cluster`, and bulk MinHash against datasketch's per-token loop.

    .venv/bin/python benchmarks/bench_cluster.py [--store STORE | --scenario campaign --scale 0.1]
        [--seed 1] [--work /tmp/forensics-bench] [--baseline-accounts N]

1. `forensics cluster STORE` in a child process: wall time and peak RSS (target: <= 60 s
   on 2 cores for `campaign` at scale 0.1, ~3M events, 25k accounts).
2. On the same accounts, the signature step two ways, side by side: the bulk NumPy MinHash
   that cluster uses (forensics.rings.signatures.bulk_minhash) and a baseline that calls
   datasketch's `MinHash.update` once per token in a Python loop, with the same tokens,
   seed and permutations (and checks that the two give the same signatures). Prints both
   rates and the ratio. `--baseline-accounts` limits both to the first N accounts.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from datasketch import MinHash  # noqa: E402

from forensics.rings.params import ClusterParams  # noqa: E402
from forensics.rings.signatures import bulk_minhash, permutations  # noqa: E402
from forensics.rings.views import build_view  # noqa: E402
from forensics.store import Store  # noqa: E402

FORENSICS = [sys.executable, "-m", "forensics"]


def _make_store(scenario: str, scale: float, seed: int, work: Path) -> Path:
    data, store = work / f"{scenario}-{scale}-{seed}", work / f"{scenario}-{scale}-{seed}.store"
    if (store / "manifest.json").is_file():
        return store
    subprocess.run(
        [*FORENSICS, "simulate", "--scenario", scenario, "--scale", str(scale), "--seed",
         str(seed), "--out", str(data)], check=True,
    )  # fmt: skip
    subprocess.run(
        [*FORENSICS, "ingest", str(data / "events"), "--accounts", str(data / "accounts.csv"),
         "--store", str(store), "-q"], check=True,
    )  # fmt: skip
    return store


def time_cluster(store: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + sys, all threads) and peak RSS (MiB) of
    `forensics cluster STORE` in a child process."""
    t = time.perf_counter()
    proc = subprocess.Popen([*FORENSICS, "cluster", str(store)])
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("forensics cluster failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def signature_step(store: Path, limit: int | None) -> None:
    """Bulk MinHash vs datasketch MinHash.update per token, on the same accounts."""
    params = ClusterParams()
    st = Store(store)
    view = (
        "prompt"
        if st.scan_events().select(pl.col("prompt").is_not_null().any()).collect().item()
        else "infra"
    )
    vt = build_view(view, st.scan_events(), st.scan_accounts(), params)
    # the first ``limit`` accounts that have tokens, numbered 0..n-1 in account order
    owners = vt.tokens["idx"].unique().sort()
    if limit:
        owners = owners.head(limit)
    rows = vt.tokens.join(
        pl.DataFrame(
            {"idx": owners, "row": pl.arange(0, owners.len(), dtype=pl.UInt32, eager=True)}
        ),
        on="idx",
    ).sort("row")
    accounts = owners
    idx, hv = rows["row"].to_numpy(), rows["token"].to_numpy()
    perms = permutations(params.num_perm, params.seed)
    print(f"signature step: view {view}, {accounts.len()} accounts, {rows.height} tokens, "
          f"{params.num_perm} permutations")  # fmt: skip

    t = time.perf_counter()
    bulk = bulk_minhash(idx, hv, accounts.len(), perms, threads=2)
    bulk_s = time.perf_counter() - t

    t = time.perf_counter()
    starts = np.flatnonzero(np.r_[True, idx[1:] != idx[:-1]])
    ends = np.r_[starts[1:], idx.size]
    loop = np.empty_like(bulk)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        m = MinHash(num_perm=params.num_perm, seed=params.seed, hashfunc=int, permutations=perms)
        for token in hv[s:e].tolist():
            m.update(token)
        loop[idx[s]] = m.hashvalues
    loop_s = time.perf_counter() - t

    same = bool(np.array_equal(bulk, loop))
    print(
        f"  bulk NumPy MinHash:           {bulk_s:8.2f} s  ({rows.height / bulk_s:,.0f} tokens/s)"
    )
    print(
        f"  datasketch MinHash.update loop: {loop_s:8.2f} s  ({rows.height / loop_s:,.0f} tokens/s)"
    )
    print(f"  speed-up: {loop_s / bulk_s:.1f}x; identical signatures: {same}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store")
    ap.add_argument("--scenario", default="campaign")
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default="/tmp/forensics-bench")
    ap.add_argument("--baseline-accounts", type=int, default=None)
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    store = (
        Path(args.store) if args.store else _make_store(args.scenario, args.scale, args.seed, work)
    )
    events = Store(store).scan_events().select(pl.len()).collect().item()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, "
          f"polars {pl.__version__}, POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']}")  # fmt: skip
    print(f"store: {store} ({events:,} events)")
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    wall, cpu, rss = time_cluster(store)
    print(
        f"forensics cluster: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss:,.0f} MiB "
        f"(target <= 60 s wall); load average now {os.getloadavg()[0]:.1f}"
    )
    signature_step(store, args.baseline_accounts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
