"""The prompts the prompt view samples, found from per-request hashes without a second hash pass.

``views.prompt_tokens`` shingles, per account, the distinct prompts with the
``prompts_per_account`` smallest hashes (hash seed ``params.seed``). Ranking every prompt of
every account in one window needs all prompt texts in memory at once (about 11 GB for the
36M events of a full-scale campaign). Here the same rows are found without that, from the
run's request frame (``scoring.traffic_frame``: per request its position, account and
prompt hash, 20 bytes a request, which ring scoring reads too):

1. each account's threshold is the largest of its ``prompts_per_account`` smallest
   distinct hashes, and one request per (account, hash) at or below it is picked;
2. one streaming pass over the events keeps the picked positions' (account, prompt).

A dense rank of at most k is the same as a value at or below the k-th smallest distinct
value, so ``prompt_tokens`` run on these rows samples exactly the prompts it samples on all
events, and builds the same tokens. Requests without an account are in neither.
"""

from __future__ import annotations

import polars as pl

from forensics.rings.params import ClusterParams


def prompt_sample(
    events: pl.LazyFrame, requests: pl.DataFrame, params: ClusterParams
) -> pl.LazyFrame:
    """(account_id, prompt): the events ``views.prompt_tokens`` samples, one per distinct prompt.

    ``requests`` is ``scoring.traffic_frame(events, index, params.seed)``.
    """
    prompted = requests.lazy().filter(pl.col("_has")).select("_row", "account", "_ph")
    limits = prompted.group_by("account").agg(
        pl.col("_ph").unique().bottom_k(params.prompts_per_account).max().alias("_limit")
    )
    rows = (
        prompted.join(limits, on="account")
        .filter(pl.col("_ph") <= pl.col("_limit"))
        .unique(["account", "_ph"], keep="any")
        .select("_row")
        .collect()
        .to_series()
    )
    sample = (
        events.select("account_id", "prompt")
        .with_row_index("_row")
        .filter(pl.col("_row").is_in(rows.implode()))
        .select("account_id", "prompt")
        .collect(engine="streaming")
    )
    return sample.lazy()
