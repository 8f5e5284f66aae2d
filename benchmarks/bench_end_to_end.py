"""End to end: ingest + cluster + report on one simulated campaign, each stage timed.

Each stage runs as its own `forensics` process (as a user would run it); its wall time,
CPU time and peak RSS come from `os.wait4`, and its stderr (progress, the cluster's
per-stage timings) is kept in WORK/<stage>.log. The baseline, measured in the same run on
the same files, is a bare `polars.scan_ndjson(files).sink_parquet(...)`: the least any
ingest of these bytes can cost. Target (issue 4): ingest + cluster + report <= 600 s with
peak RSS <= 8 GB for `campaign` at scale 1.0 (~36M events, ~229k accounts) on 2 cores.

    forensics simulate --scenario campaign --scale 1.0 --seed 1 --out /data/campaign1
    python benchmarks/bench_end_to_end.py /data/campaign1 --work /data/e2e [--lock] [--commit REV]

`--lock` holds the shared benchmark lock (flock) during each stage, one stage at a time,
so that other timed runs on the machine never overlap a stage; the load average at the
start of each stage is printed beside it.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

FORENSICS = [sys.executable, "-m", "forensics"]
LOCK = "/tmp/forensics-bench.lock"


@contextlib.contextmanager
def bench_lock(path: str | None) -> Iterator[None]:
    """Hold the shared benchmark lock (flock) while the block runs, when a path is given."""
    if not path:
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def snapshot(rev: str, dest: Path) -> str:
    """Export the package as of git revision ``rev`` into dest; return the full commit hash."""
    repo = Path(__file__).resolve().parents[1]
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", commit, "forensics"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return commit


def run_stage(
    name: str,
    argv: list[str],
    env: dict[str, str],
    log: Path,
    lock: str | None,
    cwd: Path | None = None,
) -> dict[str, float | str]:
    """Run one stage as a child process: wall, CPU (user + sys), peak RSS, load at start."""
    with bench_lock(lock):
        load = os.getloadavg()[0]
        start = time.perf_counter()
        with log.open("wb") as err:
            proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=cwd)
            _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        tail = log.read_text(errors="replace")[-2000:]
        print(f"{name} failed ({code}):\n{tail}", file=sys.stderr)
        raise SystemExit(1)
    print(f"{name}: {wall:.1f} s wall (stderr in {log})", file=sys.stderr, flush=True)
    return {
        "stage": name,
        "wall_s": round(wall, 1),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        # ru_maxrss is in KiB; GB here are 10^9 bytes, the unit of the 8 GB target
        "peak_rss_gb": round(usage.ru_maxrss * 1024 / 1e9, 2),
        "load": round(load, 1),
    }


BASELINE = """
import sys, polars as pl
pl.scan_ndjson(sys.argv[1:-1], infer_schema_length=10000).sink_parquet(sys.argv[-1], compression="zstd")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, help="a `forensics simulate` output folder")
    parser.add_argument("--work", type=Path, default=Path("bench_out/e2e"))
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--lock",
        nargs="?",
        const=LOCK,
        default=None,
        help=f"hold the shared benchmark lock (default {LOCK}) during each stage",
    )
    parser.add_argument(
        "--commit",
        help="run the package as of this git revision (exported into WORK/src), not the "
        "working tree, which other engineers may be editing during the run",
    )
    args = parser.parse_args()
    args.work, args.data = args.work.resolve(), args.data.resolve()

    env = dict(os.environ, POLARS_MAX_THREADS=os.environ.get("POLARS_MAX_THREADS", "2"))
    store = args.work / "store"
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    if args.commit:
        commit = snapshot(args.commit, args.work / "src")
        # run from the snapshot's folder: `python -m` puts the working directory first
        env["PYTHONPATH"] = str(args.work / "src")
        print(f"commit {commit}", flush=True)
    events = sorted(str(p) for p in (args.data / "events").glob("part-*"))
    size_gb = sum(Path(p).stat().st_size for p in events) / 1e9

    def stage(name: str, argv: list[str], log: str) -> dict[str, float | str]:
        cwd = args.work / "src" if args.commit else None
        return run_stage(name, argv, env, args.work / log, args.lock, cwd)

    rows = []
    if not args.skip_baseline:
        baseline = [sys.executable, "-c", BASELINE, *events, str(args.work / "baseline.parquet")]
        rows.append(stage("baseline: scan_ndjson -> sink_parquet", baseline, "baseline.log"))
        (args.work / "baseline.parquet").unlink(missing_ok=True)
    ingest = [*FORENSICS, "ingest", str(args.data / "events"), "--store", str(store)]
    ingest += ["--accounts", str(args.data / "accounts.csv")]
    rows.append(stage("forensics ingest", ingest, "ingest.log"))
    rows.append(stage("forensics cluster", [*FORENSICS, "cluster", str(store)], "cluster.log"))
    html = str(args.work / "report.html")
    report = [*FORENSICS, "report", str(store), "--format", "html", "--output", html]
    rows.append(stage("forensics report --format html", report, "report.log"))
    pipeline = [r for r in rows if str(r["stage"]).startswith("forensics")]
    total = {
        "stage": "ingest + cluster + report",
        "wall_s": round(sum(float(r["wall_s"]) for r in pipeline), 1),
        "cpu_s": round(sum(float(r["cpu_s"]) for r in pipeline), 1),
        "peak_rss_gb": max(float(r["peak_rss_gb"]) for r in pipeline),
        "load": "",
    }
    rows.append(total)
    manifest = json.loads((store / "manifest.json").read_text())
    ingested = sum(rec.get("rows_ingested", 0) for rec in manifest["inputs"])
    print(f"input: {len(events)} files, {size_gb:.1f} GB, {ingested:,} events ingested")
    print(f"{'stage':<34} {'wall s':>8} {'cpu s':>8} {'peak RSS GB':>12} {'load':>6}")
    for r in rows:
        print(
            f"{r['stage']:<34} {r['wall_s']:>8} {r['cpu_s']:>8} {r['peak_rss_gb']:>12} "
            f"{r['load']:>6}"
        )
    print("cluster stages (seconds, from its stderr):")
    # the log wraps long lines: a line not starting "cluster:" continues the one before
    text = (args.work / "cluster.log").read_text(errors="replace")
    for line in re.sub(r" *\n(?!cluster:) *", " ", text).splitlines():
        if re.search(r"\(\d+(\.\d+)?s(, [\d.]+ cpu-s)?(, peak [\d.]+ GB)?\)$", line):
            print(f"  {line.removeprefix('cluster: ')}")
    met = total["wall_s"] <= 600 and total["peak_rss_gb"] <= 8
    print(f"target: wall <= 600 s, peak RSS <= 8 GB -> {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
