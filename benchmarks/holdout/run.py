"""Run the hold-out benchmark: generate each family x seed, then use the real CLI on it.

For every dataset: `forensics ingest`, `forensics cluster`, `forensics evaluate --json`, each
a separate process, timed (wall seconds and peak RSS). Prints a table of account-level
precision / recall / F1, rings found vs true, and the false-positive rate of each benign
kind; `--json` prints one JSON document instead.

    python benchmarks/holdout/run.py --families mixed,prompt_only --seeds 1,2,3 --scale 1
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
from generate import FAMILIES, generate

BENIGN_ORDER = (
    "benign",
    "heavy_user",
    "shared_nat",
    "prompt_app",
    "enterprise",
    "ci_bots",
    "vpn_user",
    "research_lab",
    "classroom",
    "hackathon",
)


def find_cli() -> list[str]:
    """The `forensics` next to this interpreter (the project venv), else the one on PATH."""
    local = Path(sys.executable).with_name("forensics")
    if local.exists():
        return [str(local)]
    found = shutil.which("forensics")
    if not found:
        raise SystemExit("run.py: cannot find the `forensics` command; activate the venv")
    return [found]


def snapshot(rev: str, dest: Path) -> str:
    """Export the package as of git revision `rev` into dest; return the full commit hash.

    Other engineers edit the shared working tree while a benchmark runs; running the CLI
    from a snapshot ties the figures to one commit.
    """
    repo = Path(__file__).resolve().parents[2]
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", commit, "forensics"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return commit


def run_stage(
    argv: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> dict[str, Any]:
    """Run one CLI stage; wall time, peak RSS (MiB), exit code, stdout and stderr's tail."""
    out_path, err_path = log.parent / f"{log.name}.out", log.parent / f"{log.name}.err"
    t0 = time.perf_counter()
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    err_text = err_path.read_text(errors="replace").strip()
    return {
        "argv": argv,
        "rc": proc.returncode,
        "seconds": round(seconds, 2),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux: ru_maxrss is in KiB
        "stdout": out_path.read_text(errors="replace"),
        "stderr_tail": err_text.splitlines()[-1] if err_text else "",
    }


def own_metrics(store: Path, truth_csv: Path) -> dict[str, Any]:
    """Fallback scoring straight from STORE/rings/members.parquet, when `evaluate` fails.

    Same definitions as `forensics evaluate`: flagged = member of any ring; positive = a
    non-empty ring_id in the truth.
    """
    truth = pl.read_csv(truth_csv, schema_overrides={"ring_id": pl.String}).with_columns(
        pl.col("ring_id").replace("", None)
    )
    members = pl.read_parquet(store / "rings" / "members.parquet")
    j = truth.join(
        members.select("account_id", pl.col("ring_id").alias("found")), on="account_id", how="left"
    )
    pos, flag = pl.col("ring_id").is_not_null(), pl.col("found").is_not_null()
    c = j.select(tp=(pos & flag).sum(), fp=(~pos & flag).sum(), fn=(pos & ~flag).sum()).row(
        0, named=True
    )
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    by_kind = j.filter(~pos).group_by("kind").agg(accounts=pl.len(), flagged=flag.sum())
    return {
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        "true_rings": truth["ring_id"].drop_nulls().n_unique(),
        "found_rings": members["ring_id"].n_unique(),
        "false_positive_rate_by_kind": {
            r["kind"]: {
                "accounts": r["accounts"],
                "flagged": r["flagged"],
                "rate": r["flagged"] / r["accounts"],
            }
            for r in by_kind.iter_rows(named=True)
        },
        "source": "run.py fallback (members.parquet)",
    }


def run_one(
    cli: list[str],
    family: str,
    seed: int,
    scale: float,
    work: Path,
    cluster_args: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> dict[str, Any]:
    """Generate one dataset and push it through ingest, cluster and evaluate."""
    data, store = work / f"{family}-{seed}", work / f"{family}-{seed}.store"
    shutil.rmtree(store, ignore_errors=True)
    t0 = time.perf_counter()
    summary = generate(data, seed, family, scale)
    row: dict[str, Any] = {
        "family": family,
        "seed": seed,
        "scale": scale,
        "accounts": summary["accounts"],
        "events": summary["events"],
        "ring_accounts": summary["ring_accounts"],
        "true_rings": summary["rings"],
        "timings": {"generate_s": round(time.perf_counter() - t0, 2)},
        "peak_rss_mib": {},
    }
    stages = [
        (
            "ingest",
            [
                *cli,
                "ingest",
                str(data / "events.jsonl"),
                "--store",
                str(store),
                "--accounts",
                str(data / "accounts.csv"),
            ],
        ),
        ("cluster", [*cli, "cluster", str(store), *cluster_args]),
        ("evaluate", [*cli, "evaluate", str(store), "--truth", str(data / "truth.csv"), "--json"]),
    ]
    for name, argv in stages:
        res = run_stage(argv, work / f"{family}-{seed}.{name}", env, cwd)
        row["timings"][f"{name}_s"] = res["seconds"]
        row["peak_rss_mib"][name] = res["peak_rss_mib"]
        if res["rc"] != 0:
            row["error"] = f"{name} exited {res['rc']}: {res['stderr_tail'][:200]}"
            break
        if name == "ingest":
            inputs = json.loads((store / "manifest.json").read_text()).get("inputs", [])
            row["rows_ingested"] = sum(i.get("rows_ingested", 0) for i in inputs)
            row["rows_quarantined"] = sum(i.get("rows_quarantined", 0) for i in inputs)
        if name == "evaluate":
            row["metrics"] = json.loads(res["stdout"])
    if "metrics" not in row and (store / "rings" / "members.parquet").exists():
        row["metrics"] = own_metrics(store, data / "truth.csv")
    return row


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def render(rows: list[dict[str, Any]], per_ring: bool = False) -> str:
    """The results as plain-text tables: detection, FPR per benign kind, and (per_ring)
    each true ring's recall and best Jaccard match."""
    head = (
        f"{'family':<12} {'seed':>4} {'accts':>6} {'events':>7} {'prec':>6} {'recall':>6} "
        f"{'F1':>6} {'rings f/t':>9} {'gen_s':>6} {'ing_s':>6} {'clu_s':>6} "
        f"{'clu_MiB':>7}"
    )
    lines = [head, "-" * len(head)]
    kinds: list[str] = []
    for r in rows:
        m = r.get("metrics") or {}
        t = r["timings"]
        rings = f"{m.get('found_rings', '-')}/{r['true_rings']}"
        lines.append(
            f"{r['family']:<12} {r['seed']:>4} {r['accounts']:>6} {r['events']:>7} "
            f"{_f(m.get('precision')):>6} {_f(m.get('recall')):>6} {_f(m.get('f1')):>6} "
            f"{rings:>9} {t.get('generate_s', 0):>6.1f} {t.get('ingest_s', 0):>6.1f} "
            f"{t.get('cluster_s', 0):>6.1f} {r['peak_rss_mib'].get('cluster', 0):>7.0f}"
        )
        if "error" in r:
            lines.append(f"  ! {r['error']}")
        if r.get("rows_ingested", r["events"]) != r["events"]:
            lines.append(
                f"  ! ingest kept {r['rows_ingested']} of {r['events']} events "
                f"({r.get('rows_quarantined', 0)} quarantined)"
            )
        for k in m.get("false_positive_rate_by_kind") or {}:
            if k not in kinds:
                kinds.append(k)
    kinds.sort(key=lambda k: (BENIGN_ORDER.index(k) if k in BENIGN_ORDER else 99, k))
    if kinds:
        lines += ["", "false-positive rate per benign kind (flagged/accounts)"]
        head2 = f"{'family':<12} {'seed':>4} " + " ".join(f"{k:>12}" for k in kinds)
        lines += [head2, "-" * len(head2)]
        for r in rows:
            fpr = (r.get("metrics") or {}).get("false_positive_rate_by_kind") or {}
            cells = [
                f"{fpr[k]['flagged']}/{fpr[k]['accounts']}" if k in fpr else "-" for k in kinds
            ]
            lines.append(f"{r['family']:<12} {r['seed']:>4} " + " ".join(f"{c:>12}" for c in cells))
    if per_ring:
        lines += [
            "",
            "true rings: flagged members and best-matching found ring",
            f"{'family':<12} {'seed':>4} {'ring':>5} {'size':>5} {'flagged':>7} "
            f"{'jaccard':>7} {'split':>5}",
        ]
        for r in rows:
            for t in (r.get("metrics") or {}).get("rings") or []:
                lines.append(
                    f"{r['family']:<12} {r['seed']:>4} {t['ring_id']:>5} {t['size']:>5} "
                    f"{t['flagged']:>7} {t['jaccard']:>7.3f} {t['split_into']:>5}"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--families",
        nargs="+",
        default=list(FAMILIES),
        help=f"names, comma- or space-separated, from {', '.join(FAMILIES)}",
    )
    ap.add_argument("--seeds", nargs="+", default=["1,2,3"], help="seeds, e.g. 1,2,3")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--work", type=Path, help="keep datasets and stores here (default: temp)")
    ap.add_argument("--json", action="store_true", help="print one JSON document")
    ap.add_argument("--per-ring", action="store_true", help="also print every true ring")
    ap.add_argument(
        "--commit",
        help="run the CLI from this git revision's `forensics/` (exported to the work dir), "
        "not from the shared working tree",
    )
    ap.add_argument(
        "--forensics",
        help="command that runs the CLI, e.g. 'python -m forensics' (default: the venv's)",
    )
    ap.add_argument(
        "--cluster-arg",
        action="append",
        default=[],
        help="extra argument for `forensics cluster` (repeatable)",
    )
    ap.add_argument(
        "--render", type=Path, help="print the tables of a saved --json result and exit"
    )
    args = ap.parse_args(argv)
    if args.render:
        saved = json.loads(args.render.read_text())
        print(f"commit {saved.get('commit') or 'working tree'}, scale {saved['scale']}")
        print(render(saved["runs"], args.per_ring))
        return 0
    families = [f for arg in args.families for f in arg.split(",") if f]
    bad = [f for f in families if f not in FAMILIES]
    if bad:
        ap.error(f"unknown families: {', '.join(bad)}")
    try:
        seeds = [int(s) for arg in args.seeds for s in arg.split(",") if s]
    except ValueError:
        ap.error("--seeds takes integers, e.g. 1,2,3")
    cli = shlex.split(args.forensics) if args.forensics else find_cli()
    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="holdout-")
        work = Path(tmp.name)
    else:
        work = args.work.resolve()
        work.mkdir(parents=True, exist_ok=True)
    env, cwd, commit = None, None, None
    if args.commit:
        cwd = work / "snapshot"
        shutil.rmtree(cwd, ignore_errors=True)
        cwd.mkdir()
        commit = snapshot(args.commit, cwd)
        env = {**os.environ, "PYTHONPATH": str(cwd)}
        cli = [sys.executable, "-m", "forensics"]
        print(f"holdout: running forensics from commit {commit[:12]}", file=sys.stderr)
    rows = []
    try:
        for family in families:
            for seed in seeds:
                print(f"holdout: {family} seed {seed} ...", file=sys.stderr, flush=True)
                rows.append(
                    run_one(cli, family, seed, args.scale, work, args.cluster_arg, env, cwd)
                )
    finally:
        if tmp is not None:
            tmp.cleanup()
    if args.json:
        print(json.dumps({"scale": args.scale, "commit": commit, "runs": rows}, default=str))
    else:
        print(render(rows, args.per_ring))
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
