"""How a set of accounts (a ring) differs from the population, feature by feature.

For each feature: the ring's median, the population's median (the population is every
account outside the set, or everyone when the set is the whole table), where the ring
median falls in the population distribution (mid-rank percentile, 0..100) and a robust
z-score z = (ring_median - pop_median) / (1.4826 * MAD), MAD the population's median
absolute deviation (1.4826 * MAD estimates sigma for normal data). When MAD is 0 (more
than half the population has one value) the scale falls back to 1.2533 * mean absolute
deviation (Iglewicz & Hoaglin); when that is 0 too, z is null.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from forensics.features.catalog import CONTRAST_FEATURES, FEATURE_LABELS

_STATS = ("ring_median", "population_median", "ring_percentile", "z")


def _stats(column: str, in_ring: pl.Expr, in_population: pl.Expr) -> list[pl.Expr]:
    x = pl.col(column).cast(pl.Float64)
    ring = x.filter(in_ring & x.is_not_null() & x.is_finite())
    pop = x.filter(in_population & x.is_not_null() & x.is_finite())
    rm, pm = ring.median(), pop.median()
    mad = (pop - pm).abs().median() * 1.4826
    mean_ad = (pop - pm).abs().mean() * 1.2533
    scale = pl.when(mad > 0).then(mad).when(mean_ad > 0).then(mean_ad)
    below = (pop < rm).sum().cast(pl.Float64)
    ties = (pop == rm).sum().cast(pl.Float64)
    percentile = pl.when(pop.count() > 0).then(100.0 * (below + 0.5 * ties) / pop.count())
    return [
        rm.alias(f"{column}\x00ring_median"),
        pm.alias(f"{column}\x00population_median"),
        percentile.alias(f"{column}\x00ring_percentile"),
        ((rm - pm) / scale).alias(f"{column}\x00z"),
    ]


def _clean(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def population_contrast(
    features: pl.DataFrame,
    members: Iterable[str] | pl.Series,
    columns: Iterable[str] | None = None,
) -> list[dict]:
    """Per feature: ring_median, population_median, ring_percentile, z, label.

    The ``contrast`` list of the evidence document (docs/store.md), strongest |z| first
    (null z last). Features with no value among the members or in the population are left
    out. ``columns`` defaults to every numeric feature of the catalogue present in
    ``features``.
    """
    wanted = list(columns) if columns is not None else list(CONTRAST_FEATURES)
    present = [c for c in wanted if c in features.columns and features.schema[c].is_numeric()]
    member_ids = pl.Series("m", list(members), dtype=pl.String)
    if not present or features.is_empty() or member_ids.is_empty():
        return []
    # the membership test runs once, into a column every statistic reads
    marked = features.select(
        *present, pl.col("account_id").is_in(member_ids.implode()).alias("\x00in_ring")
    )
    in_ring = pl.col("\x00in_ring")
    # a ring that is the whole table is compared with itself
    everyone = marked.select(in_ring.all()).item()
    in_population = pl.lit(True) if everyone else ~in_ring
    stats = [e for c in present for e in _stats(c, in_ring, in_population)]
    # lazily, so that each column's ring and population subsets and medians are computed
    # once and shared by the statistics that use them (common subexpression elimination);
    # in memory: one small table, where the streaming engine only adds overhead
    row = marked.lazy().select(stats).collect(engine="in-memory").row(0, named=True)
    out: list[dict] = []
    for column in present:
        values = {s: row[f"{column}\x00{s}"] for s in _STATS}
        if values["ring_median"] is None or values["population_median"] is None:
            continue
        out.append(
            {
                "feature": column,
                "label": FEATURE_LABELS.get(column, column),
                "ring_median": _clean(values["ring_median"]),
                "population_median": _clean(values["population_median"]),
                "ring_percentile": _clean(values["ring_percentile"], 1),
                "z": _clean(values["z"], 2),
            }
        )
    out.sort(key=lambda d: (d["z"] is None, -abs(d["z"] or 0.0)))
    return out
