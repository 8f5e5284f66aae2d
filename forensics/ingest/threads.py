"""Small thread helpers for the ingest: an ordered parallel map and turn-taking.

Polars, pyarrow and hashlib release the GIL while they compute, so on two cores two
batches can be worked on at the same time in threads, as long as the results come out in
input order and the few steps that carry state from batch to batch (occurrence numbers
of content ids) take their turns in that order.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
U = TypeVar("U")


def ordered_map(
    fn: Callable[[int, T], U], items: Iterator[T], workers: int, name: str = "forensics-work"
) -> Iterator[U]:
    """``fn(i, item)`` for each item (``i`` counts from 0), ``workers`` calls at a time in
    threads, results in input order; at most ``workers`` results are held ahead of the
    consumer. An exception in a call is raised to the consumer at that item's turn; one
    in ``items`` after the results of the items before it.
    """
    if workers <= 1:
        for i, item in enumerate(items):
            yield fn(i, item)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
    pending: deque[Future[U]] = deque()
    source = iter(items)
    try:
        for i in itertools.count():
            try:
                item = next(source)
            except StopIteration:
                break
            except Exception:
                # The items broke off (a truncated input): the results of the items
                # before the break still come out, then the error.
                while pending:
                    yield pending.popleft().result()
                raise
            pending.append(pool.submit(fn, i, item))
            if len(pending) >= workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)


class Turns:
    """Lets step ``i`` of work done in parallel run only after steps ``0 .. i-1``.

    ``with turns.turn(i): ...`` waits for turn ``i``; ``turns.skip(i)`` gives turn ``i``
    away unused (call it when item ``i`` is done, whether or not it took its turn, so a
    failing item never blocks the others).
    """

    def __init__(self) -> None:
        self._next = 0
        self._done: set[int] = set()
        self._cond = threading.Condition()

    def turn(self, i: int) -> _Turn:
        return _Turn(self, i)

    def _wait(self, i: int) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._next == i)

    def skip(self, i: int) -> None:
        """Mark turn ``i`` as taken (a no-op if it was); later turns may then run."""
        with self._cond:
            if i < self._next:
                return
            self._done.add(i)
            while self._next in self._done:
                self._done.discard(self._next)
                self._next += 1
            self._cond.notify_all()


class _Turn:
    def __init__(self, turns: Turns, i: int) -> None:
        self.turns, self.i = turns, i

    def __enter__(self) -> None:
        self.turns._wait(self.i)

    def __exit__(self, *exc: object) -> None:
        self.turns.skip(self.i)
