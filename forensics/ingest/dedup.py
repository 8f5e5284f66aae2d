"""Which request ids the store (and this run) already holds: a compact hash set.

Each request id is reduced to a 64-bit hash and kept in a few sorted NumPy arrays (a small
log-structured merge: a new run of hashes is merged into the last one while that one is
not bigger), so membership is a binary search and 29M ids take ~232 MB, not the ~3 GB a
Python set of strings would. Two different ids share a 64-bit hash with probability about
n^2 / 2^65 (2e-5 for 29M ids); such a pair would count the second as a duplicate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl

SEED = 0x1D5EED


def hash_ids(ids: pl.Series) -> np.ndarray:
    """64-bit hashes of request ids (stable within one polars version, as de-dup needs)."""
    return ids.hash(seed=SEED).to_numpy()


class RequestIdIndex:
    """A set of 64-bit request-id hashes with vectorised membership and insertion."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self._deferred: list[np.ndarray] = []  # hashes of one input's content ids, unsorted

    def __len__(self) -> int:
        return sum(r.size for r in self._runs) + sum(d.size for d in self._deferred)

    @classmethod
    def from_event_files(cls, files: list[Path]) -> RequestIdIndex:
        """The ids already in the store, read one file at a time (bounded memory)."""
        index = cls()
        for f in files:
            ids = pl.read_parquet(f, columns=["request_id"])["request_id"].drop_nulls()
            if ids.len():
                index.add(np.unique(hash_ids(ids)))
        return index

    def settle(self) -> None:
        """Sort deferred content-id hashes into the index (call when an input ends)."""
        if self._deferred:
            hashes = np.unique(np.concatenate(self._deferred))
            self._deferred = []
            self.add(hashes)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(hashes.shape, dtype=bool)
        for run in self._runs:
            pos = np.searchsorted(run, hashes)
            pos[pos == run.size] = 0
            found |= run[pos] == hashes
        return found

    def add(self, sorted_unique: np.ndarray) -> None:
        """Add sorted hashes, none of them already in the index."""
        if sorted_unique.size == 0:
            return
        self._runs.append(sorted_unique)
        while len(self._runs) > 1 and self._runs[-2].size <= 2 * self._runs[-1].size:
            last = self._runs.pop()
            # Two sorted runs with no common element (add() gets new hashes only): a
            # stable sort (timsort) finds the two runs and merges them in linear time.
            merged = np.concatenate((self._runs[-1], last))
            merged.sort(kind="stable")
            self._runs[-1] = merged

    def keep_new(self, ids: pl.Series, *, content_ids: bool = False) -> np.ndarray:
        """Mask of ids seen neither before nor earlier in this batch; records the kept ones.

        ``content_ids``: these are content ids of the input being read (see
        ``normalise.add_content_ids``), which differ from each other by construction (same
        content, other occurrence number). While the index holds nothing but such ids of
        this input, they are all new: they are only recorded, and sorted into the index
        when something needs it (another input, an id from the source). A single input
        into an empty store never pays for that.
        """
        hashes = hash_ids(ids)
        if content_ids and not self._runs:
            self._deferred.append(hashes)
            return np.ones(hashes.size, dtype=bool)
        self.settle()
        # Work on sorted hashes: binary searches of sorted keys are cache-friendly. Nearly
        # always every id is new and differs from the others in the batch: a plain sort
        # shows it and the positions of the rows never matter (no stable argsort).
        ordered = np.sort(hashes)
        first = np.ones(ordered.size, dtype=bool)
        first[1:] = ordered[1:] != ordered[:-1]
        found = self.contains(ordered)
        if bool(first.all()) and not bool(found.any()):
            self.add(ordered)
            return np.ones(hashes.size, dtype=bool)
        # Some row goes: the first of equal hashes (stable sort) is the first occurrence.
        order = np.argsort(hashes, kind="stable")
        keep_sorted = first & ~found
        self.add(ordered[keep_sorted])
        keep = np.empty(ordered.size, dtype=bool)
        keep[order] = keep_sorted
        return keep


class Occurrences(Protocol):
    """Anything that numbers the occurrences of content hashes (``OccurrenceCounter``)."""

    def occurrence(self, hashes: np.ndarray) -> np.ndarray: ...


class OccurrenceCounter:
    """How many times each content hash was seen so far in one input (across its batches).

    Sorted runs of (hash, count) merged like ``RequestIdIndex`` (a hash may sit in several
    runs; its count is the sum), so a batch costs O(b log n), not a pass over the file's
    history. Most content is seen once: a run whose counts are all 1 keeps no counts
    (``None``), and is sorted and merged directly, not through an index sort.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray | None]] = []

    def occurrence(self, hashes: np.ndarray) -> np.ndarray:
        """1-based occurrence number of each row's hash in the input so far; records them."""
        order = np.argsort(hashes)
        ordered = hashes[order]
        repeated = ordered[1:] == ordered[:-1]
        counts_here: np.ndarray | None = None
        if repeated.any():
            # Ranks within equal hashes must follow row order: a stable sort.
            order = np.argsort(hashes, kind="stable")
            ordered = hashes[order]
            starts = np.ones(ordered.size, dtype=bool)
            starts[1:] = ordered[1:] != ordered[:-1]
            group_start = np.flatnonzero(starts)
            counts_here = np.diff(np.r_[group_start, ordered.size])
            # Rank within equal hashes of this batch (0, 1, 2, ... in row order).
            rank = np.arange(ordered.size) - np.repeat(group_start, counts_here)
            uniq = ordered[group_start]
        else:
            rank, uniq = np.zeros(ordered.size, dtype=np.int64), ordered
        prior = np.zeros(uniq.size, dtype=np.int64)
        for keys, counts in self._runs:
            pos = np.searchsorted(keys, uniq)
            pos[pos == keys.size] = 0
            hit = keys[pos] == uniq
            prior[hit] += 1 if counts is None else counts[pos[hit]]
        self._add(uniq, counts_here)
        occ_sorted = (prior if counts_here is None else np.repeat(prior, counts_here)) + rank + 1
        occ = np.empty(ordered.size, dtype=np.int64)
        occ[order] = occ_sorted
        return occ

    def _add(self, keys: np.ndarray, counts: np.ndarray | None) -> None:
        if keys.size == 0:
            return
        self._runs.append((keys, counts))
        while len(self._runs) > 1 and self._runs[-2][0].size <= 2 * self._runs[-1][0].size:
            k2, c2 = self._runs.pop()
            k1, c1 = self._runs[-1]
            k = np.concatenate((k1, k2))
            if c1 is None and c2 is None:
                k.sort(kind="stable")  # two sorted runs: a linear merge
                starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
                if starts.size == k.size:
                    self._runs[-1] = (k, None)
                else:
                    self._runs[-1] = (k[starts], np.diff(np.r_[starts, k.size]))
                continue
            c = np.concatenate((_counts(k1, c1), _counts(k2, c2)))
            order = np.argsort(k, kind="stable")
            k, c = k[order], c[order]
            starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
            self._runs[-1] = (k[starts], np.add.reduceat(c, starts))


def _counts(keys: np.ndarray, counts: np.ndarray | None) -> np.ndarray:
    """A run's counts, spelled out (``None`` means 1 for every key)."""
    return np.ones(keys.size, dtype=np.int64) if counts is None else counts
