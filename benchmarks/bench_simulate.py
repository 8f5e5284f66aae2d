"""Time and peak memory of `forensics simulate`, with a write-only baseline from the same run.

    python benchmarks/bench_simulate.py --scenario campaign --scale 0.1

Runs the simulator in a child process (wall time, peak RSS from the kernel's accounting),
then, as the baseline, re-serialises the generated events with a bare
``polars.scan_ndjson(...).sink_ndjson(...)``: the cost of reading and writing the same bytes
without generating anything. The ratio says how far generation is from pure I/O.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _child(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (seconds, peak RSS in MiB of that child alone)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="campaign")
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="keep the output in this folder")
    args = parser.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="bench_simulate_"))
    out = work / "sim"
    env = dict(os.environ, FORENSICS_QUIET="1")
    os.environ.update(env)
    forensics = [sys.executable, "-m", "forensics"]
    sim_s, sim_mb = _child(
        [*forensics, "simulate", "--scenario", args.scenario, "--scale", str(args.scale),
         "--seed", str(args.seed), "--out", str(out)]
    )  # fmt: skip
    parts = sorted((out / "events").glob("*.jsonl"))
    size = sum(p.stat().st_size for p in parts)
    copy = work / "copy.jsonl"
    code = (
        "import polars as pl, sys; "
        "pl.scan_ndjson(sys.argv[1:-1], infer_schema_length=10000).sink_ndjson(sys.argv[-1])"
    )
    base_s, base_mb = _child([sys.executable, "-c", code, *map(str, parts), str(copy)])
    rows = sum(1 for p in parts for _ in open(p, "rb"))
    print(f"scenario={args.scenario} scale={args.scale} seed={args.seed} cores={os.cpu_count()}")
    print(f"events={rows:,} bytes={size / 2**20:,.0f} MiB parts={len(parts)}")
    print(
        f"simulate:                {sim_s:8.1f} s  {rows / sim_s:12,.0f} events/s  peak RSS {sim_mb:8,.0f} MiB"
    )
    print(
        f"baseline ndjson re-write:{base_s:8.1f} s  {rows / base_s:12,.0f} events/s  peak RSS {base_mb:8,.0f} MiB"
    )
    print(f"simulate / baseline time: {sim_s / base_s:.2f}x")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
