"""Ring evidence picks as examples the requests with the smallest example keys, exactly."""

from __future__ import annotations

import polars as pl

from forensics.rings.evidence import EXAMPLES, _example_keys


def _flagged(keys: dict[str, list[int]]) -> tuple[pl.LazyFrame, pl.DataFrame]:
    rows = [
        {"ring_id": ring, "account_id": f"{ring}-a{i % 7}", "k": k}
        for ring, ks in keys.items()
        for i, k in enumerate(ks)
    ]
    flagged = pl.DataFrame(
        rows, schema={"ring_id": pl.String, "account_id": pl.String, "k": pl.UInt64}
    ).lazy()
    totals = pl.DataFrame(
        {"ring_id": list(keys), "requests": [len(ks) for ks in keys.values()]},
        schema={"ring_id": pl.String, "requests": pl.Int64},
    )
    return flagged, totals


def test_example_keys_are_the_smallest_per_ring_even_when_the_bound_keeps_too_few():
    top = (1 << 64) - 1
    # R1: 200 requests whose keys all sit above the 64/n bound (the fallback pass);
    # R2: a few requests (no bound); R3: many requests, keys spread (the bounded pass)
    r1 = [top - i for i in range(200)]
    r2 = [50, 10, 30, 10]
    r3 = [(i * 0x9E3779B97F4A7C15) % (1 << 64) for i in range(1, 5000)]
    flagged, totals = _flagged({"R1": r1, "R2": r2, "R3": r3})
    got = _example_keys(flagged, totals, pl.col("k").alias("_key"))
    for ring, ks in {"R1": r1, "R2": r2, "R3": r3}.items():
        third = sorted(ks)[EXAMPLES - 1]
        expected = sorted(k for k in ks if k <= third)
        assert sorted(got.filter(pl.col("ring_id") == ring)["_key"].to_list()) == expected, ring
