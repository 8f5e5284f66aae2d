"""population_contrast: ring vs population medians, percentile and robust z."""

import polars as pl
import pytest

from forensics.features import FEATURE_LABELS, population_contrast


@pytest.fixture
def table():
    ids = list("abcdefghij")
    return pl.DataFrame(
        {
            "account_id": ids,
            # ring a, b, c at 10, 12, 14; population 1..7 (median 4, MAD 2)
            "requests": [10, 12, 14, 1, 2, 3, 4, 5, 6, 7],
            # ring median 4 ties with one population value: mid-rank percentile
            "active_days": [3, 4, 5, 1, 2, 3, 4, 5, 6, 7],
            # population MAD is 0 (mostly 5): falls back to 1.2533 * mean absolute deviation
            "hour_entropy": [6.0, 6.0, 6.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 9.0],
            # everyone alike: no scale, z is null
            "distinct_models": [2, 2, 2, 1, 1, 1, 1, 1, 1, 1],
            # no value at all among the members: left out
            "account_age_days": [None, None, None, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )


def by_feature(contrast):
    return {c["feature"]: c for c in contrast}


def test_ring_far_above_population_gets_median_percentile_and_robust_z(table):
    c = by_feature(population_contrast(table, ["a", "b", "c"]))["requests"]
    assert c["ring_median"] == 12.0 and c["population_median"] == 4.0
    assert c["ring_percentile"] == 100.0
    assert c["z"] == pytest.approx(8 / (1.4826 * 2), abs=0.01)
    assert c["label"] == FEATURE_LABELS["requests"]


def test_percentile_counts_ties_as_half(table):
    c = by_feature(population_contrast(table, ["a", "b", "c"]))["active_days"]
    assert c["ring_percentile"] == pytest.approx(100 * 3.5 / 7, abs=0.05)
    assert c["z"] == 0.0


def test_zero_mad_falls_back_to_mean_absolute_deviation_and_constant_gives_null_z(table):
    c = by_feature(population_contrast(table, pl.Series(["a", "b", "c"])))
    assert c["hour_entropy"]["z"] == pytest.approx(1 / (1.2533 * 4 / 7), abs=0.01)
    assert c["distinct_models"]["z"] is None
    assert "account_age_days" not in c


def test_contrast_is_ordered_by_strength_and_limited_to_requested_columns(table):
    contrast = population_contrast(table, ["a", "b", "c"])
    zs = [abs(c["z"]) for c in contrast if c["z"] is not None]
    assert zs == sorted(zs, reverse=True) and contrast[-1]["z"] is None
    only = population_contrast(table, ["a"], columns=["requests", "no_such_feature"])
    assert [c["feature"] for c in only] == ["requests"]
    assert set(only[0]) == {"feature", "label", "ring_median", "population_median",
                            "ring_percentile", "z"}  # fmt: skip


def test_unknown_members_or_empty_ring_give_no_contrast(table):
    assert population_contrast(table, []) == []
    assert population_contrast(table, ["nobody"]) == []


def test_ring_that_is_the_whole_table_is_compared_with_itself(table):
    c = by_feature(population_contrast(table, list("abcdefghij")))["requests"]
    assert c["ring_median"] == c["population_median"] and c["z"] == 0.0
