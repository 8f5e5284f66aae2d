"""How much coordination signal a hold-out dataset holds, per truth group (a ceiling check).

For each ring and each benign kind, sample pairs of its accounts and measure the mean
Jaccard similarity |A ∩ B| / |A ∪ B| of their token sets in three views: prompt word
3-shingles (from up to 40 prompts per account), source IPs, and active 10-minute buckets.
Random pairs of ordinary users give the baseline. A ring far above the baseline in some view
is findable in principle; a detector that misses it is missing signal that is there. All of
it is Polars joins over (account, token) tables, no per-account Python.

    python benchmarks/holdout/signal.py DIR        # DIR written by generate.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import polars as pl

PAIRS_PER_GROUP = 300


def token_sets(events: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
    """(account_id, token) tables, one per view."""
    shingles = (
        events.select("account_id", "prompt")
        .drop_nulls()
        .group_by("account_id")
        .agg(pl.col("prompt").head(40))
        .explode("prompt", empty_as_null=True)
        .with_columns(pl.col("prompt").str.to_lowercase().str.split(" ").alias("w"))
        .select(
            "account_id",
            pl.col("w")
            .list.eval(
                pl.concat_str(
                    [pl.element(), pl.element().shift(-1), pl.element().shift(-2)], separator=" "
                ).drop_nulls()
            )
            .alias("token"),
        )
        .explode("token", empty_as_null=True)
    )
    ips = events.select("account_id", pl.col("src_ip").alias("token"))
    buckets = events.select(
        "account_id",
        pl.col("ts").str.slice(0, 15).alias("token"),  # YYYY-MM-DDTHH:M -> 10-minute bucket
    )
    return {
        name: t.drop_nulls().unique()
        for name, t in {"prompt": shingles, "ip": ips, "timing": buckets}.items()
    }


def pair_jaccard(tokens: pl.LazyFrame, pairs: pl.DataFrame) -> pl.DataFrame:
    """Jaccard of each (a, b) pair's token sets; columns group, a, b, jaccard."""
    sizes = tokens.group_by("account_id").agg(pl.len().alias("n"))
    inter = (
        pairs.lazy()
        .join(tokens.rename({"account_id": "a"}), on="a")
        .join(tokens.rename({"account_id": "b"}), on=["b", "token"])
        .group_by("group", "a", "b")
        .agg(pl.len().alias("inter"))
    )
    return (
        pairs.lazy()
        .join(inter, on=["group", "a", "b"], how="left")
        .join(sizes.rename({"account_id": "a", "n": "na"}), on="a", how="left")
        .join(sizes.rename({"account_id": "b", "n": "nb"}), on="b", how="left")
        .with_columns(pl.col("inter", "na", "nb").fill_null(0))
        .select(
            "group",
            (pl.col("inter") / (pl.col("na") + pl.col("nb") - pl.col("inter")).clip(1)).alias(
                "jaccard"
            ),
        )
        .collect()
    )


def sample_pairs(truth: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """Up to PAIRS_PER_GROUP random within-group pairs per group, plus a baseline group of
    random pairs of ordinary users."""
    rng = np.random.default_rng(seed)
    groups = truth.with_columns(pl.coalesce("ring_id", "kind").alias("group"))
    size = groups.group_by("group").agg(pl.len().alias("size")).filter(pl.col("size") >= 2)
    per = groups.join(size, on="group").sort("group", "account_id")
    per = per.with_columns(pl.int_range(pl.len()).over("group").alias("i"))
    draws = size.select(
        pl.col("group").repeat_by(PAIRS_PER_GROUP).explode(empty_as_null=True),
        pl.col("size").repeat_by(PAIRS_PER_GROUP).explode(empty_as_null=True),
    )
    u = rng.random((draws.height, 2))
    draws = draws.with_columns(
        (pl.Series(u[:, 0]) * pl.col("size")).cast(pl.Int64).alias("ia"),
        (pl.Series(u[:, 1]) * (pl.col("size") - 1)).cast(pl.Int64).alias("ib"),
    ).with_columns(  # ib skips ia, so a != b
        pl.when(pl.col("ib") >= pl.col("ia")).then(pl.col("ib") + 1).otherwise("ib").alias("ib")
    )
    idx = per.select("group", "i", "account_id")
    pairs = (
        draws.join(idx.rename({"i": "ia", "account_id": "a"}), on=["group", "ia"])
        .join(idx.rename({"i": "ib", "account_id": "b"}), on=["group", "ib"])
        .select("group", "a", "b")
        .unique()
    )
    ordinary = groups.filter(pl.col("group") == "benign")["account_id"]
    if ordinary.len() >= 2:
        a = ordinary.gather(rng.integers(0, ordinary.len(), PAIRS_PER_GROUP))
        b = ordinary.gather(rng.integers(0, ordinary.len(), PAIRS_PER_GROUP))
        base = pl.DataFrame({"group": "~baseline (random ordinary pairs)", "a": a, "b": b})
        pairs = pl.concat([pairs, base.filter(pl.col("a") != pl.col("b"))])
    return pairs


def signal_table(data: Path) -> pl.DataFrame:
    """Mean within-group Jaccard per view, one row per ring / benign kind."""
    truth = pl.read_csv(data / "truth.csv", schema_overrides={"ring_id": pl.String})
    events = pl.scan_ndjson(data / "events.jsonl", schema_overrides={"prompt": pl.String})
    pairs = sample_pairs(truth)
    out = pairs.group_by("group").agg(pl.len().alias("pairs"))
    for view, tokens in token_sets(events).items():
        j = pair_jaccard(tokens, pairs).group_by("group").agg(pl.col("jaccard").mean().alias(view))
        out = out.join(j, on="group", how="left")
    size = (
        truth.with_columns(pl.coalesce("ring_id", "kind").alias("group"))
        .group_by("group")
        .agg(pl.len().alias("accounts"))
    )
    return out.join(size, on="group", how="left").sort("group")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a directory written by generate.py")
    args = ap.parse_args(argv)
    table = signal_table(args.data)
    with pl.Config(tbl_rows=100, float_precision=3, tbl_hide_dataframe_shape=True):
        print(table.select("group", "accounts", "pairs", "prompt", "ip", "timing"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
