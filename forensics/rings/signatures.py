"""MinHash signatures for every account of a view at once.

MinHash: for a random permutation pi of the token universe, P[min pi(A) == min pi(B)] =
|A n B| / |A u B| (the Jaccard similarity), so the share of equal entries of two signatures
of ``num_perm`` permutations estimates it with standard error sqrt(J(1-J)/num_perm).

The permutations are datasketch's: ``h_i(x) = ((a_i * x + b_i) mod 2^61-1) & (2^32-1)`` with
``(a_i, b_i)`` drawn by ``numpy.random.RandomState(seed)`` exactly as ``MinHash(num_perm,
seed)`` draws them, in the same uint64 arithmetic (the product wraps modulo 2^64 as it does
there). Here every token of a block of accounts is hashed under all permutations in one
NumPy array and the per-account minimum is taken with ``np.minimum.reduceat`` over tokens
sorted by account, so the result equals ``MinHash.update`` token by token.

Tokens are hashed to 32 bits by Polars' hash (``token_hash32`` is the same function for one
token, to hand to datasketch as ``hashfunc``); it is fast and vectorised, but only stable
for one Polars version, which run.json records.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
from datasketch import MinHash

MERSENNE_PRIME = np.uint64((1 << 61) - 1)
MAX_HASH = np.uint64((1 << 32) - 1)
_TOKEN_HASH_SEED = 0x5EED

# Bytes of each side's signature rows gathered at once by signature_similarity.
SIMILARITY_BLOCK_BYTES = 1 << 21
# Rows (tokens) hashed at once: rows x num_perm x 8 bytes (4 MB at 128 permutations: cache-sized).
BLOCK_ROWS = 1 << 12


def permutations(num_perm: int, seed: int) -> np.ndarray:
    """datasketch's permutation parameters for (num_perm, seed): a (2, num_perm) uint64 array."""
    return MinHash(num_perm=num_perm, seed=seed).permutations


def hash_tokens(tokens: pl.Series) -> np.ndarray:
    """32-bit hashes of string tokens (uint64 values below 2^32)."""
    return (tokens.hash(_TOKEN_HASH_SEED) & 0xFFFFFFFF).to_numpy().astype(np.uint64)


def token_hash32(token: bytes | str) -> int:
    """The hash of one token, as ``hash_tokens`` computes it (a datasketch ``hashfunc``)."""
    text = token.decode() if isinstance(token, bytes) else token
    return int(hash_tokens(pl.Series([text], dtype=pl.String))[0])


def _permute(hv: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """((a*hv + b) mod 2^61-1) & (2^32-1): a (num_perm x rows) array, uint64 wrap-around.

    x mod (2^61-1) for a 64-bit x is (x & p) + (x >> 61), less p once if that is >= p: the
    same value as numpy's ``%``, several times faster. Permutations are rows so that the
    per-account minimum runs over contiguous memory (``reduceat`` along axis 1).
    """
    with np.errstate(over="ignore"):
        x = np.multiply(a[:, None], hv[None, :])
        x += b[:, None]
    y = x & MERSENNE_PRIME
    x >>= np.uint64(61)
    y += x
    np.subtract(y, MERSENNE_PRIME, out=y, where=y >= MERSENNE_PRIME)
    y &= MAX_HASH
    return y


def bulk_minhash(
    account_idx: np.ndarray,
    token_hashes: np.ndarray,
    n_accounts: int,
    perms: np.ndarray,
    threads: int = 2,
) -> np.ndarray:
    """Signatures (n_accounts x num_perm) from (account, token-hash) rows.

    The values are datasketch's (below 2^32) stored as uint32, half the memory of
    datasketch's uint64 and half the bytes for ``signature_similarity`` to read. Accounts
    without tokens keep datasketch's empty value (2^32-1 everywhere).
    """
    a, b = perms[0], perms[1]
    num_perm = a.shape[0]
    sig = np.full((n_accounts, num_perm), MAX_HASH, dtype=np.uint32)
    if account_idx.size == 0:
        return sig
    if bool((account_idx[1:] >= account_idx[:-1]).all()):  # the views' rows come in order
        acc, hv = account_idx, token_hashes
    else:
        order = np.argsort(account_idx, kind="stable")
        acc = account_idx[order]
        hv = token_hashes[order]
    starts = np.flatnonzero(np.r_[True, acc[1:] != acc[:-1]])
    owners = acc[starts]
    # Blocks of whole accounts, about BLOCK_ROWS rows each.
    cuts = np.searchsorted(starts, np.arange(0, acc.size, BLOCK_ROWS), side="right") - 1
    cuts = np.unique(np.r_[cuts, starts.size])

    def run(block: int) -> None:
        g0, g1 = cuts[block], cuts[block + 1]
        r0 = starts[g0]
        r1 = starts[g1] if g1 < starts.size else acc.size
        phv = _permute(hv[r0:r1], a, b)
        sig[owners[g0:g1]] = np.minimum.reduceat(phv, starts[g0:g1] - r0, axis=1).T

    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        list(pool.map(run, range(cuts.size - 1)))
    return sig


def signature_similarity(
    sig: np.ndarray, a: np.ndarray, b: np.ndarray, threads: int = 2
) -> np.ndarray:
    """Estimated Jaccard of account pairs (a[i], b[i]): the share of equal signature entries.

    Pairs where either account has no tokens (an empty signature) get 0. Large inputs (the
    graph step measures tens of millions of pairs in every view) are cut into runs of
    blocks measured by ``threads`` threads at once: NumPy's gathers and comparisons release
    the GIL, so both cores work.
    """
    num_perm = sig.shape[1]
    out = np.empty(a.size, dtype=np.float64)
    # Blocks of pairs small enough for the cache: only the pairs' own rows are read, so
    # the cost follows the pairs, not the population.
    step = max(1, SIMILARITY_BLOCK_BYTES // (num_perm * sig.itemsize))
    run = step * 64

    def measure(start: int) -> None:
        for s in range(start, min(start + run, a.size), step):
            _similarity_block(sig, a[s : s + step], b[s : s + step], out[s : s + step])

    starts = range(0, a.size, run)
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(measure, starts))
    else:
        for start in starts:
            measure(start)
    return out


def _similarity_block(sig: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """signature_similarity of one block of pairs, written into ``out``."""
    empty_value = sig.dtype.type(MAX_HASH)
    sa, sb = sig[a], sig[b]
    np.divide(np.count_nonzero(sa == sb, axis=1), sig.shape[1], out=out)
    # An empty signature is MAX_HASH everywhere; a non-empty one hardly ever starts
    # with it, so only pairs whose first entry is MAX_HASH are checked in full.
    maybe = np.flatnonzero((sa[:, 0] == empty_value) | (sb[:, 0] == empty_value))
    if maybe.size:
        empty = (sa[maybe] == empty_value).all(axis=1) | (sb[maybe] == empty_value).all(axis=1)
        out[maybe[empty]] = 0.0
