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
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import polars as pl  # noqa: E402
from bench_engines import (  # noqa: E402
    Run,
    _become_subreaper,
    _cpu_children,
    _held,
    _reap_orphans,
    _TreeSampler,
    copy_store,
)

FORENSICS = [sys.executable, "-m", "forensics"]
MOUNT = "bench"
OUTPUTS = ("rings/members.parquet", "rings/edges.parquet", "rings/rings.parquet")


def measure(kind: str, backing: Path, log: Path, lock: Path | None) -> Run:
    """One `forensics cluster --engine spark` of ``backing``, by path or by URI."""
    if kind == "path":
        cmd = [*FORENSICS, "cluster", str(backing), "--engine", "spark"]
    else:
        link = f"spark.hadoop.fs.viewfs.mounttable.{MOUNT}.link./case=file://{backing.resolve()}"
        target = f"viewfs://{MOUNT}/case"
        cmd = [*FORENSICS, "cluster", target, "--engine", "spark", "--spark-conf", link]
    with _held(lock):
        sampler = _TreeSampler()
        cpu0 = _cpu_children()
        load0 = os.getloadavg()[0]
        with open(log, "w") as err:
            t = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
            sampler.start()
            _pid, status, _usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - t
        _reap_orphans()
        sampler.stop.set()
        sampler.join()
        cpu = _cpu_children() - cpu0
    if os.waitstatus_to_exitcode(status) != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise SystemExit(f"{' '.join(cmd)} failed:\n" + "\n".join(tail))
    run_json = json.loads((backing / "rings" / "run.json").read_text())
    return Run(
        engine=kind,
        wall=wall,
        cpu=cpu,
        peak_rss=sampler.peak_rss,
        peak_pss=sampler.peak_pss,
        peak_jvm_rss=sampler.peak_jvm,
        hwm_sum=sum(sampler.hwm.values()),
        processes=len(sampler.hwm),
        load=(load0, os.getloadavg()[0]),
        timings=run_json.get("timings", {}),
    )


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
