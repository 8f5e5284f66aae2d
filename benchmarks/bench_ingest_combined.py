"""Combined-log ingest throughput against GoAccess, on the same file, in the same run.

Makes (once, cached) a realistic 1M-line nginx combined log: IPv4, IPv6 and host-name
clients, browser / SDK / bot user agents, API and static paths, query strings, escaped
quotes, several time zones. Then times, several repetitions each (alternating):

* ``forensics ingest FILE --store TMP --format combined --map account_id=src_ip --quiet``
  (the whole pipeline as a user runs it: parse, normalise, validate, dedup, write Parquet),
  when the ingest command exists;
* the combined reader alone (parse to polars frames, in process);
* ``goaccess FILE --log-format=COMBINED -o report.json`` (GoAccess parses every line and
  writes its full JSON report; ``--no-global-config`` so no local config changes it).

Prints medians and lines/s, and the ratio to GoAccess (target: >= 4x).

    .venv/bin/python benchmarks/bench_ingest_combined.py [--lines 1000000] [--reps 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from forensics.ingest.base import ReaderOptions
from forensics.ingest.combined import CombinedLogReader

REPO = Path(__file__).resolve().parent.parent
FORENSICS = [sys.executable, "-m", "forensics"]

USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "OpenAI/Python 1.40.0",
    "openai-python/1.3.7",
    "AsyncOpenAI/Python 1.51.2",
    "anthropic-sdk-python/0.34.0",
    "python-requests/2.31.0",
    "curl/8.4.0",
    "Go-http-client/2.0",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    'Mozilla/5.0 (compatible; \\"evil\\" scanner/1.0)',
    "-",
]
PATHS = [
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/models",
    "/v1/messages",
    "/v1/chat/completions?stream=true",
    "/healthz",
    "/static/app.3f9a1c.js",
    "/static/logo.png",
    "/favicon.ico",
    "/wp-login.php",
    "/.env",
    "/api/v2/users/12345/usage?from=2024-01-01&to=2024-01-31",
]
METHODS = ["POST"] * 6 + ["GET"] * 3 + ["HEAD", "OPTIONS"]
STATUSES = [200] * 30 + [201, 204, 301, 304, 400, 401, 403, 404, 404, 429, 429, 500, 502, 503]
REFERERS = ["-", "-", "-", "https://chat.example.com/", "https://www.google.com/search?q=llm"]
ZONES = ["+0000", "+0000", "-0700", "+0100", "+0530"]
HOSTS = ["dial-up-12.isp.example.net", "proxy3.corp.example.com", "crawl-66-249-66-1.googlebot.com"]


def make_log(path: Path, lines: int, seed: int = 7) -> None:
    """Write a realistic combined log with ``lines`` lines (vectorised, a few seconds)."""
    rng = np.random.default_rng(seed)
    n = lines
    v4 = pl.Series(
        [f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.integers(1, 255, size=(min(n, 50_000), 4))]
    )
    v6 = pl.Series(
        [f"2001:db8:{a:x}:{b:x}::{c:x}" for a, b, c in rng.integers(0, 65535, (5000, 3))]
    )
    kind = rng.random(n)
    v4_pick = v4.gather(rng.integers(0, len(v4), n))
    v6_pick = v6.gather(rng.integers(0, len(v6), n))
    host_pick = pl.Series(HOSTS).gather(rng.integers(0, len(HOSTS), n))
    base = np.datetime64("2024-03-01T00:00:00") + np.sort(rng.integers(0, 30 * 86400, n)).astype(
        "timedelta64[s]"
    )
    frame = pl.DataFrame(
        {
            "kind": kind,
            "v4": v4_pick,
            "v6": v6_pick,
            "host": host_pick,
            "t": pl.Series(base.astype("datetime64[us]")),
            "zone": pl.Series(ZONES).gather(rng.integers(0, len(ZONES), n)),
            "method": pl.Series(METHODS).gather(rng.integers(0, len(METHODS), n)),
            "path": pl.Series(PATHS).gather(rng.integers(0, len(PATHS), n)),
            "status": pl.Series(STATUSES).gather(rng.integers(0, len(STATUSES), n)),
            "bytes": rng.integers(0, 200_000, n),
            "referer": pl.Series(REFERERS).gather(rng.integers(0, len(REFERERS), n)),
            "ua": pl.Series(USER_AGENTS).gather(rng.integers(0, len(USER_AGENTS), n)),
        }
    )
    client = (
        pl.when(pl.col("kind") < 0.8)
        .then("v4")
        .when(pl.col("kind") < 0.95)
        .then("v6")
        .otherwise("host")
    )
    text = frame.select(
        pl.concat_str(
            client,
            pl.lit(" - - ["),
            pl.col("t").dt.strftime("%d/%b/%Y:%H:%M:%S"),
            pl.lit(" "),
            "zone",
            pl.lit('] "'),
            "method",
            pl.lit(" "),
            "path",
            pl.lit(' HTTP/1.1" '),
            pl.col("status").cast(pl.String),
            pl.lit(" "),
            pl.col("bytes").cast(pl.String),
            pl.lit(' "'),
            "referer",
            pl.lit('" "'),
            "ua",
            pl.lit('"'),
        ).alias("line")
    )
    tmp = path.with_suffix(".tmp")
    text.write_csv(tmp, include_header=False, quote_style="never")
    tmp.replace(path)


Timing = tuple[float, float]  # (wall seconds, CPU seconds: user + system, all threads)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_timed(cmd: list[str], **kwargs) -> Timing:
    """Wall and CPU time of one subprocess (CPU time is robust to a busy machine)."""
    cpu0, start = _children_cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, **kwargs)
    return time.perf_counter() - start, _children_cpu() - cpu0


def time_reader(path: Path) -> tuple[Timing, int]:
    cpu0, start = time.process_time(), time.perf_counter()
    rows = 0
    with open(path, "rb") as fh:
        for batch in CombinedLogReader().read(fh, ReaderOptions()):
            rows += batch.frame.height
    return (time.perf_counter() - start, time.process_time() - cpu0), rows


def has_ingest_command() -> bool:
    probe = subprocess.run([*FORENSICS, "ingest", "--help"], capture_output=True, cwd=REPO)
    return probe.returncode == 0


def time_ingest(path: Path, work: Path) -> Timing:
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    cmd = [
        *FORENSICS,
        "ingest",
        str(path),
        "--store",
        str(store),
        "--format",
        "combined",
        "--map",
        "account_id=src_ip",
        "--quiet",
    ]
    return run_timed(cmd, cwd=REPO, stdout=subprocess.DEVNULL)


def time_goaccess(path: Path, work: Path) -> tuple[Timing, int]:
    report = work / "goaccess.json"
    cmd = [
        "goaccess",
        str(path),
        "--log-format=COMBINED",
        "--no-global-config",
        "--no-progress",
        "-o",
        str(report),
    ]
    elapsed = run_timed(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    general = json.loads(report.read_text())["general"]
    return elapsed, int(general["valid_requests"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "forensics-bench"
    )
    args = parser.parse_args()

    args.cache.mkdir(parents=True, exist_ok=True)
    log = args.cache / f"combined-{args.lines}.log"
    if not log.exists():
        print(f"making {log} ...", file=sys.stderr)
        make_log(log, args.lines)
    size_mb = log.stat().st_size / 1e6
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, polars {pl.__version__}"
    )
    print(
        f"input: {log} ({args.lines:,} lines, {size_mb:.0f} MB), {args.reps} repetitions, medians"
    )

    results: dict[str, list[Timing]] = {}
    goaccess_name = "goaccess --log-format=COMBINED -o json"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # Alternate the contenders within each repetition, so a change of load on a shared
        # machine falls on all of them alike.
        has_ingest, has_goaccess = has_ingest_command(), shutil.which("goaccess") is not None
        reader, ingest, goaccess = [], [], []
        for _ in range(args.reps):
            reader.append(time_reader(log))
            if has_ingest:
                ingest.append(time_ingest(log, work))
            if has_goaccess:
                goaccess.append(time_goaccess(log, work))
        assert all(rows == args.lines for _, rows in reader), "reader lost lines"
        results["forensics combined reader (parse only)"] = [t for t, _ in reader]
        if has_ingest:
            results["forensics ingest (CLI, full pipeline)"] = ingest
        else:
            print("forensics ingest command not available: timing the reader only")
        if has_goaccess:
            valid = goaccess[0][1]
            if valid != args.lines:
                print(
                    f"note: GoAccess counted {valid:,} of {args.lines:,} lines as valid "
                    "(it refuses host-name clients, which we keep)"
                )
            results[goaccess_name] = [t for t, _ in goaccess]
        else:
            print("goaccess not installed (apt-get install goaccess): no baseline")

    medians = {
        name: (statistics.median(w for w, _ in ts), statistics.median(c for _, c in ts))
        for name, ts in results.items()
    }
    base = medians.get(goaccess_name)
    print(
        f"{'what':42} {'wall s':>7} {'lines/s':>10} {'x GoAcc':>7}"
        f" {'CPU s':>7} {'lines/CPU-s':>11} {'x GoAcc':>7}"
    )
    for name, (wall, cpu) in medians.items():
        ratio_wall = f"{base[0] / wall:7.1f}" if base else f"{'-':>7}"
        ratio_cpu = f"{base[1] / cpu:7.1f}" if base else f"{'-':>7}"
        print(
            f"{name:42} {wall:7.2f} {args.lines / wall:10,.0f} {ratio_wall}"
            f" {cpu:7.2f} {args.lines / cpu:11,.0f} {ratio_cpu}"
        )
    print(f"load average at the end of the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
