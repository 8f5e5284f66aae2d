"""Rings are communities of the combined graph (Leiden, modularity, per component).

Modularity at resolution g scores a partition by sum_c [w_c / m - g (d_c / 2m)^2] (w_c: the
weight inside community c, d_c: its total degree, m: the component's total weight). Two
groups joined by cross weight x stay apart when x < g d_1 d_2 / 2m, so two rings bridged by
a few weak edges (a handful of shared proxy exits) are two rings, unlike a transitive
closure. Splitting one uniform, random-like group in two pays only when each half keeps more
than about 1 - g/2 of the edge weight inside it; the within-ring graph here is an expander
(members linked at random through LSH buckets) whose halves keep far less, so a ring stays
whole at the default g = 1. Each connected component is partitioned on its own, so m is the
component's weight and rings elsewhere in the graph do not change how a component is cut
(the resolution limit of global modularity).

Before partitioning, each account keeps only its ``neighbours`` heaviest edges (an edge stays
when either end ranks it among its k heaviest), as community detection on k-nearest-neighbour
graphs does. A ring member linked to hundreds of fellow members still keeps k of them, so the
ring stays one well-linked group, while the light edges that bridge two rings or tie a member
to the benign crowd are the first to go; Leiden's cost follows the edges (10.9 M at full
scale, a few million after this).
"""

from __future__ import annotations

import random

import igraph as ig
import numpy as np
import polars as pl

# igraph's default; each further iteration refines the partition a little and costs as much.
LEIDEN_ITERATIONS = 2


def strongest_edges(graph: pl.DataFrame, neighbours: int) -> pl.DataFrame:
    """The edges among each account's ``neighbours`` heaviest (either end suffices), in order.

    Ties are broken by the edge's row, so the result is deterministic. ``neighbours`` <= 0
    keeps every edge.
    """
    if neighbours <= 0 or graph.height == 0:
        return graph
    row = pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row")
    ends = graph.select(row, "a", "b", "weight")
    both = pl.concat(
        [ends.select("_row", pl.col("a").alias("end"), "weight"),
         ends.select("_row", pl.col("b").alias("end"), "weight")]
    )  # fmt: skip
    rank = pl.struct(-pl.col("weight"), "_row").rank("ordinal").over("end")
    kept = both.filter(rank <= neighbours).select(pl.col("_row").unique().sort())
    return graph.with_row_index("_row").join(kept, on="_row", how="semi").drop("_row")


def communities(
    graph: pl.DataFrame, resolution: float, min_size: int, seed: int, neighbours: int = 0
) -> pl.DataFrame:
    """(account, community) for accounts in communities of at least ``min_size`` accounts.

    ``graph`` has columns a, b (account indices) and weight; with ``neighbours`` > 0 only
    each account's heaviest edges enter the partition (``strongest_edges``).
    """
    empty = pl.DataFrame(schema={"account": pl.UInt32, "community": pl.UInt32})
    graph = strongest_edges(graph, neighbours)
    if graph.height == 0:
        return empty
    # Only the accounts that have edges enter igraph (local ids), mapped back at the end.
    ends = np.concatenate([graph["a"].to_numpy(), graph["b"].to_numpy()])
    nodes, local = np.unique(ends, return_inverse=True)
    half = graph.height
    g = ig.Graph(
        n=nodes.size,
        edges=np.column_stack([local[:half], local[half:]]).tolist(),
        edge_attrs={"weight": graph["weight"].to_list()},
    )
    random.seed(seed)
    ig.set_random_number_generator(random)
    members: list[np.ndarray] = []
    for comp in g.connected_components():
        if len(comp) < min_size:
            continue
        sub = g.subgraph(comp)
        parts = sub.community_leiden(
            objective_function="modularity",
            weights="weight",
            resolution=resolution,
            # A fixed bound: iterating "until stable" (-1) was seen not to terminate.
            n_iterations=LEIDEN_ITERATIONS,
        )
        comp_idx = nodes[np.asarray(comp, dtype=np.int64)].astype(np.uint32)
        for part in parts:
            if len(part) >= min_size:
                members.append(comp_idx[np.asarray(part, dtype=np.int64)])
    if not members:
        return empty
    return pl.DataFrame(
        {
            "account": np.concatenate(members),
            "community": np.repeat(
                np.arange(len(members), dtype=np.uint32), [m.size for m in members]
            ),
        }
    )
