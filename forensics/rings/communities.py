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
"""

from __future__ import annotations

import random

import igraph as ig
import numpy as np
import polars as pl

# igraph's default. At full scale (10.9 M edges) 10 iterations took 89 s on the first
# partition, 2 took 16 s; pooled hold-out recall (18 data sets) 0.974 with 2, 0.976 with
# 10, precision 1.000 with both.
LEIDEN_ITERATIONS = 2


def communities(graph: pl.DataFrame, resolution: float, min_size: int, seed: int) -> pl.DataFrame:
    """(account, community) for accounts in communities of at least ``min_size`` accounts.

    ``graph`` has columns a, b (account indices) and weight.
    """
    empty = pl.DataFrame(schema={"account": pl.UInt32, "community": pl.UInt32})
    if graph.height == 0:
        return empty
    # Only the accounts that have edges enter igraph (local ids, from a lookup table rather
    # than a sort), mapped back at the end. igraph takes Python pairs: two lists zipped
    # cost half as much as a 2-column array's tolist (10.9 M edges: 5.8 s against 9.9 s).
    a, b = graph["a"].to_numpy(), graph["b"].to_numpy()
    seen = np.zeros(int(max(a.max(), b.max())) + 1, dtype=bool)
    seen[a] = True
    seen[b] = True
    nodes = np.flatnonzero(seen)
    local = np.cumsum(seen, dtype=np.int64) - 1
    g = ig.Graph(
        n=nodes.size,
        edges=list(zip(local[a].tolist(), local[b].tolist(), strict=True)),
        edge_attrs={"weight": graph["weight"].to_list()},
    )
    del local
    random.seed(seed)
    ig.set_random_number_generator(random)
    members: list[np.ndarray] = []
    for comp in g.connected_components():
        if len(comp) < min_size:
            continue
        sub = g if len(comp) == g.vcount() else g.subgraph(comp)
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
