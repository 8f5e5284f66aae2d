"""Score found rings against ground truth (a `truth.csv` written by `forensics simulate`).

Account level: an account is *flagged* when it is a member of any found ring
(``STORE/rings/members.parquet``) and *positive* when its truth ``ring_id`` is non-empty.
precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2TP / (2TP + FP + FN); a ratio whose
denominator is zero is reported as null (JSON) / "n/a" (table). Accounts that the store
flags but the truth file does not list count as false positives ("flagged_not_in_truth").

Ring level: for each true ring, the found ring with the highest Jaccard index
|T ∩ F| / |T ∪ F| (ties: the smaller ring id) and ``split_into``, the number of distinct
found rings holding at least one of its members; a found ring *merges* true rings when it
holds members of two or more distinct true rings; a found ring is *false* when it holds no
ring account at all (a benign group reported as a ring).

Adjusted Rand index (Hubert & Arabie): computed over the *ring-relevant accounts*, the
union of the truth's ring accounts and the flagged accounts. In the truth partition each ring
account is labelled by its true ring and every other account is a singleton; in the found
partition each flagged account is labelled by its found ring and every other account is a
singleton. So ARI = 1 only when exactly the true rings are found, and it falls with misses,
false positives, splits and merges. ARI = (Σ C(n_ij,2) − A·B/N) / (½(A+B) − A·B/N) with
A = Σ C(a_i,2), B = Σ C(b_j,2), N = C(n,2); when the denominator is zero both partitions are
trivially identical (all singletons or one block) and ARI = 1; with fewer than two accounts
it is null.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import polars as pl

from forensics.errors import ForensicsError
from forensics.schema import TRUTH_SCHEMA
from forensics.store import Store

ARI_ACCOUNT_SET = (
    "union of truth ring accounts and flagged accounts; non-ring / unflagged accounts are "
    "singletons in the truth / found partition"
)


def read_truth(path: str | Path) -> pl.DataFrame:
    """truth.csv as a frame (account_id, ring_id, kind); an empty ring_id becomes null."""
    path = Path(path)
    if not path.is_file():
        raise ForensicsError(f"truth file {path} does not exist")
    try:
        truth = pl.read_csv(path, schema_overrides=TRUTH_SCHEMA, infer_schema_length=0)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ForensicsError(f"truth file {path} is unreadable: {exc}") from None
    missing = [c for c in TRUTH_SCHEMA if c not in truth.columns]
    if missing:
        raise ForensicsError(f"truth file {path} lacks column(s): {', '.join(missing)}")
    truth = truth.select(
        pl.col("account_id").cast(pl.String),
        pl.when(pl.col("ring_id").str.strip_chars() == "")
        .then(None)
        .otherwise(pl.col("ring_id"))
        .cast(pl.String)
        .alias("ring_id"),
        pl.col("kind").cast(pl.String).fill_null("benign"),
    ).filter(pl.col("account_id").is_not_null())
    if truth["account_id"].is_duplicated().any():
        raise ForensicsError(f"truth file {path} lists an account more than once")
    return truth


def read_members(store_path: str | Path) -> pl.DataFrame:
    """The store's ring members (ring_id, account_id), one row per account."""
    store = Store(store_path)
    store.require()
    if not store.ring_members_path.is_file():
        raise ForensicsError(
            f"store {store.root} has no rings yet; run `forensics cluster {store.root}` first"
        )
    try:
        members = pl.read_parquet(store.ring_members_path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ForensicsError(f"{store.ring_members_path} is unreadable: {exc}") from None
    if "ring_id" not in members.columns or "account_id" not in members.columns:
        raise ForensicsError(f"{store.ring_members_path} lacks ring_id/account_id columns")
    if "score" not in members.columns:
        members = members.with_columns(pl.lit(0.0).alias("score"))
    # One ring per account; should an account appear twice, keep its strongest membership.
    return (
        members.select(
            pl.col("ring_id").cast(pl.String),
            pl.col("account_id").cast(pl.String),
            pl.col("score").cast(pl.Float64),
        )
        .drop_nulls(["ring_id", "account_id"])
        .sort(["account_id", "score", "ring_id"], descending=[False, True, False])
        .unique("account_id", keep="first", maintain_order=True)
    )


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _pairs(col: str) -> pl.Expr:
    return (pl.col(col) * (pl.col(col) - 1) // 2).sum()


def adjusted_rand_index(labels: pl.DataFrame) -> float | None:
    """ARI between columns ``truth`` and ``found`` (one row per account, no nulls)."""
    n = labels.height
    if n < 2:
        return None
    a = labels.group_by("truth").len().select(_pairs("len")).item()
    b = labels.group_by("found").len().select(_pairs("len")).item()
    nij = labels.group_by(["truth", "found"]).len().select(_pairs("len")).item()
    total = n * (n - 1) // 2
    expected = a * b / total
    denominator = (a + b) / 2 - expected
    if denominator == 0:
        return 1.0
    return (nij - expected) / denominator


def evaluate(store_path: str | Path, truth_path: str | Path) -> dict[str, Any]:
    """Compare the store's found rings with the truth file; return the metrics document."""
    return evaluate_members(read_members(store_path), read_truth(truth_path))


def evaluate_members(members: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    """The metrics document for found rings (ring_id, account_id) against a truth frame.

    ``truth`` is what `read_truth` returns; the library entry point for notebooks and
    benchmarks that cluster in memory (`forensics.rings.pipeline.find_rings`).
    """
    members = members.select(
        pl.col("ring_id").cast(pl.String), pl.col("account_id").cast(pl.String)
    )
    joined = truth.join(
        members.select("account_id", pl.col("ring_id").alias("found_ring")),
        on="account_id",
        how="full",
        coalesce=True,
    ).with_columns(
        pl.col("kind").fill_null("not_in_truth"),
        pl.col("ring_id").is_not_null().alias("positive"),
        pl.col("found_ring").is_not_null().alias("flagged"),
    )
    counts = joined.select(
        tp=(pl.col("positive") & pl.col("flagged")).sum(),
        fp=(~pl.col("positive") & pl.col("flagged")).sum(),
        fn=(pl.col("positive") & ~pl.col("flagged")).sum(),
        tn=(~pl.col("positive") & ~pl.col("flagged")).sum(),
        unknown=((pl.col("kind") == "not_in_truth") & pl.col("flagged")).sum(),
    ).row(0, named=True)
    tp, fp, fn, tn = (int(counts[k]) for k in ("tp", "fp", "fn", "tn"))

    by_kind = (
        joined.filter(~pl.col("positive"))
        .group_by("kind")
        .agg(accounts=pl.len(), flagged=pl.col("flagged").sum())
        .sort("kind")
    )
    fpr_by_kind = {
        row["kind"]: {
            "accounts": int(row["accounts"]),
            "flagged": int(row["flagged"]),
            "rate": _ratio(int(row["flagged"]), int(row["accounts"])),
        }
        for row in by_kind.iter_rows(named=True)
    }

    # Ring agreement: overlaps between every true ring and every found ring.
    found_sizes = members.group_by("ring_id").agg(found_size=pl.len())
    true_sizes = truth.drop_nulls("ring_id").group_by("ring_id").agg(size=pl.len())
    overlap = (
        joined.filter(pl.col("positive") & pl.col("flagged"))
        .group_by(["ring_id", "found_ring"])
        .agg(shared=pl.len())
        .join(true_sizes, on="ring_id")
        .join(found_sizes, left_on="found_ring", right_on="ring_id")
        .with_columns(
            jaccard=pl.col("shared") / (pl.col("size") + pl.col("found_size") - pl.col("shared"))
        )
    )
    best = (
        overlap.sort(["ring_id", "jaccard", "found_ring"], descending=[False, True, False])
        .group_by("ring_id", maintain_order=True)
        .agg(
            best_found_ring=pl.col("found_ring").first(),
            jaccard=pl.col("jaccard").first(),
            flagged=pl.col("shared").sum(),
            split_into=pl.col("found_ring").n_unique(),
        )
    )
    true_rings = (
        true_sizes.join(best, on="ring_id", how="left")
        .with_columns(
            pl.col("jaccard").fill_null(0.0),
            pl.col("flagged").fill_null(0),
            pl.col("split_into").fill_null(0),
        )
        .sort("ring_id")
    )
    merged = (
        overlap.group_by("found_ring")
        .agg(
            true_rings=pl.col("ring_id").sort(),
            shared=pl.col("shared").sort_by("ring_id"),
            size=pl.col("found_size").first(),
        )
        .filter(pl.col("true_rings").list.len() >= 2)
        .sort("found_ring")
    )

    # Found rings holding no ring account at all: whole benign groups reported as rings.
    false_rings = (
        joined.filter(pl.col("flagged"))
        .group_by("found_ring")
        .agg(
            size=pl.len(),
            ring_accounts=pl.col("positive").sum(),
            kinds=pl.col("kind").value_counts(sort=True),
        )
        .filter(pl.col("ring_accounts") == 0)
        .sort("found_ring")
    )

    labels = joined.filter(pl.col("positive") | pl.col("flagged")).select(
        truth=pl.coalesce(pl.col("ring_id"), pl.lit("\x00") + pl.col("account_id")),
        found=pl.coalesce(pl.col("found_ring"), pl.lit("\x00") + pl.col("account_id")),
    )

    return {
        "accounts": {
            "in_truth": truth.height,
            "ring": int(truth["ring_id"].is_not_null().sum()),
            "benign": int(truth["ring_id"].is_null().sum()),
            "flagged": members.height,
            "flagged_not_in_truth": int(counts["unknown"]),
        },
        "true_rings": true_sizes.height,
        "found_rings": found_sizes.height,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "false_positive_rate_by_kind": fpr_by_kind,
        "rings": [
            {
                "ring_id": r["ring_id"],
                "size": int(r["size"]),
                "flagged": int(r["flagged"]),
                "best_found_ring": r["best_found_ring"],
                "jaccard": float(r["jaccard"]),
                "split_into": int(r["split_into"]),
            }
            for r in true_rings.iter_rows(named=True)
        ],
        "merged_rings": [
            {
                "found_ring": r["found_ring"],
                "size": int(r["size"]),
                "true_rings": dict(zip(r["true_rings"], map(int, r["shared"]), strict=True)),
            }
            for r in merged.iter_rows(named=True)
        ],
        "false_rings": [
            {
                "found_ring": r["found_ring"],
                "size": int(r["size"]),
                "kinds": {k["kind"]: int(k["count"]) for k in r["kinds"]},
            }
            for r in false_rings.iter_rows(named=True)
        ],
        "adjusted_rand_index": adjusted_rand_index(labels),
        "ari_accounts": labels.height,
        "ari_account_set": ARI_ACCOUNT_SET,
    }


def to_json(result: dict[str, Any]) -> str:
    """One JSON object (NaN never appears: undefined ratios are null)."""
    return json.dumps(result, ensure_ascii=False)


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def render(result: dict[str, Any]) -> None:
    """Print the metrics as Rich tables on stdout (log-derived text is never read as markup)."""
    from rich.table import Table
    from rich.text import Text

    from forensics.console import stdout

    acc = result["accounts"]
    summary = Table(title="Account-level detection", show_header=True)
    for col in ("metric", "value"):
        summary.add_column(col)
    rows = [
        ("precision", _fmt(result["precision"])),
        ("recall", _fmt(result["recall"])),
        ("F1", _fmt(result["f1"])),
        ("TP / FP / FN / TN", f"{result['tp']} / {result['fp']} / {result['fn']} / {result['tn']}"),
        (
            "accounts in truth (ring / benign)",
            f"{acc['in_truth']} ({acc['ring']} / {acc['benign']})",
        ),
        ("flagged (not in truth)", f"{acc['flagged']} ({acc['flagged_not_in_truth']})"),
        ("true rings / found rings", f"{result['true_rings']} / {result['found_rings']}"),
        (
            f"adjusted Rand index ({result['ari_accounts']} accounts)",
            _fmt(result["adjusted_rand_index"]),
        ),
    ]
    for name, value in rows:
        summary.add_row(name, value)
    stdout.print(summary)
    stdout.print(Text(f"ARI account set: {result['ari_account_set']}", style="dim"))

    kinds = Table(title="False positives by benign kind")
    for col in ("kind", "accounts", "flagged", "rate"):
        kinds.add_column(col, justify="left" if col == "kind" else "right")
    for kind, rec in result["false_positive_rate_by_kind"].items():
        kinds.add_row(Text(kind), str(rec["accounts"]), str(rec["flagged"]), _fmt(rec["rate"], 4))
    stdout.print(kinds)

    rings = Table(title="True rings: best-matching found ring")
    for col in ("true ring", "size", "flagged", "best found ring", "Jaccard", "split into"):
        rings.add_column(col, justify="left" if "ring" in col and col != "size" else "right")
    for r in result["rings"]:
        rings.add_row(
            Text(r["ring_id"]),
            str(r["size"]),
            str(r["flagged"]),
            Text(r["best_found_ring"] or "-"),
            _fmt(r["jaccard"]),
            str(r["split_into"]),
        )
    stdout.print(rings)

    if result["false_rings"]:
        false = Table(title="Found rings with no ring account (benign groups reported as rings)")
        for col in ("found ring", "size", "kinds (accounts)"):
            false.add_column(col)
        for f in result["false_rings"]:
            parts = ", ".join(f"{k} ({v})" for k, v in f["kinds"].items())
            false.add_row(Text(f["found_ring"]), str(f["size"]), Text(parts))
        stdout.print(false)

    if result["merged_rings"]:
        merged = Table(title="Found rings that merge distinct true rings")
        for col in ("found ring", "size", "true rings (members)"):
            merged.add_column(col)
        for m in result["merged_rings"]:
            parts = ", ".join(f"{k} ({v})" for k, v in m["true_rings"].items())
            merged.add_row(Text(m["found_ring"]), str(m["size"]), Text(parts))
        stdout.print(merged)
    else:
        stdout.print(Text("No found ring merges distinct true rings."))
