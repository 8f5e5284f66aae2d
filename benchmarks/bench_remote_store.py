"""What a store at a URI costs the Spark engine: the same store clustered by path and by URI.

    .venv/bin/python benchmarks/bench_remote_store.py [--store /tmp/d2/camp_store]
        [--work /tmp/forensics-bench/remote] [--repeat 3] [--lock /tmp/forensics-bench.lock]

The store is copied twice. One copy is clustered as a local path (`forensics cluster COPY
--engine spark`: the driver reads the flagged accounts' events with Polars); the other as a
``viewfs://`` URI whose mount table points at it (`forensics cluster viewfs://bench/case
--engine spark --spark-conf spark.hadoop.fs.viewfs.mounttable...`): every read and write then
goes through Hadoop's FileSystem API, the flagged accounts' events come from Spark in slices
(``spark.events.member_events``) and each output is published by copy and rename
(``spark.remote``). Runs alternate (path first, then URI first, ...), each in its own child
process measured as a tree like ``bench_engines.py`` (wall, CPU of every descendant, peak
RSS). Printed: each run, the medians, the stage that differs (evidence), and
whether both give the same rings, members and edges.

The disk under both is the same local disk, so what this measures is the engine's own
cost of the URI path, not a network's or an object store's.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import polars as pl  # noqa: E402
from bench_engines import Run, _become_subreaper, copy_store  # noqa: E402
from bench_engines import measure as measure_tree  # noqa: E402

MOUNT = "bench"
OUTPUTS = ("rings/members.parquet", "rings/edges.parquet", "rings/rings.parquet")


def measure(kind: str, backing: Path, log: Path, lock: Path | None) -> Run:
    """One `forensics cluster --engine spark` of ``backing``, by path or by URI."""
    if kind == "path":
        run = measure_tree("spark", backing, [], log, lock)
    else:
        link = f"spark.hadoop.fs.viewfs.mounttable.{MOUNT}.link./case=file://{backing.resolve()}"
        target = f"viewfs://{MOUNT}/case"
        run = measure_tree("spark", backing, ["--spark-conf", link], log, lock, target)
    run.engine = kind
    return run


def same_outputs(a: Path, b: Path) -> bool:
    return all(pl.read_parquet(a / name).equals(pl.read_parquet(b / name)) for name in OUTPUTS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, default=Path("/tmp/d2/camp_store"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/forensics-bench/remote"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lock", type=Path, default=None)
    args = parser.parse_args(argv)
    _become_subreaper()
    args.work.mkdir(parents=True, exist_ok=True)
    stores = {k: copy_store(args.store, args.work / k) for k in ("path", "uri")}
    runs: dict[str, list[Run]] = {"path": [], "uri": []}
    for i in range(args.repeat):
        for kind in ("path", "uri") if i % 2 == 0 else ("uri", "path"):
            run = measure(kind, stores[kind], args.work / f"{kind}-{i}.log", args.lock)
            runs[kind].append(run)
            print(
                f"run {i + 1} {kind:4s}: {run.wall:7.1f} s wall, {run.cpu:7.1f} s CPU, peak tree "
                f"RSS {run.peak_rss / 2**20:7,.0f} MiB (JVM {run.peak_jvm_rss / 2**20:,.0f}); "
                f"load {run.load[0]:.1f} -> {run.load[1]:.1f}",
                flush=True,
            )
    med = statistics.median
    print("\nmedians:")
    for kind, rs in runs.items():
        print(
            f"  {kind:4s} median of {len(rs)}: {med(r.wall for r in rs):7.1f} s wall, "
            f"{med(r.cpu for r in rs):7.1f} s CPU, peak tree RSS "
            f"{med(r.peak_rss for r in rs) / 2**20:7,.0f} MiB"
        )
    ratio = med(r.wall for r in runs["uri"]) / med(r.wall for r in runs["path"])
    print(f"  URI / path, wall: {ratio:.2f}")
    # (publishing follows run.json, so its time is in the wall figures only)
    print("\nthe stage that differs (median wall s / CPU-s of the driver process):")
    for stage in ("evidence",):
        for kind, rs in runs.items():
            wall = [r.timings.get(f"{stage}_s") for r in rs if f"{stage}_s" in r.timings]
            cpu = [r.timings.get(f"{stage}_cpu_s") for r in rs if f"{stage}_cpu_s" in r.timings]
            if wall:
                print(f"  {stage:9s} {kind:4s}: {med(wall):6.1f} s, {med(cpu):6.1f} CPU-s")
    print(f"\nsame rings, members and edges: {same_outputs(stores['path'], stores['uri'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
