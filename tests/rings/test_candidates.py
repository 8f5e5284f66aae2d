"""LSH candidates: planted pairs found, unrelated ones not, and no quadratic blow-up."""

from __future__ import annotations

import numpy as np
import polars as pl

from forensics.rings.candidates import band_buckets, bucket_members, build_lsh, candidate_pairs
from forensics.rings.params import ClusterParams
from forensics.rings.signatures import bulk_minhash, permutations

PARAMS = ClusterParams()


def _signatures(token_sets: list[np.ndarray]) -> np.ndarray:
    owners = np.concatenate([np.full(t.size, i, dtype=np.uint32) for i, t in enumerate(token_sets)])
    tokens = np.concatenate(token_sets).astype(np.uint64)
    return bulk_minhash(owners, tokens, len(token_sets), permutations(PARAMS.num_perm, PARAMS.seed))


def test_lsh_finds_a_planted_similar_pair_and_not_an_unrelated_one():
    rng = np.random.default_rng(2)
    shared = rng.choice(2**32, 200, replace=False)
    sets = [rng.choice(2**32, 200, replace=False) for _ in range(50)]
    sets[3] = np.r_[shared, rng.choice(2**32, 60, replace=False)]  # Jaccard ~0.6 with 7
    sets[7] = np.r_[shared, rng.choice(2**32, 60, replace=False)]
    pairs = candidate_pairs(_signatures(sets), PARAMS)
    found = set(zip(pairs["a"].to_list(), pairs["b"].to_list(), strict=True))
    assert (3, 7) in found
    assert (1, 2) not in found
    assert len(found) < 10


def test_lsh_index_is_datasketch_and_answers_queries():
    rng = np.random.default_rng(4)
    base = rng.choice(2**32, 300, replace=False)
    sets = [base, np.r_[base[:250], rng.choice(2**32, 50, replace=False)]]
    sets += [rng.choice(2**32, 300, replace=False) for _ in range(5)]
    sig = _signatures(sets)
    lsh = build_lsh(sig, np.arange(len(sets)), PARAMS)
    from datasketch import LeanMinHash

    assert 1 in lsh.query(LeanMinHash(seed=PARAMS.seed, hashvalues=sig[0]))
    assert 4 not in lsh.query(LeanMinHash(seed=PARAMS.seed, hashvalues=sig[0]))


def test_one_large_ring_gives_near_linear_candidate_pairs():
    rng = np.random.default_rng(5)
    core = rng.choice(2**32, 100, replace=False)

    def ring_pairs(n: int) -> int:
        sets = [np.r_[core, rng.choice(2**32, 5, replace=False)] for _ in range(n)]
        pairs = candidate_pairs(_signatures(sets), PARAMS)
        assert pairs.height <= n * PARAMS.neighbours_per_bucket * PARAMS.lsh_bands
        return pairs.height

    small, large = ring_pairs(1000), ring_pairs(2000)
    assert large < 2.5 * small  # all pairs would grow 4x


def test_a_large_ring_stays_one_connected_group():
    import igraph as ig

    rng = np.random.default_rng(6)
    core = rng.choice(2**32, 100, replace=False)
    n = 500
    sets = [np.r_[core, rng.choice(2**32, 5, replace=False)] for _ in range(n)]
    pairs = candidate_pairs(_signatures(sets), PARAMS)
    g = ig.Graph(n=n, edges=list(zip(pairs["a"].to_list(), pairs["b"].to_list(), strict=True)))
    assert len(g.connected_components()) == 1


def test_vectorised_buckets_are_datasketch_minhashlsh_buckets():
    rng = np.random.default_rng(8)
    core = rng.choice(2**32, 40, replace=False)
    sets = [np.r_[core[: rng.integers(10, 40)], rng.choice(2**32, 20)] for _ in range(60)]
    sig = _signatures(sets)
    present = np.arange(len(sets))

    def partition(frame):
        groups = frame.group_by("band", "bucket").agg(pl.col("account").sort())
        return {(b, tuple(a)) for b, a in groups.select("band", "account").iter_rows()}

    ours = partition(band_buckets(sig, present, PARAMS))
    theirs = partition(bucket_members(build_lsh(sig, present, PARAMS)))
    assert ours and ours == theirs
