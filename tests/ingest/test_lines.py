"""Line chunking: whole lines, true line numbers, bounded over-long lines."""

from __future__ import annotations

import io
import mmap
import random
import sys

import numpy as np
import pytest

from forensics.ingest.lines import iter_line_chunks, release_file_pages


def test_chunks_hold_whole_lines_with_true_line_numbers_across_boundaries():
    rng = random.Random(3)
    lines = [("x" * rng.randint(0, 300)).encode() for _ in range(500)]
    data = b"\n".join(lines)  # no newline at the end: the last line still counts
    chunks = list(iter_line_chunks(io.BytesIO(data), chunk_bytes=1000, max_line_bytes=10_000))
    assert b"".join(c.data for c in chunks) == data + b"\n"
    for c in chunks:
        assert c.data.endswith(b"\n")
        first = c.data.split(b"\n", 1)[0]
        assert first == lines[c.first_line - 1]
    assert not any(c.rejects for c in chunks)


def test_over_long_lines_are_rejected_once_and_numbering_goes_on():
    data = b"a\n" + b"y" * 5000 + b"\nb\n" + b"z" * 7000  # the last one unterminated
    chunks = list(iter_line_chunks(io.BytesIO(data), chunk_bytes=1024, max_line_bytes=2000))
    rejects = [r for c in chunks for r in c.rejects]
    assert [(r.line, r.reason) for r in rejects] == [(2, "line_too_long"), (4, "line_too_long")]
    kept = [(c.first_line + i, line) for c in chunks for i, line in enumerate(c.data.splitlines())]
    assert (1, b"a") in kept and (3, b"b") in kept
    assert all(len(line) <= 2000 for _n, line in kept)


def test_a_mapped_file_gives_the_same_chunks_and_rejects_as_a_stream(tmp_path):
    rng = random.Random(5)
    parts = []
    for i in range(400):
        n = 3000 if i in (7, 200) else rng.randint(0, 400)  # two over-long lines
        parts.append((f"{i}:" + "q" * n).encode())
    data = b"\n".join(parts) + b"\n" + b"r" * 2500  # ends in an unterminated over-long line
    path = tmp_path / "f.log"
    path.write_bytes(data)

    def flatten(chunk_iter):
        chunks = list(chunk_iter)
        kept = [
            (c.first_line + i, ln)
            for c in chunks
            for i, ln in enumerate(c.data.split(b"\n")[:-1])
            if ln
        ]
        rejects = [(r.line, r.reason) for c in chunks for r in c.rejects]
        return kept, rejects

    streamed = flatten(iter_line_chunks(io.BytesIO(data), chunk_bytes=1500, max_line_bytes=2000))
    with open(path, "rb") as fh:
        mapped = flatten(iter_line_chunks(fh, chunk_bytes=1500, max_line_bytes=2000))
    assert mapped == streamed
    assert streamed[1] == [(8, "line_too_long"), (201, "line_too_long"), (401, "line_too_long")]


def _resident_kb(address: int) -> int:
    """Resident kilobytes of this process's mapping that starts at ``address``."""
    with open("/proc/self/smaps") as fh:
        inside = False
        for line in fh:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                inside = int(head.split("-")[0], 16) == address
            elif inside and head == "Rss:":
                return int(line.split()[1])
    raise AssertionError("mapping not found")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
def test_releasing_file_pages_drops_only_the_range_asked_for(tmp_path):
    # A scan of a big file releases its pages piece by piece so that memory does not grow
    # with the file: each call must drop [since, upto) and keep the pages outside it.
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"x" * (8 << 20))
    with open(path, "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        view = np.frombuffer(mm, dtype=np.uint8)
        address = view.ctypes.data
        assert int(view[:: mmap.PAGESIZE].sum()) > 0  # every page touched: resident
        before = _resident_kb(address)
        assert before >= 8 * 1024 - 64
        release_file_pages(fh.fileno(), 6 << 20, since=2 << 20)
        after = _resident_kb(address)
        assert before - after == pytest.approx(4 * 1024, abs=64)  # the 4 MiB asked for
        release_file_pages(fh.fileno(), 8 << 20, since=6 << 20)
        assert _resident_kb(address) == pytest.approx(2 * 1024, abs=64)  # the first 2 MiB stay
        del view
        mm.close()
