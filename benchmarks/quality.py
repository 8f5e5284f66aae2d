"""Detection quality: simulate, ingest, cluster and evaluate every scenario x seed; print a table.

    .venv/bin/python benchmarks/quality.py [--scenarios evasive,traps,camouflage] [--seeds 1,2,3]
        [--scale 1.0] [--work /tmp/forensics-quality] [--holdout FAMILY,...] [--reuse]

Each row is one `forensics evaluate --json` run: account precision and recall, the worst
best-match Jaccard of any true ring, how many found rings merge true rings, and the worst
false-positive rate over the benign look-alike kinds. `--holdout` also runs the independent
generator in benchmarks/holdout/ (families: diverse_ops, prompt_only, infra_only,
slow_burn, lookalikes, mixed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FORENSICS = [sys.executable, "-m", "forensics"]


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return done.stdout


def _dataset(
    kind: str, name: str, seed: int, scale: float, work: Path, reuse: bool = False
) -> tuple[Path, Path, Path]:
    """(events input, accounts file, truth file) of a fresh dataset (or the last one, reused)."""
    out = work / f"{kind}-{name}-{seed}"
    events = out / ("events" if kind == "simulate" else "events.jsonl")
    if reuse and (out / "truth.csv").is_file():
        return events, out / "accounts.csv", out / "truth.csv"
    shutil.rmtree(out, ignore_errors=True)
    if kind == "simulate":
        _run(
            [*FORENSICS, "simulate", "--scenario", name, "--out", str(out), "--seed", str(seed),
             "--scale", str(scale)]
        )  # fmt: skip
        return out / "events", out / "accounts.csv", out / "truth.csv"
    _run(
        [sys.executable, str(REPO / "benchmarks/holdout/generate.py"), "--out", str(out),
         "--seed", str(seed), "--family", name, "--scale", str(scale)]
    )  # fmt: skip
    return out / "events.jsonl", out / "accounts.csv", out / "truth.csv"


def evaluate_one(
    kind: str, name: str, seed: int, scale: float, work: Path, reuse: bool = False
) -> dict:
    events, accounts, truth = _dataset(kind, name, seed, scale, work, reuse)
    store = work / f"store-{kind}-{name}-{seed}"
    if not (reuse and (store / "manifest.json").is_file()):
        shutil.rmtree(store, ignore_errors=True)
        _run(
            [*FORENSICS, "ingest", str(events), "--accounts", str(accounts), "--store",
             str(store), "-q"]
        )  # fmt: skip
    t = time.perf_counter()
    _run([*FORENSICS, "cluster", str(store), "--seed", str(seed)])
    cluster_s = time.perf_counter() - t
    result = json.loads(_run([*FORENSICS, "evaluate", str(store), "--truth", str(truth), "--json"]))
    fpr = result["false_positive_rate_by_kind"]
    rates = {k: v["rate"] for k, v in fpr.items() if k != "benign" and v["rate"] is not None}
    worst_kind = max(rates, key=rates.get) if rates and max(rates.values()) > 0 else "none"
    return {
        "data": f"{name} ({'holdout' if kind == 'holdout' else 'simulate'})",
        "seed": seed,
        "precision": result["precision"],
        "recall": result["recall"],
        "min_jaccard": min((r["jaccard"] for r in result["rings"]), default=None),
        "merges": len(result["merged_rings"]),
        "benign_fpr": fpr.get("benign", {}).get("rate"),
        "worst_lookalike": f"{worst_kind} {rates.get(worst_kind, 0.0):.4f}",
        "true_rings": result["true_rings"],
        "found_rings": result["found_rings"],
        "cluster_s": round(cluster_s, 1),
    }


def _fmt(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="evasive,traps,camouflage")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--holdout", default="", help="holdout families to run too")
    ap.add_argument("--work", default="/tmp/forensics-quality")
    ap.add_argument(
        "--reuse", action="store_true", help="reuse datasets and stores already in --work"
    )
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    jobs = [("simulate", s) for s in args.scenarios.split(",") if s]
    jobs += [("holdout", f) for f in args.holdout.split(",") if f]
    rows = []
    cols = ["data", "seed", "precision", "recall", "min_jaccard", "merges", "benign_fpr",
            "worst_lookalike", "true_rings", "found_rings", "cluster_s"]  # fmt: skip
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for kind, name in jobs:
        for seed in seeds:
            row = evaluate_one(kind, name, seed, args.scale, work, args.reuse)
            rows.append(row)
            print("| " + " | ".join(_fmt(row[c]) for c in cols) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
