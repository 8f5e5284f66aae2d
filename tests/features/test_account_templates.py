"""account_features also returns each account's prompt-template counts (for ring evidence)."""

import polars as pl

from forensics.features import account_features, compute_account_features
from forensics.features.compute import template_hash

from .test_account_features import HUMAN, METRO, rows


def test_template_counts_are_requests_per_account_and_skeleton(make_store):
    store = make_store(rows("metro", METRO) + rows("human", HUMAN))
    result = account_features(store.scan_events(), store.scan_accounts())
    got = {
        (r["account_id"], r["template"]): r["requests"]
        for r in result.templates.with_columns(pl.col("account_id").cast(pl.String)).iter_rows(
            named=True
        )
    }
    # "Solve step by step: <n>" three times for metro; every other prompt once
    solve = pl.select(template_hash(pl.lit("Solve step by step: 12+3"))).item()
    hello = pl.select(template_hash(pl.lit("hello there"))).item()
    assert got[("metro", solve)] == 3
    assert got[("metro", hello)] == 1
    assert sum(n for (a, _), n in got.items() if a == "human") == 4
    assert len(got) == 2 + 4
    table = compute_account_features(store.scan_events(), store.scan_accounts())
    assert result.table.columns == table.columns
    assert result.table["account_id"].to_list() == table["account_id"].to_list()
