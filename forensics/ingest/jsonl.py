"""JSON Lines / NDJSON (and a JSON array of objects, as some exports write).

Each chunk of lines is parsed by polars' native NDJSON reader in one call; only a chunk
that fails goes through a per-line parse, which finds the bad lines (broken JSON, NUL
bytes, invalid UTF-8, a line that is not an object) and rejects them with a reason, then
parses the good lines natively again. Nested objects become struct columns, so that
``--map account_id=metadata.user_id`` can reach inside them.
"""

from __future__ import annotations

import contextlib
import io
import json
import mmap
import os
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import polars as pl

from forensics.ingest import lines
from forensics.ingest.base import Batch, ReaderOptions, Reject
from forensics.ingest.lines import (
    LineChunk,
    byte_count,
    byte_positions,
    iter_line_chunks,
    line_starts,
    map_file,
    pair_count,
)
from forensics.ingest.threads import ordered_map


def _first_char(head: bytes) -> bytes:
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return stripped[:1]


# Chunks parsed at the same time (threads). polars parses one 16 MiB chunk on one core,
# so with one worker the reader was the critical path; with two (each chunk's schema is
# guessed from the chunk before and checked in order, see ``JsonlReader.read``), 1M rows
# took 2.57 s against 2.71 s on an idle machine (5.1 against 4.9 CPU-s, ~200 MB more RSS).
PARSE_WORKERS = 2

# Deeper JSON is not a log record, and polars' parser would overflow its stack on it (a
# hostile line of 10,000 nested brackets crashes the process): such lines are rejected.
MAX_JSON_DEPTH = 128
# Every line's openers ("[" and "{") are counted in one pass over the chunk: a line
# with more than MAX_JSON_DEPTH of them might be that deep, and sends the chunk to the
# per-line path, where its exact depth is checked. Short deep lines matter too: polars
# takes seconds to parse one line nested a few hundred levels (a denial of service).


def _depth_bound(data: bytes, block: int = 8 * 1024 * 1024) -> int:
    """An upper bound of the JSON nesting depth of ``data`` (brackets inside strings count)."""
    deepest = level = 0
    for lo in range(0, len(data), block):
        arr = np.frombuffer(data, dtype=np.uint8, count=min(block, len(data) - lo), offset=lo)
        step = (arr == 91).astype(np.int32) + (arr == 123) - (arr == 93) - (arr == 125)
        running = np.cumsum(step) + level
        if running.size:
            deepest = max(deepest, int(running.max()))
            level = int(running[-1])
    return deepest


def _depth(value: object) -> int:
    """The nesting depth of a parsed JSON value (iterative: no recursion limit)."""
    deepest = 0
    todo = [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            todo.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


# Every byte but newlines and openers, for bytes.translate (C speed, ~3 GB/s).
_NOT_OPENER_OR_NEWLINE = bytes(b for b in range(256) if b not in b"\n[{")


def max_openers_per_line(data: bytes) -> int:
    """The most ``[`` plus ``{`` on one line of ``data`` (an upper bound of its JSON depth).

    Deleting every other byte but newlines leaves a short string such as ``{{\n{\n``: the
    gaps between its newlines are the per-line counts.
    """
    text = data if isinstance(data, bytes) else bytes(data)
    kept = np.frombuffer(text.translate(None, _NOT_OPENER_OR_NEWLINE), dtype=np.uint8)
    if kept.size == 0:
        return 0
    newlines = np.flatnonzero(kept == 10)
    bounds = np.concatenate(([-1], newlines, [kept.size]))
    return int((np.diff(bounds) - 1).max())


def _deep_suspects(data: bytes, starts: np.ndarray | None = None, brackets: bool = True) -> bool:
    """Whether some line has more openers than MAX_JSON_DEPTH (it may be nested that deep).

    The common case is settled by two counts: when every line (``starts``) begins with
    ``{``, each holds at least one opener, so no line holds more than T - (L - 1) of the
    chunk's T openers on L lines; flat objects give T - L + 1 = 1. Otherwise the openers
    are counted line by line. ``brackets=False``: the caller knows ``data`` holds no ``[``.
    """
    total = byte_count(data, 123) + (byte_count(data, 91) if brackets else 0)
    if total <= MAX_JSON_DEPTH:
        return False
    if starts is not None and starts.size and total - starts.size + 1 <= MAX_JSON_DEPTH:
        firsts = np.frombuffer(data, dtype=np.uint8)[starts]
        if bool((firsts == 123).all()):
            return False
    return max_openers_per_line(data) > MAX_JSON_DEPTH


_ESCAPED_NUL = np.frombuffer(b"u0000", dtype=np.uint8)


def has_escaped_nul(data: bytes) -> bool:
    """Whether ``data`` holds the JSON escape ``\\u0000`` (same answer as a substring
    search, about 5x faster: only the bytes after each backslash are compared, and
    text without any backslash is settled by one comparison pass)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    if not byte_count(data, 92):
        return False
    slashes = byte_positions(data, 92)
    slashes = slashes[slashes + 5 < arr.size]
    if not slashes.size:
        return False
    found = np.ones(slashes.size, dtype=bool)
    for i, byte in enumerate(_ESCAPED_NUL.tolist()):
        found &= arr[slashes + 1 + i] == byte
    return bool(found.any())


@dataclass
class TextBatch(Batch):
    """A batch whose reader has ruled out NUL characters in its text (``nul_free``)."""

    nul_free: bool = False


class JsonlReader:
    """One JSON object per line (or a JSON array of objects)."""

    name = "jsonl"

    def sniff(self, head: bytes) -> bool:
        first = _first_char(head)
        if first == b"{":
            return True
        if first == b"[":
            return head.lstrip(b"\xef\xbb\xbf \t\r\n[")[:1] in (b"{", b"]", b"")
        return False

    def read(self, stream: BinaryIO, options: ReaderOptions) -> Iterator[Batch]:
        buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
        head = buffered.peek(4096)[:4096]  # type: ignore[union-attr]
        if _first_char(head) == b"[":
            yield from read_json_array(buffered)
            return
        schema = _RunningSchema(options.fields)
        mapped = map_file(buffered) if SCAN_WHOLE_FILES else None
        if mapped is not None:
            if buffered.tell() == 0:
                yield from _read_scanned(buffered, mapped, schema)
                return
            mapped.close()
        yield from _read_chunks(iter_line_chunks(buffered), schema)


def _read_chunks(chunks: Iterator[LineChunk], schema: _RunningSchema) -> Iterator[TextBatch]:
    """Parse chunks of lines one by one (two at a time), growing ``schema`` as they go."""

    def planned() -> Iterator[_Plan]:
        # Chunk i is read with the fields known after chunks 0 .. i-1. So that chunks
        # can be parsed at the same time, that is guessed ahead: the fields chunk i-1
        # will leave if it is read with its sampled schema and no late field (nearly
        # always); the guess is checked in order below, and a wrong one costs a re-read.
        assumed = dict(schema.fields)
        for chunk in chunks:
            known = schema.copy()  # fingerprints learnt so far: they only save time
            known.fields = dict(assumed)
            sampled = known.plan(chunk.data, chunk.starts) if chunk.data else None
            yield _Plan(chunk, known, assumed, sampled)
            if sampled is not None:
                assumed = _RunningSchema.fields_after(assumed, sampled)

    def parse(_i: int, plan: _Plan) -> tuple[TextBatch, _Plan]:
        chunk = plan.chunk
        frame, rejects = parse_ndjson_chunk(
            chunk.data, chunk.first_line, plan.known, chunk.starts, plan.sampled
        )
        # Raw NUL bytes never reach the frame (those lines are rejected); escaped ones
        # can only be there if the text holds the escape.
        nul_free = not has_escaped_nul(chunk.data)
        return TextBatch(frame, chunk.rejects + rejects, nul_free=nul_free), plan

    for batch, plan in ordered_map(parse, planned(), PARSE_WORKERS, "forensics-parse"):
        if list(plan.assumed.items()) != list(schema.fields.items()):
            # Guessed wrong: read the chunk again with the fields as they are.
            chunk, plan.known = plan.chunk, schema.copy()
            frame, rejects = parse_ndjson_chunk(
                chunk.data, chunk.first_line, plan.known, chunk.starts
            )
            batch = TextBatch(frame, chunk.rejects + rejects, nul_free=batch.nul_free)
        schema.absorb(plan.known)
        yield batch


# A plain JSONL file is parsed by one polars scan of the whole file (see ``_read_scanned``)
# when the cheap checks find its chunks clean; False: always chunk by chunk.
SCAN_WHOLE_FILES = True


@dataclass
class _Span:
    """A chunk of the mapped file that the chunked path would read natively and whole,
    with exactly the fields the file's first chunk was read with."""

    pos: int  # first byte
    cut: int  # end (exclusive)
    first_line: int
    lines: int
    nul_free: bool  # no escaped NUL in its text
    picks: np.ndarray  # its sampled lines (indexes)
    sample: bytes  # their text
    data: np.ndarray  # its bytes (a view of the map)
    spaced: bool  # holds a tab or a carriage return


class _Dirty(Exception):
    """A chunk the scan cannot stand in for: the chunked path takes over from it."""

    def __init__(self, pos: int, first_line: int) -> None:
        super().__init__(pos, first_line)
        self.pos, self.first_line = pos, first_line


def _read_scanned(stream: BinaryIO, mm: mmap.mmap, schema: _RunningSchema) -> Iterator[TextBatch]:
    """A mapped JSONL file, parsed by one polars scan of the whole file where it is clean.

    The chunked path (``_read_chunks``) copies each 16 MiB chunk out of the file map and
    polars copies it again, then parses it on one core. Here polars parses the file from
    its own map, in parallel, with no copies. Nesting depth and line length are settled
    for the whole file before the scan starts (``_safe_to_scan``: the scan runs ahead of
    any check). Then the same chunks are checked in order, on the map, by the cheap tests
    the chunked path uses to decide that a chunk reads natively and whole: no over-long
    line, no NUL byte, every line starting with ``{`` (no blank line: then row ``i`` is
    line ``i + 1``), the scan's rows being those of the chunk's sampled lines,
    and a sample of the chunk adding no field and changing no type (the chunked path's
    ``plan``), so the scan reads the fields the first chunk is read with; then, on the
    scan's rows of the chunk, its key count (no wanted key beyond those fields, see
    ``_batches_by_span``). Rows are handed on chunk by chunk, each once its chunk passed.

    The first chunk that fails a test, or a scan error (a line that is broken JSON, not
    UTF-8, of another type than the schema's), hands the file from that chunk on to the
    chunked path, with the fields as they are then: it finds the bad lines and rejects
    them with line numbers, and grows the fields as it always does. So the batches are
    those of the chunked path, row for row (``.gz`` and ``.zst`` inputs, which cannot be
    mapped, always take the chunked path).
    """
    chunk_bytes, max_line_bytes = lines.CHUNK_BYTES, lines.MAX_LINE_BYTES
    path = _same_file_path(stream)
    resume = _Dirty(0, 1)
    scan: Iterator[pl.DataFrame] | None = None
    try:
        try:
            if path is None:
                raise _Dirty(0, 1)
            arr = np.frombuffer(mm, dtype=np.uint8)
            kept = _safe_to_scan(mm, arr, chunk_bytes, max_line_bytes)
            if kept is None:
                raise _Dirty(0, 1)
            first = _check_span(mm, arr, 0, 1, chunk_bytes, max_line_bytes, schema, None, kept)
            # The fields the first chunk is read with, and so every chunk.
            try:
                scan = iter(pl.scan_ndjson(path, schema=schema.fields).collect_batches())
            except pl.exceptions.PolarsError:
                raise _Dirty(0, 1) from None
            spans = _checked_spans(mm, arr, first, chunk_bytes, max_line_bytes, schema, kept)
            del arr
            yield from _batches_by_span(scan, spans, schema, stream.fileno())
            return
        except _Dirty as dirty:
            resume = dirty
        scan = None  # stops the scan
        if resume.pos == 0:
            schema.fields = {}
        yield from _read_chunks(
            lines.iter_mapped(mm, resume.pos, chunk_bytes, max_line_bytes, resume.first_line),
            schema,
        )
    finally:
        scan = None
        with contextlib.suppress(BufferError):
            mm.close()  # else closed when the last view of it is gone


# Line starts kept from the safety pass for the checks (int64 offsets; beyond this many
# lines they are found again, so that memory does not grow with the file): 8 MB.
_KEPT_STARTS = 1_000_000


def _safe_to_scan(
    mm: mmap.mmap, arr: np.ndarray, chunk_bytes: int, max_line_bytes: int
) -> dict[int, np.ndarray] | None:
    """Whether polars may parse the whole file: no line may be nested deeper than
    MAX_JSON_DEPTH (polars' parser crashes the process on a line of 10,000 brackets) and
    none may be absurdly long (no line runs more than ``max_line_bytes`` past a chunk
    end, so none is longer than a chunk and that). A scan runs ahead of the checks of
    ``_check_span``, so these two are settled for the whole file before it starts.

    Per chunk (with the chunked path's cut), as ``_deep_suspects``: when every line
    starts with ``{``, a line holds at most T - L + 1 of the chunk's T openers on L
    lines; otherwise, or when that bound is too high, openers are counted per line.
    Returns None when the file fails, else the chunks' line starts (by chunk start,
    up to ``_KEPT_STARTS`` lines in all), which the checks need again.
    """
    kept: dict[int, np.ndarray] = {}
    pos, size, held = 0, len(mm), 0
    while pos < size:
        cut = lines.chunk_end(mm, pos, chunk_bytes, max_line_bytes)
        if cut is None:
            return None
        data, starts = _chunk_lines(mm, arr, pos, cut)
        if _deep_suspects(data, starts, brackets=mm.find(b"[", pos, cut) >= 0):  # type: ignore[arg-type]
            return None
        if held + starts.size <= _KEPT_STARTS:
            kept[pos] = starts
            held += starts.size
        # This pass only counts: its pages may go (they stay in the page cache).
        done = cut - cut % mmap.PAGESIZE
        if done > pos - pos % mmap.PAGESIZE and hasattr(mm, "madvise"):
            mm.madvise(
                mmap.MADV_DONTNEED, pos - pos % mmap.PAGESIZE, done - pos + pos % mmap.PAGESIZE
            )
        pos = cut
    return kept


def _chunk_lines(
    mm: mmap.mmap, arr: np.ndarray, pos: int, cut: int
) -> tuple[np.ndarray, np.ndarray]:
    """The bytes of the chunk ``pos:cut`` (a view of the map; a copy with a newline added
    for a last line without one) and its line starts."""
    if mm[cut - 1] == 10:
        data = arr[pos:cut]
    else:
        data = np.frombuffer(mm[pos:cut] + b"\n", dtype=np.uint8)
    return data, line_starts(data)  # type: ignore[arg-type]


def _same_file_path(stream: BinaryIO) -> str | None:
    """The path ``stream`` was opened from, if it still names the same file."""
    name = getattr(stream, "name", None)
    if not isinstance(name, str):
        return None
    try:
        here, there = os.fstat(stream.fileno()), os.stat(name)
    except OSError:
        return None
    return name if (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino) else None


def _check_span(
    mm: mmap.mmap,
    arr: np.ndarray,
    pos: int,
    first_line: int,
    chunk_bytes: int,
    max_line_bytes: int,
    schema: _RunningSchema,
    fields: dict[str, pl.DataType] | None,
    kept: dict[int, np.ndarray],
) -> _Span:
    """The chunk at ``pos``, checked (see ``_read_scanned``); raises ``_Dirty`` if it fails.

    ``fields``: those every chunk must keep (None for the first chunk, whose sampled
    fields become the schema's); ``kept``: line starts found by ``_safe_to_scan``.
    """
    dirty = _Dirty(pos, first_line)
    cut = lines.chunk_end(mm, pos, chunk_bytes, max_line_bytes)
    if cut is None:
        raise dirty
    starts = kept.pop(pos, None)
    if starts is None:
        data, starts = _chunk_lines(mm, arr, pos, cut)
    elif mm[cut - 1] == 10:
        data = arr[pos:cut]
    else:
        data = np.frombuffer(mm[pos:cut] + b"\n", dtype=np.uint8)
    if len(data) > max_line_bytes:
        if bool((np.diff(np.append(starts, len(data))) > max_line_bytes + 1).any()):
            raise dirty
    # (Nesting depth: see _safe_to_scan.)
    if not bool((data[starts] == 123).all()) or mm.find(b"\x00", pos, cut) >= 0:
        raise dirty
    picks = schema.sample_picks(len(starts))
    sample = schema._sample(data, starts, picks)  # type: ignore[arg-type]
    sampled = schema.plan_sample(sample)
    if not sampled:
        raise dirty
    if fields is None:
        schema.fields = dict(sampled)
    elif list(sampled.items()) != list(fields.items()):
        raise dirty
    nul_free = mm.find(b"\\", pos, cut) < 0 or not has_escaped_nul(data)  # type: ignore[arg-type]
    spaced = mm.find(b"\t", pos, cut) >= 0 or mm.find(b"\r", pos, cut) >= 0
    return _Span(pos, cut, first_line, len(starts), nul_free, picks, sample, data, spaced)


def _checked_spans(
    mm: mmap.mmap,
    arr: np.ndarray,
    first: _Span,
    chunk_bytes: int,
    max_line_bytes: int,
    schema: _RunningSchema,
    kept: dict[int, np.ndarray],
) -> Iterator[_Span]:
    """The file's chunks in order, each checked against the first chunk's fields."""
    fields = dict(schema.fields)
    span = first
    yield span
    while span.cut < len(mm):
        span = _check_span(
            mm,
            arr,
            span.cut,
            span.first_line + span.lines,
            chunk_bytes,
            max_line_bytes,
            schema,
            fields,
            kept,
        )
        yield span


def _batches_by_span(
    scan: Iterator[pl.DataFrame], spans: Iterator[_Span], schema: _RunningSchema, fd: int
) -> Iterator[TextBatch]:
    """The scan's rows cut into one batch per checked chunk: row ``i`` is line ``i + 1``.

    That holds only while the scan has lost no row, and a polars scan that fails on a line
    does not stop there: it leaves out the rows of that part of the file, goes on with
    the next ones and raises at the end. So the rows of each chunk are checked against
    its sampled lines (its first lines, lines spread over it and its last line, read
    again on their own): rows shifted by a loss fail that test at the chunk of the loss.
    Then, as in ``_RunningSchema.parse``, the key count (or the key fingerprints) must
    show that the chunk holds no wanted key beyond the fields.
    """
    fields = dict(schema.fields)
    flat = all(_flat(d) for d in fields.values())
    pending: deque[pl.DataFrame] = deque()
    have = released = 0
    for span in spans:
        dirty = _Dirty(span.pos, span.first_line)
        while have < span.lines:
            try:
                frame = next(scan)
            except (StopIteration, pl.exceptions.PolarsError):
                raise dirty from None
            pending.append(frame)
            have += frame.height
        pieces, need = [], span.lines
        while need:
            frame = pending[0]
            if frame.height <= need:
                pieces.append(pending.popleft())
                need -= frame.height
            else:
                pieces.append(frame.slice(0, need))
                pending[0] = frame.slice(need)
                need = 0
        have -= span.lines
        frame = pieces[0] if len(pieces) == 1 else pl.concat(pieces, rechunk=False)
        try:
            again = pl.read_ndjson(span.sample, schema=fields)
        except pl.exceptions.PolarsError:
            raise dirty from None
        if not frame[span.picks].equals(again, null_equal=True):
            raise dirty  # rows lost before or in this chunk
        data = span.data
        if not (flat and _every_key_read(data, frame, span.spaced)):  # type: ignore[arg-type]
            if schema.late_keys(data, fields):  # type: ignore[arg-type]
                raise dirty
        first = span.first_line
        yield TextBatch(
            frame.with_columns(source_line=pl.int_range(first, first + span.lines, dtype=pl.Int64)),
            [],
            nul_free=span.nul_free,
        )
        # The chunks before this one are parsed and handed on: their pages may go.
        lines.release_file_pages(fd, span.pos, released)
        released = span.pos
    # More rows after the last line can only be lines added to the file since it was
    # mapped (a log still being written): the chunked path would not read them either.


@dataclass
class _Plan:
    """A chunk, the state its parse starts from, and the guess behind that state."""

    chunk: LineChunk
    known: _RunningSchema  # fields = assumed
    assumed: dict[str, pl.DataType]  # the fields guessed to be known after the chunks before
    sampled: dict[str, pl.DataType] | None  # known.plan of the chunk


def read_json_array(stream: BinaryIO) -> Iterator[Batch]:
    """A JSON array of objects: parsed whole (exports of this shape are bounded in size)."""
    data = stream.read()
    if _depth_bound(data) <= MAX_JSON_DEPTH + 1:  # +1: the array itself
        try:
            frame = pl.read_json(io.BytesIO(data), infer_schema_length=None)
            yield Batch(
                frame.with_columns(source_line=pl.int_range(1, pl.len() + 1, dtype=pl.Int64))
            )
            return
        except Exception:
            pass
    head = data[:4096].decode("utf-8", "replace")
    try:
        records = json.loads(data)
    except RecursionError:
        yield Batch(_empty(), [Reject(1, "bad_json: nested too deeply", head)])
        return
    except (ValueError, UnicodeDecodeError) as exc:
        yield Batch(_empty(), [Reject(1, f"bad_json: {str(exc)[:200]}", head)])
        return
    if not isinstance(records, list):
        yield Batch(_empty(), [Reject(1, "not_an_array_of_objects", head)])
        return
    # The slow path (records of mixed types, or deep ones): one record at a time.
    good: list[dict[str, Any]] = []
    lines: list[int] = []
    rejects: list[Reject] = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            rejects.append(Reject(i + 1, "not_an_object", json.dumps(record)[:4096]))
        elif _depth(record) > MAX_JSON_DEPTH:
            rejects.append(Reject(i + 1, "bad_json: nested too deeply", ""))
        else:
            good.append(record)
            lines.append(i + 1)
    frame = _frame_from_dicts(good)
    yield Batch(frame.with_columns(source_line=pl.Series(lines, dtype=pl.Int64)), rejects)


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={"source_line": pl.Int64})


def _frame_from_dicts(rows: list[dict[str, Any]]) -> pl.DataFrame:
    if not rows:
        return _empty()
    try:
        return pl.read_ndjson(
            io.BytesIO("\n".join(json.dumps(r) for r in rows).encode()), infer_schema_length=None
        )
    except Exception:
        # Values of clashing types in one field: keep them as text, the pipeline casts.
        return pl.from_dicts(
            [
                {k: (v if isinstance(v, str | None) else json.dumps(v)) for k, v in r.items()}
                for r in rows
            ],
            infer_schema_length=None,
        )


def _fits(needle: bytes, window: bytes) -> bool:
    """Whether a key fingerprint (see ``_RunningSchema.late_keys``) may be ``needle``'s."""
    return needle.endswith(window) if len(needle) >= len(window) else window.endswith(needle)


def _key_ends(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Where JSON keys end in ``data`` (the offset of each closing quote), and every 8-byte
    window of ``data`` as an unaligned little-endian uint64 view (window ``i`` starts at
    byte ``i``; no copy).

    A key ends where a quote is followed by a colon (or by a space and a colon). Escaped
    quotes inside strings (``\\":``) count too: more to look at, never a key missed. Keys
    ending in the first 7 bytes are left out (they are on the first line, always sampled).
    """
    if len(data) < 16:
        data = b" " * 16 + bytes(data)
    arr = np.frombuffer(data, dtype=np.uint8)
    colons = byte_positions(data, 58)
    colons = colons[colons >= 8]
    before = arr[colons - 1]
    quote = colons[before == 34] - 1
    spaced = colons[before == 32]
    spaced = spaced[arr[spaced - 2] == 34] - 2
    ends = np.concatenate((quote, spaced[spaced >= 7])) if spaced.size else quote
    words = np.ndarray((arr.size - 7,), dtype="<u8", buffer=data, strides=(1,))
    return ends, words


class _KnownPrints:
    """A set of key fingerprints (a uint64, or a pair of them for 16-byte windows) with
    exact, vectorised membership.

    A direct-mapped table: slot ``hash(lo, hi) >> 48`` holds one fingerprint (``lo`` = 0
    marks an empty slot: a fingerprint ends in a quote, so it is never 0). Membership is a
    gather and a comparison per key (a few ms per 16 MiB chunk); a fingerprint whose slot
    another one holds is simply not held, and is looked at the slow way every time.
    """

    BITS = 12  # 4096 slots: a log has tens to hundreds of distinct key fingerprints
    _MUL = np.uint64(0x9E3779B97F4A7C15)
    _MUL_HI = np.uint64(0xC2B2AE3D27D4EB4F)

    def __init__(self) -> None:
        self.lo = np.zeros(1 << self.BITS, dtype=np.uint64)
        self.hi = np.zeros(1 << self.BITS, dtype=np.uint64)

    def copy(self) -> _KnownPrints:
        twin = _KnownPrints()
        twin.lo, twin.hi = self.lo.copy(), self.hi.copy()
        return twin

    def _slots(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return ((lo ^ (hi * self._MUL_HI)) * self._MUL) >> np.uint64(64 - self.BITS)

    def unknown(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Which of the fingerprints ``(lo, hi)`` are not held (a boolean mask)."""
        slots = self._slots(lo, hi)
        return (self.lo[slots] != lo) | (self.hi[slots] != hi)

    def add(self, prints: list[tuple[int, int]]) -> None:
        if not prints:
            return
        lo, hi = np.array(prints, dtype=np.uint64).reshape(-1, 2).T
        slots = self._slots(lo, hi)
        free = self.lo[slots] == 0
        # New fingerprints may share a free slot: the last write wins, the others stay out.
        self.lo[slots[free]], self.hi[slots[free]] = lo[free], hi[free]

    def absorb(self, other: _KnownPrints) -> None:
        free = self.lo == 0
        self.lo[free], self.hi[free] = other.lo[free], other.hi[free]


class _RunningSchema:
    """The fields seen so far in a file, so that most chunks parse without inference.

    Inferring a schema from every line of a chunk costs more than parsing it, so each chunk
    is parsed with the fields seen so far plus those found in a sample of its lines (its
    first lines and lines spread evenly over it). A field whose type differs between
    lines is read as text (the pipeline converts text).

    A field outside the sample is read all the same when the mapping may use it
    (``wanted``: the top-level keys of every source the pipeline maps, see
    ``MappingSpec.source_keys``): the chunk's keys are found without parsing it (see
    ``late_keys``), and a wanted key among them that the schema lacks is added as
    text. Other fields that appear in none of the sampled lines of a chunk and in no
    earlier chunk are not read from that chunk (nothing maps them).

    Field names are data too: a nested object with more than ``MAX_NESTED_FIELDS`` keys
    (user-supplied metadata, say) is kept as JSON text instead of a struct of thousands of
    columns, and at most ``MAX_FIELDS`` top-level fields are read.
    """

    SAMPLE_LINES = 1000  # for the first chunk of a file
    LATER_SAMPLE_LINES = 200  # for the others, once fields are known
    MAX_FIELDS = 512
    MAX_NESTED_FIELDS = 256

    def __init__(self, wanted: Iterable[str] = ()) -> None:
        self.fields: dict[str, pl.DataType] = {}
        self.wanted = frozenset(wanted)
        self._needles = {k: b'"' + k.encode() + b'"' for k in self.wanted}
        # Fingerprints (8 bytes; 16 for longer keys) known to be no missing wanted key.
        self._seen: set[int] = set()
        self._seen_long: set[tuple[int, int]] = set()
        # Most of ``_seen`` and ``_seen_long``, for a vectorised first look.
        self._known, self._known_long = _KnownPrints(), _KnownPrints()

    def copy(self) -> _RunningSchema:
        """An independent copy (a chunk parsed in a thread works on its own)."""
        twin = _RunningSchema(())
        twin.wanted, twin._needles = self.wanted, self._needles
        twin.fields, twin._seen = dict(self.fields), set(self._seen)
        twin._seen_long = set(self._seen_long)
        twin._known, twin._known_long = self._known.copy(), self._known_long.copy()
        return twin

    def absorb(self, other: _RunningSchema) -> None:
        """Take in what a copy learnt from its chunk (call in chunk order)."""
        for name, dtype in other.fields.items():
            self._add(self.fields, name, dtype)
        self._seen |= other._seen
        self._seen_long |= other._seen_long
        self._known.absorb(other._known)
        self._known_long.absorb(other._known_long)

    def _add(self, schema: dict[str, pl.DataType], name: str, dtype: pl.DataType) -> None:
        if name not in schema:
            if len(schema) < self.MAX_FIELDS:
                schema[name] = dtype
        elif schema[name] == pl.Null:
            schema[name] = dtype
        elif schema[name] != dtype and dtype != pl.Null:
            schema[name] = _common_type(schema[name], dtype)

    def late_keys(self, data: bytes, schema: Collection[str]) -> list[str]:
        """The wanted keys that occur as keys in ``data`` but are not in ``schema``.

        Every key of the chunk ends in a quote and a colon; the 8 bytes up to that quote
        (a fingerprint) are cheap to take for all of them at once. A fingerprint that no
        missing wanted key fits is remembered and never looked at again. One that fits a
        key of up to 6 bytes holds the whole key with its opening quote: found. For longer
        keys, the 16 bytes up to the quote at those places decide the same way (remembered
        too); a key longer than 14 bytes that fits them is confirmed by a search for
        ``"key"`` in the bytes. A key added in error (an escaped quote inside a value)
        reads as an all-null column, which is dropped. Remembered fingerprints are first
        looked up all at once (``_KnownPrints``), so a chunk whose keys are all familiar
        costs a few passes over its bytes and no Python loop.
        """
        missing = [k for k in self.wanted if k not in schema]
        if not missing:
            return []
        ends, words = _key_ends(data)
        if not ends.size:
            return []
        last8 = words[ends - 7]
        zero = np.zeros(1, dtype=np.uint64)
        todo = np.flatnonzero(self._known.unknown(last8, zero))
        if not todo.size:
            return []
        ends, last8 = ends[todo], last8[todo]
        wide = ends >= 15  # a 16-byte window fits before the quote
        hi = np.zeros_like(last8)
        hi[wide] = words[ends[wide] - 15]
        todo = np.flatnonzero(self._known_long.unknown(last8, hi) | ~wide)
        if not todo.size:
            return []
        ends, last8, hi, wide = ends[todo], last8[todo], hi[todo], wide[todo]
        found: set[str] = set()
        longer: dict[int, list[str]] = {}  # fingerprint -> longer keys that fit it
        new_seen: list[tuple[int, int]] = []
        for fp in pl.Series(last8, dtype=pl.UInt64).unique().to_list():
            if fp in self._seen:
                continue
            w8 = int(fp).to_bytes(8, "little")
            fits = [k for k in missing if _fits(self._needles[k], w8)]
            if not fits:
                self._seen.add(fp)
                new_seen.append((fp, 0))
                continue
            found.update(k for k in fits if len(self._needles[k]) <= 8)
            if any(len(self._needles[k]) > 8 for k in fits):
                longer[fp] = [k for k in fits if len(self._needles[k]) > 8]
        self._known.add(new_seen)
        if longer:
            text = data if isinstance(data, bytes) else bytes(data)
            # The 16-byte windows of those keys, distinct, in one pass.
            picked = np.isin(last8, np.fromiter(longer, dtype=np.uint64)) & wide
            pairs = pl.DataFrame(
                {"lo": last8[picked], "hi": hi[picked]},
                schema={"lo": pl.UInt64, "hi": pl.UInt64},
            ).unique()
            new_long: list[tuple[int, int]] = []
            for fp, whi in pairs.iter_rows():
                if (fp, whi) in self._seen_long:
                    continue
                w16 = int(whi).to_bytes(8, "little") + int(fp).to_bytes(8, "little")
                fits16 = [k for k in longer[fp] if _fits(self._needles[k], w16)]
                if not fits16:
                    self._seen_long.add((fp, whi))
                    new_long.append((fp, whi))
                found.update(
                    k for k in fits16 if len(self._needles[k]) <= 16 or self._needles[k] in text
                )
            self._known_long.add(new_long)
        return sorted(found)

    def sample_picks(self, n: int) -> np.ndarray:
        """Which of a chunk's ``n`` lines are sampled: the first ones and lines spread
        evenly over the rest (the last line among them)."""
        want = self.LATER_SAMPLE_LINES if self.fields else self.SAMPLE_LINES
        if n <= want:
            return np.arange(n)
        half = want // 2
        return np.concatenate((np.arange(half), np.linspace(half, n - 1, half).astype(np.int64)))

    def _sample(self, data: bytes, starts: np.ndarray, picks: np.ndarray | None = None) -> bytes:
        """The sampled lines of the chunk (``sample_picks``), joined."""
        ends = np.append(starts[1:], len(data))
        if picks is None:
            picks = self.sample_picks(len(starts))
        return b"".join(data[starts[i] : ends[i]] for i in picks.tolist())

    def _grown_by(self, sample: bytes) -> dict[str, pl.DataType]:
        # The schema alone (scan + collect_schema): reading the sample to get it builds its
        # frame too, which takes seconds for objects with thousands of distinct keys.
        sampled = pl.scan_ndjson(sample, infer_schema_length=None).collect_schema()
        schema = dict(self.fields)
        for name, dtype in sampled.items():
            self._add(schema, name, _bounded(dtype, self.MAX_NESTED_FIELDS))
        return schema

    def sampled_schema(self, data: bytes, starts: np.ndarray) -> dict[str, pl.DataType]:
        """The fields known so far, grown by those of a sample of the chunk's lines."""
        return self._grown_by(self._sample(data, starts))

    def plan(self, data: bytes, starts: np.ndarray) -> dict[str, pl.DataType] | None:
        """``sampled_schema``, or None when the sample cannot give it (a bad line in it)."""
        return self.plan_sample(self._sample(data, starts))

    def plan_sample(self, sample: bytes) -> dict[str, pl.DataType] | None:
        """``plan`` of a chunk whose sampled lines are ``sample``: a sample with a NUL or
        a line that may be too deep is not given to polars."""
        if b"\x00" in sample or _deep_suspects(sample):
            return None
        try:
            return self._grown_by(sample)
        except Exception:
            return None

    def parse(
        self, data: bytes, starts: np.ndarray, planned: dict[str, pl.DataType] | None = None
    ) -> pl.DataFrame:
        """Read a chunk with the fields known so far plus its sampled and late fields.

        ``planned``: ``sampled_schema(data, starts)``, when the caller has it already.
        """
        schema = dict(planned) if planned is not None else self.sampled_schema(data, starts)
        late: list[str] | None = None
        if schema and all(_flat(d) for d in schema.values()):
            # Read first; most chunks then show by a count that they hold no other field.
            try:
                frame = pl.read_ndjson(data, schema=schema)
            except Exception:
                frame = None
            if frame is not None:
                late = [] if _every_key_read(data, frame) else self.late_keys(data, schema)
                if not late:
                    self.fields.update(frame.schema)
                    return frame
        if late is None:
            late = self.late_keys(data, schema)
        for name in late:
            schema[name] = pl.String()  # any JSON value reads as text
        frame = None
        for attempt in (schema, {k: _loose(v) for k, v in schema.items()}):
            if not attempt:
                break
            try:
                frame = pl.read_ndjson(data, schema=attempt)
                break
            except Exception:
                frame = None
        if frame is None:  # last resort: full inference
            frame = pl.read_ndjson(data, infer_schema_length=None)
        empty = [k for k in late if k in frame.columns and frame[k].null_count() == frame.height]
        if empty:
            frame = frame.drop(empty)
        # Fields only grow: one read in full inference (the last resort) may lack some.
        for name, dtype in frame.schema.items():
            if name != "source_line":
                self.fields[name] = dtype
        return frame

    @classmethod
    def fields_after(
        cls, known: dict[str, pl.DataType], read: dict[str, pl.DataType]
    ) -> dict[str, pl.DataType]:
        """The running fields once a chunk parsed with ``known`` fields has been read with
        exactly the schema ``read`` and absorbed (what ``parse`` and ``absorb`` do then)."""
        copied = dict(known)
        copied.update(read)
        running = cls(())
        running.fields = dict(known)
        for name, dtype in copied.items():
            running._add(running.fields, name, dtype)
        return running.fields


def _flat(dtype: pl.DataType) -> bool:
    """A type whose JSON values hold no keys: a scalar, or a list of scalars."""
    if isinstance(dtype, pl.List | pl.Array):
        dtype = dtype.inner  # type: ignore[assignment]
    return not isinstance(dtype, pl.Struct | pl.List | pl.Array | pl.Object)


def _every_key_read(data: bytes, frame: pl.DataFrame, spaced: bool | None = None) -> bool:
    """Whether ``frame`` (``data`` read with a schema of flat fields) holds every key of
    ``data`` that has a value; False when that cannot be told this way. ``spaced``:
    whether ``data`` holds a tab or a carriage return, when the caller knows.

    Every key is written ``"key":`` (refused: any whitespace before a colon), so the
    count C of quote-colon pairs, less those whose value starts with ``n`` (a null,
    perhaps after one space), bounds the number of keys with a value, plus escaped
    quotes before a colon inside strings. Each non-null cell of the frame comes from one
    such key of a field in the schema, so with N non-null cells, C == N leaves no room
    for a key outside the schema; any doubt (duplicate keys, nested values kept as text,
    escaped quotes) makes C larger and the caller looks at the keys themselves.
    """
    if len(data) < 4:
        return False
    cells = frame.height * frame.width - int(frame.null_count().sum_horizontal()[0])
    # First by counts alone: raw tabs and carriage returns (whitespace between tokens:
    # strings cannot hold them) and spaces before a colon ruled out, the quote-colon
    # pairs are at least every key; as many as the cells leaves none outside the schema
    # and none with a null value. Otherwise nulls are told apart, one colon at a time.
    if spaced is None:
        spaced = b"\t" in data or b"\r" in data
    if not spaced and not pair_count(data, b" :"):
        if pair_count(data, b'":') == cells:
            return True
    colons = byte_positions(data, 58)
    colons = colons[(colons >= 1) & (colons + 2 < len(data))]
    # One gather per colon: the 4 bytes from the one before it (unaligned uint32 view).
    words = np.ndarray((len(data) - 3,), dtype="<u4", buffer=data, strides=(1,))[colons - 1]
    before = words & 0xFF
    if bool(((before == 32) | (before == 9) | (before == 13)).any()):
        return False
    after = words[before == 34] >> 16  # the two bytes after the colon of each key
    first = after & 0xFF
    nulls = int(np.count_nonzero((first == 110) | (after == 0x6E20)))  # "n" or " n"
    valued = after.size - nulls
    return valued == cells


def _nested_field_count(dtype: pl.DataType) -> int:
    if isinstance(dtype, pl.Struct):
        return sum(1 + _nested_field_count(f.dtype) for f in dtype.fields)
    if isinstance(dtype, pl.List | pl.Array):
        return _nested_field_count(dtype.inner)  # type: ignore[arg-type]
    return 0


def _bounded(dtype: pl.DataType, limit: int) -> pl.DataType:
    """Very wide nested objects are read as JSON text."""
    return pl.String() if _nested_field_count(dtype) > limit else dtype


def _common_type(a: pl.DataType, b: pl.DataType) -> pl.DataType:
    if a.is_numeric() and b.is_numeric():
        return pl.Float64() if (a.is_float() or b.is_float()) else pl.Int64()
    return pl.String()  # text holds anything; the pipeline converts it


def _loose(dtype: pl.DataType) -> pl.DataType:
    """A type that accepts any JSON value of a scalar field (numbers may turn out floats)."""
    if isinstance(dtype, pl.Struct | pl.List | pl.Array):
        return dtype
    return pl.String()


def parse_ndjson_chunk(
    data: bytes,
    first_line: int,
    schema: _RunningSchema | None = None,
    starts: np.ndarray | None = None,
    planned: dict[str, pl.DataType] | None = None,
) -> tuple[pl.DataFrame, list[Reject]]:
    """Parse whole lines natively; fall back to a per-line check only when that fails.

    ``planned``: ``schema.sampled_schema(data, starts)``, when the caller has it already.
    """
    if not data:
        return _empty(), []
    if starts is None:
        starts = line_starts(data)
    lengths = np.diff(np.append(starts, len(data)))
    # Blank lines ("\n" or "\r\n") are skipped by the parser: number only the others.
    content = np.flatnonzero(lengths > 2) if bool((lengths <= 2).any()) else None
    if b"\x00" not in data and not _deep_suspects(data, starts):
        try:
            frame = (schema or _RunningSchema()).parse(data, starts, planned)
            expected = len(starts) if content is None else len(content)
            if frame.height == expected:
                if content is None:
                    lines = pl.int_range(first_line, first_line + frame.height, dtype=pl.Int64)
                    return frame.with_columns(source_line=lines), []
                return frame.with_columns(
                    source_line=pl.Series(content + first_line, dtype=pl.Int64)
                ), []
        except Exception:
            pass
    return _parse_lines_one_by_one(data, starts, first_line, schema)


def _parse_lines_one_by_one(
    data: bytes, starts: np.ndarray, first_line: int, schema: _RunningSchema | None = None
) -> tuple[pl.DataFrame, list[Reject]]:
    """The slow path for a chunk with bad lines: find them, keep the rest."""
    rejects: list[Reject] = []
    good: list[bytes] = []
    good_lines: list[int] = []
    ends = np.append(starts[1:], len(data))
    for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        raw = data[s:e].rstrip(b"\r\n")
        if not raw.strip():
            continue
        line = first_line + i
        reason = _line_problem(raw)
        if reason:
            rejects.append(Reject(line, reason, raw[:4096].decode("utf-8", "replace")))
        else:
            good.append(raw)
            good_lines.append(line)
    if not good:
        return _empty(), rejects
    joined = b"\n".join(good) + b"\n"
    try:
        frame = (schema or _RunningSchema()).parse(joined, line_starts(joined))
        if frame.height != len(good):
            raise ValueError("row count mismatch")
    except Exception:
        frame = _frame_from_dicts([json.loads(g) for g in good])
    return frame.with_columns(source_line=pl.Series(good_lines, dtype=pl.Int64)), rejects


def _line_problem(raw: bytes) -> str | None:
    if b"\x00" in raw:
        return "nul_byte"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "invalid_utf8"
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"bad_json: {str(exc).split(':')[0]}"
    except RecursionError:
        return "bad_json: nested too deeply"
    if not isinstance(value, dict):
        return "not_an_object"
    if "\x00" in text or "\\u0000" in text:
        return "nul_byte"
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        return "bad_json: nested too deeply"
    return None
