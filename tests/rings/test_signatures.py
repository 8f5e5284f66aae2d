"""Bulk MinHash signatures are exactly datasketch's."""

from __future__ import annotations

import numpy as np
import polars as pl
from datasketch import MinHash

from forensics.rings.signatures import (
    MAX_HASH,
    bulk_minhash,
    hash_tokens,
    permutations,
    signature_similarity,
    token_hash32,
)


def test_bulk_signatures_equal_datasketch_minhash_update():
    rng = np.random.default_rng(11)
    tokens = pl.Series([f"token-{i}" for i in range(3000)])
    owners = rng.integers(0, 40, tokens.len()).astype(np.uint32)
    perms = permutations(64, seed=9)
    sig = bulk_minhash(owners, hash_tokens(tokens), 42, perms)
    for account in range(42):
        reference = MinHash(num_perm=64, seed=9, hashfunc=token_hash32, permutations=perms)
        for token in tokens.filter(pl.Series(owners == account)).to_list():
            reference.update(token.encode())
        assert np.array_equal(sig[account], reference.hashvalues), account


def test_account_without_tokens_has_datasketch_empty_signature():
    perms = permutations(32, seed=1)
    sig = bulk_minhash(np.array([0], dtype=np.uint32), np.array([5], dtype=np.uint64), 2, perms)
    assert (sig[1] == MAX_HASH).all()
    assert np.array_equal(sig[1], MinHash(num_perm=32, seed=1).hashvalues)


def test_signature_similarity_estimates_jaccard():
    perms = permutations(256, seed=3)
    a = np.arange(0, 1000, dtype=np.uint64)
    b = np.arange(500, 1500, dtype=np.uint64)  # Jaccard 500 / 1500 = 1/3
    owners = np.r_[np.zeros(a.size), np.ones(b.size)].astype(np.uint32)
    hashes = hash_tokens(pl.Series(np.r_[a, b].astype(str)))
    sig = bulk_minhash(owners, hashes, 2, perms)
    est = signature_similarity(sig, np.array([0]), np.array([1]))[0]
    assert abs(est - 1 / 3) < 0.1
