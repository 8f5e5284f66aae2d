"""A/B of the Spark engine: this tree against another copy of the package, on one store copy.

    .venv/bin/python benchmarks/bench_spark_ab.py --before-src DIR [--store /tmp/d2/camp_store]
        [--work /tmp/forensics-bench/spark_ab] [--order before,after,...]
        [--lock /tmp/forensics-bench.lock]

``DIR`` holds a ``forensics`` package (e.g. ``git archive HEAD forensics | tar -x -C DIR``,
then the files under test replaced by their older versions); the "before" runs put it first
on ``PYTHONPATH``, which the driver and Spark's Python workers both import from. Runs
alternate in ``--order`` on one store copy, each a child process measured as a tree (wall,
CPU of the tree, peak RSS: ``bench_engines.measure``), each holding ``--lock``, with Spark's
event log on in every run; per run it prints the shuffle bytes written, the two event
shuffles (exchanges of one row per event), the task results sent to the driver, the stage
timings, and whether the ring memberships equal the first run's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_engines as be  # noqa: E402
import polars as pl  # noqa: E402

from forensics.store import Store  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before-src", required=True, help="Folder holding the older package.")
    ap.add_argument("--store", default="/tmp/d2/camp_store", help="Store to copy (read only).")
    ap.add_argument("--work", default="/tmp/forensics-bench/spark_ab")
    ap.add_argument("--order", default="before,after")
    ap.add_argument("--lock", default=None)
    args = ap.parse_args(argv)
    be._become_subreaper()
    lock = Path(args.lock) if args.lock else None
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    store = be.copy_store(Path(args.store), work / "store")
    events = Store(store).scan_events().select(pl.len()).collect().item()
    first = None
    for i, variant in enumerate(args.order.split(",")):
        log_dir = work / f"eventlog_{i}_{variant}"
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir()
        conf = [
            "--spark-conf", "spark.eventLog.enabled=true",
            "--spark-conf", f"spark.eventLog.dir=file://{log_dir.resolve()}",
            "--spark-conf", "spark.eventLog.compress=false",
        ]  # fmt: skip
        if variant == "before":
            os.environ["PYTHONPATH"] = str(Path(args.before_src).resolve())
        try:
            run = be.measure("spark", store, conf, work / f"{i}_{variant}.log", lock)
        finally:
            os.environ.pop("PYTHONPATH", None)
        log = be.read_event_log(log_dir)
        written = sum(ex.bytes_written or 0 for ex in log.exchanges)
        per_event = [
            ex.bytes_written / 2**20
            for ex in log.exchanges
            if ex.kind == "Exchange" and ex.rows == events and ex.bytes_written
        ]
        members = be._members(store)
        first = members if first is None else first
        stages = ", ".join(f"{k[:-2]} {v:.1f}" for k, v in run.timings.items() if k.endswith("_s"))
        print(
            f"{variant}: {run.wall:.1f} s wall, {run.cpu:.1f} s CPU, peak tree RSS "
            f"{run.peak_rss / 2**20:,.0f} MiB (JVM {run.peak_jvm_rss / 2**20:,.0f}); load "
            f"{run.load[0]:.1f} -> {run.load[1]:.1f}; shuffle written {written / 2**20:,.1f} MiB, "
            f"event shuffles {', '.join(f'{m:,.1f}' for m in per_event)} MiB; to the driver "
            f"{sum(log.to_driver.values()) / 2**20:,.1f} MiB; same rings as the first run: "
            f"{members.equals(first)}\n    stages (wall s): {stages}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
