"""Cut a byte stream into chunks of whole lines, with bounded memory.

Line-oriented readers (JSONL, CSV, web logs) parse a chunk of many lines at once with a
native parser, which is what makes ingest fast. This module only finds line boundaries:
each chunk ends on a newline, carries the 1-based number of its first line, and a line
longer than ``max_line_bytes`` is never held whole: it is cut at the limit, reported as a
Reject (``line_too_long``) and the rest of it is skipped.
"""

from __future__ import annotations

import ctypes
import functools
import io
import mmap
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from forensics.ingest.base import RAW_TEXT_LIMIT, Reject

# 16 MiB: below glibc's largest mmap threshold (32 MiB), so once the first chunk is freed
# the next ones reuse heap memory instead of fresh mappings (measured on 1M JSONL rows:
# 308k page faults and 1.2 s of system time with 32 MiB chunks, 175k and 0.7 s with 16).
CHUNK_BYTES = 16 * 1024 * 1024
MAX_LINE_BYTES = 1024 * 1024  # an API log line longer than 1 MiB is not a log line


@dataclass
class LineChunk:
    """Whole lines (each ending in ``\\n``) starting at line ``first_line`` (1-based)."""

    data: bytes
    first_line: int
    rejects: list[Reject] = field(default_factory=list)
    _starts: np.ndarray | None = None

    @property
    def starts(self) -> np.ndarray:
        """Byte offsets of the lines (computed once)."""
        if self._starts is None:
            self._starts = line_starts(self.data)
        return self._starts


_scratch = threading.local()


def _equal_mask(data: bytes, byte: int) -> np.ndarray:
    """Where ``data`` holds ``byte`` (a view of a scratch mask, valid until the next call)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    # A per-thread scratch mask, reused: a fresh 16 MiB array per chunk costs page faults.
    mask = getattr(_scratch, "mask", None)
    if mask is None or mask.size < arr.size:
        mask = np.empty(max(arr.size, CHUNK_BYTES + MAX_LINE_BYTES), dtype=bool)
        _scratch.mask = mask
    view = mask[: arr.size]
    np.equal(arr, byte, out=view)
    return view


def byte_positions(data: bytes, byte: int) -> np.ndarray:
    """Offsets of every occurrence of ``byte`` in ``data``, in order."""
    return np.flatnonzero(_equal_mask(data, byte))


def byte_count(data: bytes, byte: int) -> int:
    """How many times ``byte`` occurs in ``data`` (faster than ``bytes.count``)."""
    return int(np.count_nonzero(_equal_mask(data, byte)))


def pair_count(data: bytes, pair: bytes) -> int:
    """How many times the two bytes ``pair`` occur in ``data`` (two uint16 passes, at even
    and odd offsets; occurrences may overlap)."""
    value = int.from_bytes(pair, "little")
    size = len(data) // 2
    mask = getattr(_scratch, "mask", None)
    if mask is None or mask.size < size:
        mask = np.empty(max(len(data), CHUNK_BYTES + MAX_LINE_BYTES), dtype=bool)
        _scratch.mask = mask
    total = 0
    for offset in (0, 1):
        count = (len(data) - offset) // 2
        if count <= 0:
            continue
        words = np.frombuffer(data, dtype="<u2", count=count, offset=offset)
        view = mask[:count]
        np.equal(words, value, out=view)
        total += int(np.count_nonzero(view))
    return total


def line_starts(data: bytes) -> np.ndarray:
    """Byte offsets where each line of ``data`` begins (``data`` ends with a newline)."""
    ends = byte_positions(data, 10)
    return np.concatenate(([0], ends[:-1] + 1)).astype(np.int64)


def iter_line_chunks(
    stream: BinaryIO,
    chunk_bytes: int | None = None,
    max_line_bytes: int | None = None,
) -> Iterator[LineChunk]:
    """Yield chunks of whole lines; over-long lines become Rejects of the chunk after them."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    max_line_bytes = max_line_bytes or MAX_LINE_BYTES
    mapped = map_file(stream)
    if mapped is not None:
        with mapped:
            yield from iter_mapped(mapped, stream.tell(), chunk_bytes, max_line_bytes)
        return
    line_no = 1
    skipping = False  # inside an over-long line whose head was already rejected
    pending: list[Reject] = []
    read_size = max(chunk_bytes, 1024)
    while True:
        block = stream.read(read_size)
        if not block:
            break
        if skipping:
            nl = block.find(b"\n")
            if nl < 0:
                continue
            block = block[nl + 1 :]
            line_no += 1
            skipping = False
            if not block:
                continue
        if block[-1:] != b"\n":
            # Complete the last line (bounded: an over-long line is cut at the limit).
            block += stream.readline(max_line_bytes + 2)
        if block[-1:] == b"\n":
            whole, rest = block, b""
        else:
            cut = block.rfind(b"\n")
            whole, rest = block[: cut + 1], block[cut + 1 :]
        if whole:
            chunk = _split_long_lines(whole, line_no, max_line_bytes, pending)
            pending = []
            line_no += len(chunk.starts)
            yield chunk
        if rest:
            if len(rest) > max_line_bytes:
                pending.append(
                    Reject(
                        line_no, "line_too_long", rest[:RAW_TEXT_LIMIT].decode("utf-8", "replace")
                    )
                )
                skipping = True
            else:  # the last line of the input, without a newline
                chunk = _split_long_lines(rest + b"\n", line_no, max_line_bytes, pending)
                pending = []
                line_no += 1
                yield chunk
    if pending:
        yield LineChunk(b"", line_no, pending)


def map_file(stream: BinaryIO) -> mmap.mmap | None:
    """A read-only map of a plain file (one copy per chunk instead of two), else None."""
    if not isinstance(stream, io.BufferedReader | io.FileIO):
        return None
    try:
        if not stream.seekable() or os.fstat(stream.fileno()).st_size == 0:
            return None
        return mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError):
        return None


def chunk_end(mm: mmap.mmap, pos: int, chunk_bytes: int, max_line_bytes: int) -> int | None:
    """Where the chunk of whole lines that starts at ``pos`` ends (exclusive): the end of
    the line running past ``pos + chunk_bytes``, or the end of the file; None when that
    line is longer than ``max_line_bytes`` (it is then rejected, see ``iter_line_chunks``).
    """
    size = len(mm)
    end = min(pos + chunk_bytes, size)
    if end >= size:
        return size
    nl = mm.find(b"\n", end - 1, min(size, end + max_line_bytes + 1))
    return nl + 1 if nl >= 0 else None


def iter_mapped(
    mm: mmap.mmap, start: int, chunk_bytes: int, max_line_bytes: int, first_line: int = 1
) -> Iterator[LineChunk]:
    """``iter_line_chunks`` over a mapped file from byte ``start`` (the first byte of line
    ``first_line``): same chunks, same rejects."""
    size = len(mm)
    pos = start
    line_no = first_line
    pending: list[Reject] = []
    released = 0
    while pos < size:
        # Drop the pages already read from this process (they stay in the page cache), so
        # the resident set does not grow with the file.
        done = pos - pos % mmap.PAGESIZE
        if done > released and hasattr(mm, "madvise"):
            mm.madvise(mmap.MADV_DONTNEED, released, done - released)
            released = done
        cut = chunk_end(mm, pos, chunk_bytes, max_line_bytes)
        if cut is None:
            # The line running past the chunk is longer than the limit: keep the chunk's
            # whole lines, reject that line once (its head), and go on after its end.
            end = min(pos + chunk_bytes, size)
            last = mm.rfind(b"\n", pos, end)
            whole_end = last + 1 if last >= 0 else pos
            if whole_end > pos:
                chunk = _split_long_lines(mm[pos:whole_end], line_no, max_line_bytes, pending)
                pending = []
                line_no += len(chunk.starts)
                yield chunk
            head = mm[whole_end : whole_end + RAW_TEXT_LIMIT].decode("utf-8", "replace")
            pending.append(Reject(line_no, "line_too_long", head))
            nxt = mm.find(b"\n", whole_end)
            line_no += 1
            pos = size if nxt < 0 else nxt + 1
            continue
        data = mm[pos:cut]
        if not data.endswith(b"\n"):
            data += b"\n"  # the last line of the file, without a newline
        chunk = _split_long_lines(data, line_no, max_line_bytes, pending)
        pending = []
        line_no += len(chunk.starts)
        pos = cut
        yield chunk
    if pending:
        yield LineChunk(b"", line_no, pending)


_MAPS_LINE = re.compile(
    rb"^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+)"
)


def release_file_pages(fd: int, upto: int, since: int = 0) -> None:
    """Drop this process's resident pages of the file open as ``fd`` between file offsets
    ``since`` and ``upto``, in every read-only mapping of it (ours and those of libraries
    such as polars, which maps a file it scans whole), so that the resident set of a scan
    does not grow with the file. A caller that releases a file piece by piece passes the
    end of the last piece as ``since``: the range before it is not walked again.

    Linux only (the mappings are found in ``/proc/self/maps``); elsewhere nothing is done.
    ``MADV_DONTNEED`` on a read-only file mapping only unmaps pages: they stay in the page
    cache, and a later read of them faults them in again with the same content.
    """
    if upto <= since or not hasattr(mmap, "MADV_DONTNEED"):
        return
    try:
        st = os.fstat(fd)
        with open("/proc/self/maps", "rb") as fh:
            table = fh.read()
    except OSError:
        return
    madvise = _madvise()
    if madvise is None:
        return
    for line in table.splitlines():
        m = _MAPS_LINE.match(line)
        if m is None or int(m.group(7)) != st.st_ino or b"w" in m.group(3):
            continue
        if (int(m.group(5), 16), int(m.group(6), 16)) != (os.major(st.st_dev), os.minor(st.st_dev)):
            continue
        lo, hi, offset = int(m.group(1), 16), int(m.group(2), 16), int(m.group(4), 16)
        skip = max(0, since - offset)
        skip -= skip % mmap.PAGESIZE
        length = min(hi - lo, upto - offset) - skip
        length -= length % mmap.PAGESIZE
        if length > 0:
            madvise(lo + skip, length, mmap.MADV_DONTNEED)


@functools.cache
def _madvise() -> Callable[[int, int, int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


def _split_long_lines(
    data: bytes, first_line: int, max_line_bytes: int, pending: list[Reject]
) -> LineChunk:
    """Drop lines longer than the limit from ``data`` (blanking them keeps numbering)."""
    if len(data) <= max_line_bytes:
        return LineChunk(data, first_line, list(pending))
    starts = line_starts(data)
    lengths = np.diff(np.append(starts, len(data)))
    long_idx = np.flatnonzero(lengths > max_line_bytes + 1)
    rejects = list(pending)
    if long_idx.size == 0:
        return LineChunk(data, first_line, rejects, starts)
    parts: list[bytes] = []
    prev = 0
    for i in long_idx.tolist():  # loop over over-long lines only (rare)
        s, e = int(starts[i]), int(starts[i] + lengths[i])
        parts.append(data[prev:s])
        parts.append(b"\n")  # keep an empty line so line numbers stay true
        rejects.append(
            Reject(
                first_line + i,
                "line_too_long",
                data[s : s + RAW_TEXT_LIMIT].decode("utf-8", "replace"),
            )
        )
        prev = e
    parts.append(data[prev:])
    return LineChunk(b"".join(parts), first_line, rejects)


class _Prefixed(io.RawIOBase):
    """A stream that first returns ``prefix`` and then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = memoryview(prefix)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if len(self._prefix):
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        readinto = getattr(self._stream, "readinto", None)
        if readinto is not None:
            return readinto(buffer) or 0
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def prepend(prefix: bytes, stream: BinaryIO) -> BinaryIO:
    """``stream`` with ``prefix`` (bytes already read from it, e.g. for sniffing) put back."""
    if not prefix:
        return stream
    return io.BufferedReader(_Prefixed(prefix, stream), buffer_size=1024 * 1024)  # type: ignore[return-value]
