"""Rings are communities, not transitive closures."""

from __future__ import annotations

import numpy as np
import polars as pl

from forensics.rings.communities import communities
from forensics.rings.params import ClusterParams


def _ring_edges(rng: np.random.Generator, members: np.ndarray, degree: int) -> list[tuple]:
    edges = []
    for a in members:
        for b in rng.choice(members, degree, replace=False):
            if a != b:
                edges.append((min(a, b), max(a, b), float(rng.uniform(1.0, 2.0))))
    return edges


def test_two_rings_joined_by_a_few_weak_edges_stay_two_rings():
    rng = np.random.default_rng(0)
    left, right = np.arange(0, 60), np.arange(60, 100)
    edges = _ring_edges(rng, left, 6) + _ring_edges(rng, right, 6)
    edges += [(1, 61, 0.3), (2, 70, 0.2), (5, 90, 0.3)]  # a few shared proxy exits
    graph = pl.DataFrame(edges, schema=["a", "b", "weight"], orient="row").unique(["a", "b"])
    graph = graph.with_columns(pl.col("a", "b").cast(pl.UInt32))
    found = communities(graph, resolution=ClusterParams().resolution, min_size=5, seed=1)
    groups = found.group_by("community").agg(pl.col("account").sort())
    sets = sorted(set(g) for g in groups["account"].to_list())
    assert len(sets) == 2
    assert set(left.tolist()) in sets and set(right.tolist()) in sets


def test_one_sparse_ring_is_not_cut_in_pieces():
    rng = np.random.default_rng(1)
    members = np.arange(400)
    graph = pl.DataFrame(_ring_edges(rng, members, 4), schema=["a", "b", "weight"], orient="row")
    graph = graph.unique(["a", "b"]).with_columns(pl.col("a", "b").cast(pl.UInt32))
    found = communities(graph, resolution=ClusterParams().resolution, min_size=5, seed=1)
    largest = found.group_by("community").len()["len"].max()
    assert largest >= 0.9 * 400


def test_communities_smaller_than_min_size_are_dropped():
    graph = pl.DataFrame({"a": [0, 1, 0], "b": [1, 2, 2], "weight": [1.0, 1.0, 1.0]})
    graph = graph.with_columns(pl.col("a", "b").cast(pl.UInt32))
    assert communities(graph, resolution=ClusterParams().resolution, min_size=5, seed=1).height == 0
