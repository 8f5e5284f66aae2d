"""The prompt view built from prompt_sample's rows is the prompt view built from all events."""

from __future__ import annotations

import numpy as np
import polars as pl

from forensics.rings.params import ClusterParams
from forensics.rings.prompt_sample import prompt_sample
from forensics.rings.views import account_index, build_view, request_frame


def _events() -> pl.LazyFrame:
    rng = np.random.default_rng(5)
    words = "alpha beta gamma delta river stone cloud paper light ocean forest tiger".split()
    rows = []
    for account in range(12):
        # 0..80 prompts: some accounts under the per-account sample size, most above it;
        # repeated prompts, nulls and one-word prompts included
        for _ in range(int(rng.integers(0, 80))):
            prompt = " ".join(rng.choice(words, int(rng.integers(1, 9))))
            rows.append({"account_id": f"acct-{account:02d}", "prompt": prompt})
            if rng.random() < 0.3:
                rows.append({"account_id": f"acct-{account:02d}", "prompt": prompt})
            if rng.random() < 0.1:
                rows.append({"account_id": f"acct-{account:02d}", "prompt": None})
    rows.append({"account_id": None, "prompt": "no account here at all"})
    schema = {"account_id": pl.String, "prompt": pl.String}
    return (
        pl.DataFrame(rows, schema=schema)
        .with_columns(src_ip=pl.lit(None, pl.String), ts=pl.lit(None, pl.Datetime("us", "UTC")))
        .lazy()
    )


def _sample(events: pl.LazyFrame, params: ClusterParams) -> pl.LazyFrame:
    index = account_index(events)
    return prompt_sample(events, request_frame(events, index, params), index, params)


def test_prompt_view_from_the_sample_equals_the_view_from_all_events():
    params = ClusterParams(prompts_per_account=8, min_account_tokens=1)
    events = _events()
    index = account_index(events)
    full = build_view("prompt", events, None, params, index)
    sampled = build_view("prompt", _sample(events, params), None, params, index)
    assert full.tokens.height > 0
    assert full.tokens.equals(sampled.tokens)
    assert (full.accounts, full.tokens_kept) == (sampled.accounts, sampled.tokens_kept)


def test_sample_keeps_at_most_the_sample_size_of_distinct_prompts_per_account():
    params = ClusterParams(prompts_per_account=8)
    sample = _sample(_events(), params).collect()
    per_account = sample.group_by("account_id").agg(pl.col("prompt").n_unique().alias("n"))
    assert per_account["n"].max() <= 8
    assert sample.height == sample.unique().height


def test_timing_view_from_the_request_frame_equals_the_view_from_the_events():
    params = ClusterParams(min_account_tokens=1)
    rng = np.random.default_rng(9)
    n = 400
    events = pl.DataFrame(
        {
            "account_id": [f"acct-{i:02d}" for i in rng.integers(0, 15, n)],
            "prompt": None,
            "src_ip": "10.0.0.1",
            "ts": pl.datetime_range(
                pl.datetime(2025, 3, 1, time_zone="UTC"),
                pl.datetime(2025, 3, 3, time_zone="UTC"),
                "7m",
                eager=True,
                time_zone="UTC",
            )[:n].sample(n, seed=3),
        },
        schema_overrides={"prompt": pl.String},
    ).lazy()
    index = account_index(events)
    from_events = build_view("timing", events, None, params, index)
    from_frame = build_view(
        "timing", events, None, params, index, request_frame(events, index, params)
    )
    assert from_events.tokens.height > 0
    assert from_events.tokens.equals(from_frame.tokens)
