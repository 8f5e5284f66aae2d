"""The prompts the prompt view samples, selected in two streaming passes over the events.

``views.prompt_tokens`` shingles, per account, the distinct prompts with the
``prompts_per_account`` smallest hashes (hash seed ``params.seed``). Ranking every prompt of
every account in one window needs all prompt texts in memory at once (about 11 GB for the
36M events of a full-scale campaign). Here the same rows are found without that:

1. a streaming pass keeps only (account, prompt hash), 12 bytes an event, and gives each
   account its threshold: the largest of its ``prompts_per_account`` smallest distinct
   hashes;
2. a second streaming pass keeps the rows at or below their account's threshold, one per
   (account, hash).

A dense rank of at most k is the same as a value at or below the k-th smallest distinct
value, so ``prompt_tokens`` run on these rows samples exactly the prompts it samples on all
events, and builds the same tokens.
"""

from __future__ import annotations

import polars as pl

from forensics.rings.params import ClusterParams


def prompt_sample(events: pl.LazyFrame, params: ClusterParams) -> pl.LazyFrame:
    """(account_id, prompt): the events ``views.prompt_tokens`` samples, one per distinct prompt."""
    prompt_hash = pl.col("prompt").hash(params.seed).alias("_ph")
    # (rows without an account form a group of their own, as in the view's window)
    prompted = events.select("account_id", "prompt").filter(pl.col("prompt").is_not_null())
    # (account as a 4-byte category, 8-byte hash) per prompted event: 12 bytes a row
    hashes = prompted.select(pl.col("account_id").cast(pl.Categorical), prompt_hash).collect(
        engine="streaming"
    )
    thresholds = (
        hashes.lazy()
        .group_by("account_id")
        .agg(pl.col("_ph").unique().bottom_k(params.prompts_per_account).max().alias("_limit"))
        .select(pl.col("account_id").cast(pl.String), "_limit")
        .collect()
    )
    del hashes
    sample = (
        prompted.with_columns(prompt_hash)
        .join(thresholds.lazy(), on="account_id", nulls_equal=True)
        .filter(pl.col("_ph") <= pl.col("_limit"))
        .unique(["account_id", "_ph"], keep="any")
        .select("account_id", "prompt")
        .collect(engine="streaming")
    )
    return sample.lazy()
