"""Line chunking: whole lines, true line numbers, bounded over-long lines."""

from __future__ import annotations

import io
import random

from forensics.ingest.lines import iter_line_chunks


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
