"""The prompts the prompt view samples, found from per-request hashes without a second hash pass.

``views.prompt_tokens`` shingles, per account, the distinct prompts with the
``prompts_per_account`` smallest hashes (hash seed ``params.seed``). Ranking every prompt of
every account in one window needs all prompt texts in memory at once (about 11 GB for the
36M events of a full-scale campaign). Here the same rows are found without that, from the
run's request frame (``views.request_frame``: per request its account and prompt hash,
among others):

1. each account's ``prompts_per_account`` smallest distinct hashes are picked from the
   frame (no pass over the prompts);
2. one streaming pass over the events keeps the rows whose (account, prompt hash) was
   picked (a semi join: its table is built once), one per pair.

The k smallest distinct values are exactly the values of dense rank at most k, so
``prompt_tokens`` run on these rows samples the prompts it samples on all events, and
builds the same tokens. Requests without an account are in neither.
"""

from __future__ import annotations

import polars as pl

from forensics.rings.params import ClusterParams


def prompt_sample(
    events: pl.LazyFrame, requests: pl.DataFrame, index: pl.DataFrame, params: ClusterParams
) -> pl.LazyFrame:
    """(account_id, prompt): the events ``views.prompt_tokens`` samples, one per distinct prompt.

    ``requests`` is ``views.request_frame(events, index, params)``.
    """
    picked = (
        sampled_hashes(requests, params)
        .join(index.lazy(), left_on="account", right_on="idx")
        .select("account_id", "_ph")
        .collect()
    )
    # (a row-position filter instead held ~5 GB at full scale in the streaming engine)
    sample = (
        events.select("account_id", "prompt")
        .with_columns(prompt_hash(params).alias("_ph"))
        .join(picked.lazy(), on=["account_id", "_ph"], how="semi")
        .unique(["account_id", "_ph"], keep="any")
        .select("account_id", "prompt")
        .collect(engine="streaming")
    )
    return sample.lazy()


def sampled_hashes(requests: pl.DataFrame, params: ClusterParams) -> pl.LazyFrame:
    """(account, _ph): each account's ``prompts_per_account`` smallest distinct prompt hashes.

    ``requests`` is a request frame (``views.request_frame``); requests without a prompt
    are never sampled.
    """
    return (
        requests.lazy()
        .filter(pl.col("_has"))
        .group_by("account")
        .agg(pl.col("_ph").unique().bottom_k(params.prompts_per_account))
        .explode("_ph", empty_as_null=False)
    )


def sample_cuts(requests: pl.DataFrame, params: ClusterParams) -> pl.DataFrame:
    """(account, _cut): the largest of each account's sampled prompt hashes.

    A request is in its account's sample exactly when its prompt hash is at most the cut
    (the sampled hashes are the smallest ones), so events can be thinned to the sampled
    prompts one by one, wherever they are, before whole accounts are brought together.
    Accounts without prompts have no row.
    """
    return (
        sampled_hashes(requests, params)
        .group_by("account")
        .agg(pl.col("_ph").max().alias("_cut"))
        .collect()
    )


def prompt_hash(params: ClusterParams) -> pl.Expr:
    """A prompt's hash, the one the sample ranks prompts by (``request_frame``'s ``_ph``)."""
    return pl.col("prompt").hash(params.seed)
