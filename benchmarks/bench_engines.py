"""Time `forensics cluster` with both engines (local Polars, Spark) on copies of one store.

    .venv/bin/python benchmarks/bench_engines.py [--store /tmp/d2/camp_store]
        [--work /tmp/forensics-bench/engines] [--repeat 3] [--truth TRUTH.csv]
        [--spark-master URL] [--spark-conf k=v ...] [--shuffles] [--lock /tmp/forensics-bench.lock]

The store is copied twice (it is never written); each engine clusters its own copy, in its
own child process, `--repeat` times, in alternating order (local first, then spark first,
...), so that both engines meet the same machine load. For each run it prints:

* wall seconds until the command exits;
* CPU seconds (user + sys) of the whole process tree: the benchmark makes itself a child
  subreaper (Linux prctl), so processes that outlive their parent (the JVM, Spark's Python
  workers) are re-parented to it and reaped, and their CPU time lands in its
  RUSAGE_CHILDREN like the CLI's own;
* peak memory of the process tree: the sum of RSS (and PSS, which counts a page shared by
  several processes once) over every descendant, sampled every 0.2 s; the JVM's share; and
  the sum of each process's own peak (VmHWM), an upper bound the sampling cannot miss.

Then the medians, each engine's stage timings (run.json), whether each engine's rings are
the same in every repeat, and the ring-membership agreement of the two engines: flagged
accounts in common, co-member pairs in common, the adjusted Rand index of the two
partitions, and each local ring's best Spark match; with `--truth`, precision / recall of
both against the truth. `--shuffles` adds one untimed Spark run with Spark's event log on and
prints, for every shuffle exchange, the rows and bytes it moved (docs/scale.md).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "2")

import polars as pl  # noqa: E402
from bench_end_to_end import bench_lock  # noqa: E402

from forensics.evaluate import adjusted_rand_index, evaluate, read_members  # noqa: E402
from forensics.store import Store  # noqa: E402

FORENSICS = [sys.executable, "-m", "forensics"]
PR_SET_CHILD_SUBREAPER = 36
SAMPLE_S = 0.2


@dataclass
class Run:
    """One measured `forensics cluster` run."""

    engine: str
    wall: float
    cpu: float
    peak_rss: float  # bytes, sum over the tree at the sampled peak
    peak_pss: float
    peak_jvm_rss: float
    hwm_sum: float  # bytes, sum of each process's own peak RSS (VmHWM)
    processes: int
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at the start and the end
    timings: dict[str, float] = field(default_factory=dict)


def _become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process (Linux), so their CPU is counted."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit("prctl(PR_SET_CHILD_SUBREAPER) failed: this benchmark needs Linux")


def _descendants(root: int) -> list[int]:
    """Every live descendant of ``root`` (from /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _memory(pid: int) -> tuple[str, int, int, int] | None:
    """(command name, RSS, PSS, VmHWM) of a process in bytes, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as fh:
            comm = fh.read().strip()
        values: dict[str, int] = {}
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss"):
                    values[key] = int(rest.split()[0]) * 1024
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    values["hwm"] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return comm, values.get("Rss", 0), values.get("Pss", 0), values.get("hwm", 0)


class _TreeSampler(threading.Thread):
    """Samples the memory of this process's descendants until stopped."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak_rss = self.peak_pss = self.peak_jvm = 0
        self.hwm: dict[int, int] = {}

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            rss = pss = jvm = 0
            for pid in _descendants(me):
                got = _memory(pid)
                if got is None:
                    continue
                comm, r, p, h = got
                rss, pss = rss + r, pss + p
                jvm += r if comm == "java" else 0
                self.hwm[pid] = max(self.hwm.get(pid, 0), h)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_jvm = max(self.peak_jvm, jvm)
            self.stop.wait(SAMPLE_S)


def _reap_orphans(grace_s: float = 60.0) -> None:
    """Wait for re-parented descendants to exit (and reap them); end stragglers after grace_s."""
    deadline = time.monotonic() + grace_s
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            continue
        if time.monotonic() > deadline:
            for straggler in _descendants(os.getpid()):  # only processes this run started
                with contextlib.suppress(ProcessLookupError):
                    os.kill(straggler, signal.SIGTERM)
            deadline = time.monotonic() + grace_s
        time.sleep(0.05)


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    engine: str,
    store: Path,
    extra: list[str],
    log: Path,
    lock: Path | None = None,
    target: str | None = None,
) -> Run:
    """`forensics cluster STORE --engine ENGINE` in a child process, measured as a tree.

    ``target`` names the store on the command line when it is not ``store``'s path (a URI
    of it: bench_remote_store.py); run.json is read from ``store``.
    """
    with bench_lock(str(lock) if lock else None):
        return _measure(engine, store, extra, log, target)


def _measure(engine: str, store: Path, extra: list[str], log: Path, target: str | None) -> Run:
    cmd = [*FORENSICS, "cluster", target or str(store), "--engine", engine, *extra]
    sampler = _TreeSampler()
    cpu0 = _cpu_children()
    load0 = os.getloadavg()[0]
    with open(log, "w") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        sampler.start()
        _pid, status, _usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
    _reap_orphans()
    sampler.stop.set()
    sampler.join()
    cpu = _cpu_children() - cpu0
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n" + "\n".join(tail))
    run_json = json.loads((store / "rings" / "run.json").read_text())
    return Run(
        engine=engine,
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


def copy_store(source: Path, target: Path) -> Path:
    """A fresh copy of the store's inputs (events, accounts, manifest); outputs left behind."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in ("manifest.json", "events", "accounts"):
        src = source / name
        if src.is_dir():
            shutil.copytree(src, target / name)
        elif src.is_file():
            shutil.copy2(src, target / name)
    return target


def _pairs(col: str = "len") -> pl.Expr:
    return (pl.col(col).cast(pl.Int64) * (pl.col(col).cast(pl.Int64) - 1) // 2).sum()


def agreement(local: pl.DataFrame, spark: pl.DataFrame) -> dict[str, object]:
    """How alike two ring memberships (ring_id, account_id) are, whatever the rings' names.

    Flagged accounts: |L n S| / |L u S|. Co-member pairs (two accounts in one ring), counted
    from the ring-by-ring overlap table without listing pairs: pairs in both = sum over
    (local ring, spark ring) of C(overlap, 2). ARI over the union of flagged accounts, an
    account flagged by one engine only being a singleton in the other's partition.
    """
    a = local.select("account_id", pl.col("ring_id").alias("ring_l"))
    b = spark.select("account_id", pl.col("ring_id").alias("ring_s"))
    both = a.join(b, on="account_id")
    n_l, n_s, n_both = a.height, b.height, both.height
    union = n_l + n_s - n_both
    pairs_l = a.group_by("ring_l").len().select(_pairs()).item() or 0
    pairs_s = b.group_by("ring_s").len().select(_pairs()).item() or 0
    pairs_both = both.group_by("ring_l", "ring_s").len().select(_pairs()).item() or 0
    pair_union = pairs_l + pairs_s - pairs_both
    labels = a.join(b, on="account_id", how="full", coalesce=True).select(
        pl.coalesce("ring_l", pl.lit("-") + pl.col("account_id")).alias("truth"),
        pl.coalesce("ring_s", pl.lit("-") + pl.col("account_id")).alias("found"),
    )
    sizes_l = a.group_by("ring_l").len("size_l")
    sizes_s = b.group_by("ring_s").len("size_s")
    best = (
        both.group_by("ring_l", "ring_s")
        .len("shared")
        .join(sizes_l, on="ring_l")
        .join(sizes_s, on="ring_s")
        .with_columns(
            (pl.col("shared") / (pl.col("size_l") + pl.col("size_s") - pl.col("shared"))).alias(
                "jaccard"
            )
        )
        .sort(["ring_l", "jaccard"], descending=[False, True])
        .group_by("ring_l", maintain_order=True)
        .first()
    )
    rings = sizes_l.join(best.drop("size_l"), on="ring_l", how="left").sort("ring_l")
    return {
        "rings": (a["ring_l"].n_unique(), b["ring_s"].n_unique()),
        "flagged": (n_l, n_s, n_both),
        "flagged_jaccard": n_both / union if union else 1.0,
        "pairs": (pairs_l, pairs_s, pairs_both),
        "pair_jaccard": pairs_both / pair_union if pair_union else 1.0,
        "ari": adjusted_rand_index(labels) if labels.height >= 2 else 1.0,
        "per_ring": rings.to_dicts(),
    }


def _members(store: Path) -> pl.DataFrame:
    return read_members(store).select("ring_id", "account_id").sort("account_id")


def _median_line(engine: str, runs: list[Run]) -> str:
    med = statistics.median
    return (
        f"  {engine:6s} median of {len(runs)}: {med(r.wall for r in runs):7.1f} s wall, "
        f"{med(r.cpu for r in runs):7.1f} s CPU, peak tree RSS "
        f"{med(r.peak_rss for r in runs) / 2**20:7,.0f} MiB (PSS "
        f"{med(r.peak_pss for r in runs) / 2**20:,.0f} MiB)"
    )


# --- Spark's event log: what each shuffle moved ------------------------------------------


@dataclass
class Exchange:
    """One shuffle or broadcast of a Spark run, with the Spark action (call site) it ran for."""

    kind: str  # Exchange (a shuffle) or BroadcastExchange
    plan: str  # e.g. "Exchange hashpartitioning(account_id#52, 8), REPARTITION_BY_COL"
    below: str  # the plan node whose rows are exchanged
    execution: int
    metrics: dict[str, int]  # metric name -> accumulator id
    rows: float | None = None
    data_size: float | None = None  # Spark's in-memory (UnsafeRow) size
    bytes_written: float | None = None  # serialised and compressed: what crosses the network


def _walk(node: dict, execution: int, out: dict[int, Exchange]) -> None:
    """The exchanges of a plan tree, keyed by an accumulator id (each exchange once)."""
    name = node.get("nodeName", "")
    if name in ("Exchange", "BroadcastExchange"):
        metrics = {m["name"]: m["accumulatorId"] for m in node.get("metrics", [])}
        key = metrics.get("shuffle bytes written") or metrics.get("data size")
        child = node["children"][0] if node.get("children") else {}
        # the first node below the exchange that says what is exchanged
        while child.get("nodeName", "").startswith(("WholeStageCodegen", "InputAdapter")):
            child = child["children"][0] if child.get("children") else {}
        if key is not None and key not in out:
            out[key] = Exchange(
                name,
                node.get("simpleString", ""),
                child.get("simpleString", ""),
                execution,
                metrics,
            )
    for sub in node.get("children", []):
        _walk(sub, execution, out)


@dataclass
class EventLog:
    """What one Spark application's event log says about data movement."""

    exchanges: list[Exchange]
    actions: dict[int, str]  # SQL execution id -> its Python call site ("toArrow at views.py:121")
    to_driver: dict[int, float]  # SQL execution id -> task result bytes sent to the driver
    input_bytes: float  # read by tasks: store files, and cached frames read back
    input_records: float


def read_event_log(log_dir: Path) -> EventLog:
    """Parse Spark's (uncompressed) event log files under ``log_dir``."""
    files = sorted(p for p in log_dir.rglob("*") if p.is_file() and "events" in p.name)
    found: dict[int, Exchange] = {}
    values: dict[int, float] = {}
    actions: dict[int, str] = {}
    to_driver: dict[int, float] = {}
    stage_execution: dict[int, int] = {}
    input_bytes = input_records = 0.0
    for path in files:
        with open(path) as fh:
            for line in fh:
                event = json.loads(line)
                kind = event.get("Event", "")
                if kind.endswith(("SQLExecutionStart", "SQLAdaptiveExecutionUpdate")):
                    execution = int(event["executionId"])
                    if "description" in event:
                        where = event["description"].split(" at ")
                        actions[execution] = (
                            f"{where[0]} at {Path(where[1]).name}" if len(where) == 2 else where[0]
                        )
                    _walk(event["sparkPlanInfo"], execution, found)
                elif kind == "SparkListenerJobStart":
                    execution = (event.get("Properties") or {}).get("spark.sql.execution.id")
                    for stage in event.get("Stage IDs", []):
                        if execution is not None:
                            stage_execution[stage] = int(execution)
                elif kind == "SparkListenerStageCompleted":
                    for acc in event["Stage Info"].get("Accumulables", []):
                        with contextlib.suppress(TypeError, ValueError):
                            values[int(acc["ID"])] = float(acc["Value"])
                elif kind.endswith("SparkListenerDriverAccumUpdates"):
                    for acc_id, value in event.get("accumUpdates", []):
                        values[int(acc_id)] = float(value)
                elif kind == "SparkListenerTaskEnd":
                    metrics = event.get("Task Metrics") or {}
                    execution = stage_execution.get(event.get("Stage ID"), -1)
                    to_driver[execution] = to_driver.get(execution, 0) + metrics.get(
                        "Result Size", 0
                    )
                    read = metrics.get("Input Metrics", {})
                    input_bytes += read.get("Bytes Read", 0)
                    input_records += read.get("Records Read", 0)
    exchanges = []
    for ex in found.values():
        m = ex.metrics
        ex.rows = values.get(m.get("shuffle records written", -1))
        if ex.rows is None:
            ex.rows = values.get(m.get("number of output rows", -1))
        ex.data_size = values.get(m.get("data size", -1))
        ex.bytes_written = values.get(m.get("shuffle bytes written", -1))
        if ex.rows is not None or ex.data_size is not None:  # it ran (not a replanned one)
            exchanges.append(ex)
    return EventLog(exchanges, actions, to_driver, input_bytes, input_records)


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def print_shuffles(log_dir: Path, events: int, accounts: int) -> None:
    """The exchanges of one Spark run by the action they ran for, per event and per account."""
    log = read_event_log(log_dir)
    print(f"\nshuffles of one spark run (event log {log_dir}):")
    print(
        f"  read by tasks: {log.input_bytes / 2**20:,.1f} MiB, {log.input_records:,.0f} records "
        f"(store files and cached frames read back); sent to the driver: "
        f"{sum(log.to_driver.values()) / 2**20:,.1f} MiB of task results"
    )
    shuffled = written = broadcast = 0.0
    executions = sorted({ex.execution for ex in log.exchanges} | set(log.to_driver))
    for execution in executions:
        mine = [ex for ex in log.exchanges if ex.execution == execution]
        result = log.to_driver.get(execution, 0.0)
        if not mine and result < 2**20:
            continue
        print(
            f"  [{execution}] {log.actions.get(execution, 'no SQL action')}: "
            f"{result / 2**20:,.1f} MiB of results to the driver"
        )
        for ex in mine:
            rows, size, wrote = ex.rows or 0, ex.data_size or 0, ex.bytes_written or 0
            if ex.kind == "BroadcastExchange":
                broadcast += size
                print(
                    f"      broadcast {rows:>12,.0f} rows, hash relation {size / 2**20:7,.1f} MiB"
                    f"  {_short(ex.below, 90)}"
                )
                continue
            shuffled += size
            written += wrote
            print(
                f"      shuffle   {rows:>12,.0f} rows, {size / 2**20:7,.1f} MiB in memory, "
                f"{wrote / 2**20:7,.1f} MiB written ({wrote / max(rows, 1):6.1f} B/row, "
                f"{wrote / accounts:7,.0f} B/account)  {_short(ex.plan, 70)}"
            )
            print(f"{'':16s}of: {_short(ex.below, 130)}")
    print(
        f"  all shuffles: {shuffled / 2**20:,.1f} MiB in memory, {written / 2**20:,.1f} MiB "
        f"written: {written / events:,.1f} B/event, {written / accounts:,.0f} B/account "
        f"({events:,} events, {accounts:,} accounts); broadcast hash relations "
        f"{broadcast / 2**20:,.1f} MiB (as built in memory, sent to every executor)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default="/tmp/d2/camp_store", help="Store to copy (read only).")
    ap.add_argument("--work", default="/tmp/forensics-bench/engines")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--truth", default=None, help="truth.csv to score both engines against.")
    ap.add_argument("--spark-master", default=None)
    ap.add_argument("--spark-conf", action="append", default=[], metavar="K=V")
    ap.add_argument("--shuffles", action="store_true", help="Also report Spark's shuffles.")
    ap.add_argument(
        "--lock",
        default=None,
        help="Hold this file lock (e.g. /tmp/forensics-bench.lock) during each run, not between.",
    )
    args = ap.parse_args(argv)
    _become_subreaper()
    lock = Path(args.lock) if args.lock else None
    source, work = Path(args.store), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    stores = {e: copy_store(source, work / f"{e}_store") for e in ("local", "spark")}
    spark_extra = [] if args.spark_master is None else ["--spark-master", args.spark_master]
    for kv in args.spark_conf:
        spark_extra += ["--spark-conf", kv]
    extra = {"local": [], "spark": spark_extra}
    st = Store(stores["local"])
    events = st.scan_events().select(pl.len()).collect().item()
    accounts = st.scan_events().select(pl.col("account_id").n_unique()).collect().item()
    import pyspark  # the extra must be there: this benchmark compares the engines

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, python "
        f"{platform.python_version()}, polars {pl.__version__}, pyspark {pyspark.__version__}, "
        f"POLARS_MAX_THREADS={os.environ['POLARS_MAX_THREADS']}"
    )
    print(f"store: copies of {source} ({events:,} events, {accounts:,} accounts) in {work}")
    print(f"spark options: {' '.join(spark_extra) or '(none: local mode, local[*])'}")
    runs: dict[str, list[Run]] = {"local": [], "spark": []}
    memberships: dict[str, list[pl.DataFrame]] = {"local": [], "spark": []}
    for i in range(args.repeat):
        order = ("local", "spark") if i % 2 == 0 else ("spark", "local")
        for engine in order:
            log = work / f"{engine}_{i}.log"
            run = measure(engine, stores[engine], extra[engine], log, lock)
            runs[engine].append(run)
            memberships[engine].append(_members(stores[engine]))
            print(
                f"  run {i + 1} {engine:6s}: {run.wall:7.1f} s wall, {run.cpu:7.1f} s CPU, "
                f"peak tree RSS {run.peak_rss / 2**20:7,.0f} MiB (PSS "
                f"{run.peak_pss / 2**20:,.0f}, JVM {run.peak_jvm_rss / 2**20:,.0f}, sum of "
                f"per-process peaks {run.hwm_sum / 2**20:,.0f} MiB, {run.processes} processes); "
                f"load {run.load[0]:.1f} -> {run.load[1]:.1f}",
                flush=True,
            )
    print("medians:")
    for engine in ("local", "spark"):
        print(_median_line(engine, runs[engine]))
    lw = statistics.median(r.wall for r in runs["local"])
    sw = statistics.median(r.wall for r in runs["spark"])
    print(f"  spark / local wall: {sw / lw:.2f}x")
    for engine in ("local", "spark"):
        timing = runs[engine][-1].timings
        stages = ", ".join(
            f"{k[:-2]} {v:.1f}" for k, v in timing.items() if k.endswith("_s") and "cpu" not in k
        )
        print(f"  {engine} stages of the last run (wall s): {stages}")
        same = all(m.equals(memberships[engine][0]) for m in memberships[engine])
        print(f"  {engine}: same rings in every repeat: {same}")
    agree = agreement(memberships["local"][-1], memberships["spark"][-1])
    (nl, ns, nb), (pl_, ps, pb) = agree["flagged"], agree["pairs"]
    print(
        f"agreement (last runs): rings {agree['rings'][0]} local / {agree['rings'][1]} spark; "
        f"flagged {nl:,} / {ns:,}, {nb:,} in both (Jaccard {agree['flagged_jaccard']:.4f}); "
        f"co-member pairs {pl_:,} / {ps:,}, {pb:,} in both (Jaccard {agree['pair_jaccard']:.4f}); "
        f"ARI {agree['ari']:.4f}"
    )
    for ring in agree["per_ring"]:
        jac = ring["jaccard"]
        print(
            f"  local {ring['ring_l']} ({ring['size_l']}) -> spark {ring['ring_s']} "
            f"({ring['size_s']}), Jaccard {jac:.4f}"
            if jac is not None
            else f"  local {ring['ring_l']} ({ring['size_l']}) -> no spark ring"
        )
    if args.truth:
        for engine in ("local", "spark"):
            res = evaluate(stores[engine], args.truth)
            print(
                f"  {engine} against the truth: precision {res['precision']:.4f}, recall "
                f"{res['recall']:.4f}, ARI {res['adjusted_rand_index']:.4f}, "
                f"{res['found_rings']} rings"
            )
    if args.shuffles:
        log_dir = work / "eventlog"
        shutil.rmtree(log_dir, ignore_errors=True)
        log_dir.mkdir(parents=True)
        conf = [
            "--spark-conf", "spark.eventLog.enabled=true",
            "--spark-conf", f"spark.eventLog.dir=file://{log_dir.resolve()}",
            "--spark-conf", "spark.eventLog.compress=false",
        ]  # fmt: skip
        measure("spark", stores["spark"], [*spark_extra, *conf], work / "spark_eventlog.log", lock)
        print_shuffles(log_dir, events, accounts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
