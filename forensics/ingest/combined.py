"""nginx / Apache *combined* and NCSA *common* access logs.

    %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" ["extra" ...]

Lines are cut from the byte stream with numpy (no per-line Python) into one zero-copy
Arrow string array per block, and parsed as polars expressions over the whole block. Lines
without a backslash cannot hold an escaped quote, so they are split exactly on ``"``
(fast path). The rest (escapes, bare extra fields, odd spacing) go through one
``str.extract_groups`` regex. Both paths give the same rows; a test pins that. Only
lines that fail (invalid UTF-8, NUL bytes, absurdly long, not the format, bad time) become
:class:`Reject` records, each with its reason and raw text.

Choices a responder relies on (see docs/formats-weblogs-otel.md):

* a client given as a host name (the 1995 NASA log) is kept as ``src_ip`` text;
* ``-`` and empty quoted values become null; ``\\"`` and ``\\\\`` inside quoted fields are
  unescaped (nginx's ``\\xHH`` escapes are kept as written: they are evidence);
* a request line that is not ``METHOD TARGET [PROTOCOL]`` (TLS handshakes and binary junk
  from scanners) keeps its row: ``method``/``endpoint`` are null and the text stays in
  ``request``, because scanner traffic is exactly what a responder wants to see;
* the ``%u`` user is emitted as ``user`` (the pipeline's aliases map it to account_id);
* quoted (or bare) fields after the user agent are named in order by
  ``ReaderOptions.extra_fields``; anything after them is kept in ``trailing``;
* blank lines are skipped; they are not records.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import polars as pl
import pyarrow as pa

from forensics.errors import ForensicsError
from forensics.ingest.base import RAW_TEXT_LIMIT, Batch, ReaderOptions, Reject
from forensics.ingest.jsonl import TextBatch
from forensics.ingest.lines import line_starts
from forensics.ingest.threads import ordered_map
from forensics.schema import UTC_TS

# A line longer than this is not a web-server log line; it is rejected (and not buffered).
MAX_LINE_BYTES = 64 * 1024
BLOCK_BYTES = 16 * 1024 * 1024
# Batches parsed at the same time (threads): 2 cores, and memory for two blocks in flight.
PARSE_WORKERS = 2

_TIME_WITH_OFFSET = "%d/%b/%Y:%H:%M:%S %z"
_TIME_WITHOUT_OFFSET = "%d/%b/%Y:%H:%M:%S"

# Columns this reader emits besides source_line and the user's extra fields.
COMBINED_COLUMNS: tuple[str, ...] = (
    "ts",
    "src_ip",
    "ident",
    "user",
    "method",
    "endpoint",
    "protocol",
    "request",
    "status",
    "bytes",
    "referer",
    "user_agent",
    "trailing",
)


def _named(name: str, body: str) -> str:
    return f"(?P<{name}>{body})"


_Q = r'(?:[^"\\]|\\.)*'  # the inside of a quoted field, with backslash escapes

# %h %l %u %t "%r" %>s %b
_PREFIX = (
    r"^"
    + _named("src_ip", r"\S+")
    + " +"
    + _named("ident", r"\S+")
    + " +"
    + _named("user", r".+?")
    + r" +\["
    + _named("time", r"[^\]]*")
    + r'\] +"'
    + _named("request", _Q)
    + '" +'
    + _named("status", r"\d{3}|-")
    + " +"
    + _named("bytes", r"\d+|-")
)
# "%{Referer}i" "%{User-agent}i"
_REFERER_UA = rf' +"{_named("referer", _Q)}" +"{_named("user_agent", _Q)}"'


def _line_pattern(n_extra: int) -> str:
    """The one regex for a combined/common line with ``n_extra`` optional trailing fields."""
    bare = r'[^\s"]+'
    extras = "".join(
        '(?: +(?:"' + _named(f"xq{i}", _Q) + '"|' + _named(f"xb{i}", bare) + "))?"
        for i in range(n_extra)
    )
    trailing = r"(?:\s+" + _named("trailing", r".*?") + r")?\s*$"
    return _PREFIX + f"(?:{_REFERER_UA})?" + extras + trailing


# For sniffing (Python's re accepts the same syntax).
_SNIFF_COMMON = re.compile(_PREFIX + r"\s*$")
_SNIFF_COMBINED = re.compile(_PREFIX + _REFERER_UA + r"(?:\s.*)?$")


@dataclass(frozen=True)
class LineBlock:
    """Complete, valid UTF-8 lines of one block, with their 1-based line numbers."""

    lines: pl.Series  # String, newline still attached
    line_numbers: pl.Series  # Int64
    rejects: list[Reject]


def _raw_text(raw: bytes) -> str:
    return raw[:RAW_TEXT_LIMIT].decode("utf-8", errors="backslashreplace").rstrip("\r\n")


def _lines_at(offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Indices of the lines holding these byte positions (``offsets``: line starts + end)."""
    return np.unique(np.searchsorted(offsets, positions, side="right") - 1)


def _split_block(data: bytes, end: int, first_line: int, max_line_bytes: int) -> LineBlock:
    """Cut ``data[:end]`` (ending with a newline) into lines; reject NUL, bad UTF-8, over-long.

    Zero-copy: the lines are an Arrow array over the block's bytes. The per-line checks
    look only at the few lines that hold a NUL or (if the block is not valid UTF-8) a
    non-ASCII byte, found with memchr-speed scans.
    """
    view = memoryview(data)[:end]
    arr = np.frombuffer(view, dtype=np.uint8)
    offsets = np.append(line_starts(view), end)  # reuses a scratch mask: no 32 MB temporary
    n_lines = len(offsets) - 1
    binary = pa.Array.from_buffers(
        pa.large_binary(), n_lines, [None, pa.py_buffer(offsets), pa.py_buffer(view)]
    )
    reasons: dict[int, str] = {}
    if data.find(b"\0", 0, end) >= 0:
        for i in _lines_at(offsets, np.flatnonzero(arr == 0)):
            reasons[int(i)] = "nul_byte"
    for i in np.flatnonzero(np.diff(offsets) > max_line_bytes + 2):  # + CR LF
        reasons[int(i)] = "line_too_long"
    keep = np.ones(n_lines, dtype=bool)
    keep[list(reasons)] = False
    try:
        if reasons:
            strings = binary.filter(pa.array(keep)).cast(pa.large_string())  # copies
        else:
            # The usual block: the same buffers read as text once they validate as UTF-8.
            strings = pa.Array.from_buffers(pa.large_string(), n_lines, binary.buffers())
            strings.validate(full=True)
    except pa.ArrowInvalid:
        # Invalid UTF-8 somewhere: test only the lines that hold a non-ASCII byte.
        for i in _lines_at(offsets, np.flatnonzero(arr >= 0x80)):
            if keep[i]:
                try:
                    bytes(view[offsets[i] : offsets[i + 1]]).decode("utf-8")
                except UnicodeDecodeError:
                    reasons[int(i)] = "invalid_utf8"
                    keep[i] = False
        strings = binary.filter(pa.array(keep)).cast(pa.large_string())
    rejects = [
        Reject(first_line + i, reason, _raw_text(bytes(view[offsets[i] : offsets[i + 1]])))
        for i, reason in sorted(reasons.items())
    ]
    numbers = np.flatnonzero(keep).astype(np.int64) + first_line
    lines = pl.Series(_ArrowArray(strings)).alias("line")
    return LineBlock(lines, pl.Series("source_line", numbers, dtype=pl.Int64), rejects)


class _ArrowArray:
    """An Arrow array handed to polars through the Arrow C data interface.

    ``pl.Series(pa_array)`` goes through a helper that imports ``pyarrow.compute`` (about
    45 ms on every run); the C interface gives polars the same buffers directly.
    """

    def __init__(self, array: pa.Array) -> None:
        self._array = array

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return self._array.__arrow_c_array__(requested_schema)


def iter_line_blocks(
    stream: BinaryIO,
    *,
    max_line_bytes: int = MAX_LINE_BYTES,
    block_bytes: int = BLOCK_BYTES,
) -> Iterator[LineBlock]:
    """Yield the stream's lines block by block, never buffering more than one long line.

    A line longer than ``max_line_bytes`` is rejected as ``line_too_long`` (its first
    bytes kept as raw text) and skipped without being held in memory.
    """
    pending: bytes | bytearray = b""
    next_line = 1
    skipping: bytes | None = None  # head of an over-long line being skipped
    while True:
        if skipping is None:
            data, eof = _read_after(pending, stream, block_bytes)
        else:
            block = stream.read(block_bytes)
            eof = not block
            cut = block.find(b"\n")
            if cut < 0 and not eof:
                continue
            yield LineBlock(
                pl.Series("line", [], dtype=pl.String),
                pl.Series("source_line", [], dtype=pl.Int64),
                [Reject(next_line, "line_too_long", _raw_text(skipping))],
            )
            next_line += 1
            skipping = None
            data = block[cut + 1 :] if cut >= 0 else b""
        if eof and data and not data.endswith(b"\n"):
            data += b"\n"
        cut = data.rfind(b"\n") + 1
        if cut:
            lines = _split_block(data, cut, next_line, max_line_bytes)
            next_line += len(lines.line_numbers) + len(lines.rejects)
            yield lines
        pending = bytes(data[cut:])
        if len(pending) > max_line_bytes:
            skipping, pending = pending[:RAW_TEXT_LIMIT], b""
        if eof:
            return


def _read_after(
    pending: bytes | bytearray, stream: BinaryIO, size: int
) -> tuple[bytes | bytearray, bool]:
    """``pending`` followed by up to ``size`` more bytes of the stream, and whether it ended.

    The bytes are read straight behind ``pending`` into one buffer (one copy of the input,
    not two): the block is the biggest allocation of the reader.
    """
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        more = stream.read(size)
        return pending + more, not more
    start = len(pending)
    buf = bytearray(start + size)
    buf[:start] = pending
    got = 0
    with memoryview(buf) as view:
        while got < size:
            n = readinto(view[start + got :])
            if not n:
                break
            got += n
    del buf[start + got :]
    return buf, got == 0


def _validate_extra_fields(names: tuple[str, ...]) -> None:
    seen: set[str] = set()
    for name in names:
        if not name or not name.strip():
            raise ForensicsError("--extra-fields: empty field name")
        if name in COMBINED_COLUMNS or name == "source_line":
            raise ForensicsError(
                f"--extra-fields: {name!r} is already a combined-log field; "
                "pick another name and use --map to route it"
            )
        if name in seen:
            raise ForensicsError(f"--extra-fields: {name!r} is named twice")
        seen.add(name)


def _null_if_dash(expr: pl.Expr) -> pl.Expr:
    return pl.when((expr != "-") & (expr != "")).then(expr)


def _unescape(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all(r'\\(["\\])', "$1")


# The named groups of a parsed line (extra fields add xq<i>/xb<i>), in output order.
_GROUP_NAMES = (
    "src_ip",
    "ident",
    "user",
    "time",
    "request",
    "status",
    "bytes",
    "referer",
    "user_agent",
    "trailing",
)


_ESC_BS, _ESC_QUOTE = "\x02", "\x01"  # placeholders for \\ and \" on the fast path
_PLACEHOLDER = "[\x01\x02]"


def _groups_by_quotes(frame: pl.DataFrame, n_extra: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fast path: split lines on ``"`` into fields; return (parsed rows, rows for the regex).

    In a line with a backslash, ``\\\\`` and then ``\\"`` are first replaced (left to right,
    as a parser reading escape pairs would) by two control characters, so that every ``"``
    left is a field boundary; the quoted fields (and the user) get the unescaped characters
    back. Such lines are split on their own (they are few), so the others pay nothing for
    it. Lines that already hold those control characters, and lines that do not fit the
    shape ``h l u [t] "r" s b ["ref" "ua" ["x1" ...]]`` exactly, go to the regex path.
    """
    escaped = frame["line"].str.contains("\\", literal=True)
    if not escaped.any():
        return _split_on_quotes(frame, n_extra, escaped=False)
    plain, plain_rest = _split_on_quotes(frame.filter(~escaped), n_extra, escaped=False)
    marked = frame.filter(escaped)
    has_control = marked["line"].str.contains(_PLACEHOLDER)
    unescaped, esc_rest = _split_on_quotes(marked.filter(~has_control), n_extra, escaped=True)
    rest = pl.concat([plain_rest, esc_rest, marked.filter(has_control)]).sort("source_line")
    return pl.concat([plain, unescaped]).sort("source_line"), rest


def _split_on_quotes(
    frame: pl.DataFrame, n_extra: int, *, escaped: bool
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``h l u [t] "r" s b "ref" "ua" "x1" ...`` splits on ``"`` into
    ``[h l u [t] , r, s b , ref, ' ', ua, ' ', x1, ..., tail]``; a common line into three
    parts. With ``escaped``, escape pairs are set aside first (see ``_groups_by_quotes``).
    """
    line = pl.col("line")
    n_parts = 7 + 2 * n_extra
    if escaped:
        line = line.str.replace_all("\\\\", _ESC_BS, literal=True).str.replace_all(
            '\\"', _ESC_QUOTE, literal=True
        )
    split = frame.with_columns(line.str.split('"').alias("_p"))
    split = split.with_columns(
        pl.col("_p").list.len().alias("_n"),
        *[pl.col("_p").list.get(i, null_on_oob=True).alias(f"_p{i}") for i in range(n_parts)],
    ).drop("_p")
    split = split.with_columns(
        pl.col("_p0").str.splitn(" ", 4).alias("_head"),
        pl.col("_p2").str.strip_chars().str.splitn(" ", 2).alias("_sb"),
    ).unnest("_head", "_sb", separator="_")
    n = pl.col("_n")

    def blank(i: int) -> pl.Expr:  # part i is absent or only whitespace
        return (n <= i) | (pl.col(f"_p{i}").str.strip_chars() == "")

    stamp = pl.col("_head_field_3").str.strip_chars_end(" ")
    shape_ok = (n == 3) | (
        (n >= 7)
        & (n <= n_parts)
        & (n % 2 == 1)
        & pl.all_horizontal(blank(i) for i in range(4, n_parts, 2))
    )
    ok = (
        shape_ok
        & (pl.col("_head_field_0") != "")
        & (pl.col("_head_field_1") != "")
        & (pl.col("_head_field_2") != "")
        & stamp.str.starts_with("[")
        & stamp.str.ends_with("]")
        & pl.col("_sb_field_0").str.contains(r"^(?:\d{3}|-)$")
        & pl.col("_sb_field_1").str.contains(r"^(?:\d+|-)$")
    )
    if escaped:  # placeholders only in the fields that are unescaped (user and quoted ones)
        ok = ok & ~pl.any_horizontal(
            pl.col(c).str.contains(_PLACEHOLDER)
            for c in ("_head_field_0", "_head_field_1", "_head_field_3")
        )
    keep = split.select(ok.fill_null(False)).to_series()
    everything = bool(keep.all())
    good = split if everything else split.filter(keep)
    rest = frame.clear() if everything else frame.filter(~keep)

    def field(expr: pl.Expr) -> pl.Expr:
        if not escaped:
            return expr
        return expr.str.replace_all(_ESC_QUOTE, '"', literal=True).str.replace_all(
            _ESC_BS, "\\", literal=True
        )

    fast = good.select(
        *frame.columns,
        pl.col("_head_field_0").alias("src_ip"),
        pl.col("_head_field_1").alias("ident"),
        field(pl.col("_head_field_2")).alias("user"),
        stamp.str.strip_prefix("[").str.strip_suffix("]").alias("time"),
        field(pl.col("_p1")).alias("request"),
        pl.col("_sb_field_0").alias("status"),
        pl.col("_sb_field_1").alias("bytes"),
        field(pl.when(n >= 7).then(pl.col("_p3"))).alias("referer"),
        field(pl.when(n >= 7).then(pl.col("_p5"))).alias("user_agent"),
        *[
            e
            for i in range(n_extra)
            for e in (
                field(pl.col(f"_p{7 + 2 * i}")).alias(f"xq{i}"),
                pl.lit(None, dtype=pl.String).alias(f"xb{i}"),
            )
        ],
        pl.lit(None, dtype=pl.String).alias("trailing"),
    )
    return fast, rest


def _groups_by_regex(frame: pl.DataFrame, n_extra: int) -> pl.DataFrame:
    """Slow path: the full regex (escaped quotes, bare extras, odd spacing), then unescape."""
    parsed = frame.with_columns(
        pl.col("line").str.extract_groups(_line_pattern(n_extra)).alias("g")
    ).unnest("g")
    quoted = ["user", "request", "referer", "user_agent", *[f"xq{i}" for i in range(n_extra)]]
    return parsed.with_columns(_unescape(pl.col(c)) for c in quoted)


def _request_parts_general(frame: pl.DataFrame) -> pl.DataFrame:
    """method, endpoint, protocol of any request text (null when not METHOD TARGET [HTTP/x])."""
    request = pl.col("request")
    space = request.str.find(" ", literal=True)
    frame = frame.select(
        request.str.slice(0, space).alias("method"),
        request.str.slice(space + 1).str.strip_chars(" ").alias("_target"),
    )
    target = pl.col("_target")
    frame = frame.with_columns(
        target.str.find(r" +HTTP/[0-9.]+$").alias("_proto_at"),
        (pl.col("method").str.contains(r"^[A-Za-z][A-Za-z0-9_-]*$") & (target != ""))
        .fill_null(False)
        .alias("_valid"),
    )
    proto_at, valid = pl.col("_proto_at"), pl.col("_valid")
    return frame.select(
        pl.when(valid).then(pl.col("method")).alias("method"),
        pl.when(valid & proto_at.is_null())
        .then(target)
        .when(valid)
        .then(target.str.slice(0, proto_at))
        .alias("endpoint"),
        pl.when(valid).then(target.str.slice(proto_at).str.strip_chars(" ")).alias("protocol"),
    )


def _request_parts(requests: pl.DataFrame) -> pl.DataFrame:
    """method, endpoint, protocol from ``request`` (null when not METHOD TARGET [HTTP/x]).

    The usual ``METHOD TARGET HTTP/x.y`` (single spaces) is one split; the other rows (no
    protocol, spaces in the target, junk) go through the general rules.
    """
    parts = requests.select(pl.col("request").str.splitn(" ", 3).alias("r")).unnest("r")
    method, target, proto = pl.col("field_0"), pl.col("field_1"), pl.col("field_2")
    simple = (
        method.str.contains(r"^[A-Za-z][A-Za-z0-9_-]*$")
        & (target != "")
        & proto.str.contains(r"^HTTP/[0-9.]+$")
    ).fill_null(False)
    parts = parts.select(
        method.alias("method"), target.alias("endpoint"), proto.alias("protocol"), simple.alias("s")
    )
    simple_rows = parts["s"]
    if simple_rows.all():
        return parts.drop("s")
    odd = (~simple_rows).arg_true()
    general = _request_parts_general(requests[odd])
    return pl.DataFrame([parts[c].scatter(odd, general[c]) for c in general.columns])


_OFFSET = re.compile(r" ([+-])([01]\d|2[0-3])([0-5]\d)")


def _offset_minutes(suffixes: pl.Series) -> pl.Series:
    """`` +hhmm`` / `` -hhmm`` as minutes east of UTC (null for anything else).

    Worked out once per distinct suffix (a log has a handful of zones).
    """
    keys, minutes = [], []
    for value in suffixes.unique().drop_nulls().to_list():
        m = _OFFSET.fullmatch(value)
        if m:
            keys.append(value)
            sign = -1 if m.group(1) == "-" else 1
            minutes.append(sign * (int(m.group(2)) * 60 + int(m.group(3))))
    return suffixes.replace_strict(keys, minutes, default=None, return_dtype=pl.Int32)


def parse_times(time: pl.Series, tz: str) -> pl.Series:
    """``10/Oct/2000:13:55:36 -0700`` to UTC; times without an offset are in ``tz``.

    The usual shape is read as a naive time (the cheaper parse) minus its offset, looked up
    per distinct offset; the rest go through the full format, then the offset-less one.
    """
    naive = time.str.slice(0, 20).str.strptime(
        pl.Datetime("us"), _TIME_WITHOUT_OFFSET, strict=False
    )
    offset = _offset_minutes(time.str.slice(20))
    ts = (
        pl.select((naive - pl.duration(minutes=offset)).dt.replace_time_zone("UTC"))
        .to_series()
        .cast(UTC_TS)
    )
    if ts.null_count() > time.null_count():
        full = time.str.strptime(UTC_TS, _TIME_WITH_OFFSET, strict=False)
        ts = ts.fill_null(full)
    if ts.null_count() > time.null_count():
        local = (
            time.str.strptime(pl.Datetime("us"), _TIME_WITHOUT_OFFSET, strict=False)
            .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone("UTC")
        )
        ts = ts.fill_null(local)
    return ts.alias("ts")


def parse_lines(
    lines: pl.Series, line_numbers: pl.Series, options: ReaderOptions
) -> tuple[pl.DataFrame, list[Reject]]:
    """Parse combined/common lines (vectorised); return the rows and the rejected lines."""
    extra = options.extra_fields
    n_extra = len(extra)
    frame = pl.DataFrame([line_numbers, lines])
    parsed, rest = _groups_by_quotes(frame, n_extra)
    if rest.height:
        rest = rest.filter(pl.col("line").str.strip_chars() != "")  # blank lines: no records
    if rest.height:
        slow = _groups_by_regex(rest, n_extra).select(parsed.columns)
        parsed = parsed.merge_sorted(slow, "source_line")  # both in line order
    parsed = parsed.with_columns(parse_times(parsed["time"], options.tz or "UTC"))
    valid = parsed["src_ip"].is_not_null() & parsed["ts"].is_not_null()
    rejects: list[Reject] = []
    if not valid.all():
        failed = parsed.filter(~valid)
        rejects = [
            Reject(
                row["source_line"],
                "not_combined_log"
                if row["src_ip"] is None
                else f"bad_timestamp: {row['time'][:64]}",
                row["line"].rstrip("\r\n"),
            )
            for row in failed.select("source_line", "src_ip", "time", "line").iter_rows(named=True)
        ]
        parsed = parsed.filter(valid)
    extra_exprs = [
        pl.coalesce(_null_if_dash(pl.col(f"xq{i}")), _null_if_dash(pl.col(f"xb{i}"))).alias(name)
        for i, name in enumerate(extra)
    ]
    typed = [
        _null_if_dash(pl.col("status")).cast(pl.Int16).alias("status"),
        _null_if_dash(pl.col("bytes")).cast(pl.Int64, strict=False).alias("bytes"),
    ]
    nullable = ["ident", "user", "request", "referer", "user_agent"]
    out = parsed.select(
        "source_line",
        "ts",
        "src_ip",
        *[_null_if_dash(pl.col(c)).alias(c) for c in nullable],
        *typed,
        *extra_exprs,
        pl.col("trailing").replace("", None),
    )
    out = out.with_columns(_request_parts(out.select("request")))
    fields = [pl.col(c) for c in COMBINED_COLUMNS if c != "trailing"]
    return out.select("source_line", *fields, *extra, "trailing"), rejects


def _sniff_lines(head: bytes) -> list[str]:
    text = head.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if len(lines) > 1 and not text.endswith("\n"):
        lines = lines[:-1]  # the head cut the last line short
    return [line for line in lines if line.strip()][:5]


class CombinedLogReader:
    """nginx/Apache combined log (common-log lines are accepted too)."""

    name = "combined"

    def sniff(self, head: bytes) -> bool:
        lines = _sniff_lines(head)
        return bool(lines) and all(_SNIFF_COMBINED.match(line) for line in lines[:3])

    def read(self, stream: BinaryIO, options: ReaderOptions) -> Iterator[Batch]:
        """Batches in line order; ``PARSE_WORKERS`` batches are parsed at the same time."""
        _validate_extra_fields(options.extra_fields)
        step = max(1, options.batch_lines)

        def pieces() -> Iterator[tuple[pl.Series, pl.Series, list[Reject]]]:
            for block in iter_line_blocks(stream, block_bytes=BLOCK_BYTES):
                for start in range(0, max(len(block.lines), 1), step):
                    lines = block.lines.slice(start, step)
                    numbers = block.line_numbers.slice(start, step)
                    yield lines, numbers, block.rejects if start == 0 else []

        def parse(_i: int, piece: tuple[pl.Series, pl.Series, list[Reject]]) -> TextBatch:
            lines, numbers, block_rejects = piece
            frame, rejects = parse_lines(lines, numbers, options)
            # Lines with a NUL byte were rejected whole: the text holds none.
            return TextBatch(frame, block_rejects + rejects, nul_free=True)

        for batch in ordered_map(parse, pieces(), PARSE_WORKERS, "forensics-parse"):
            if batch.frame.height or batch.rejects:
                yield batch


class CommonLogReader(CombinedLogReader):
    """NCSA common log: combined without referer and user agent."""

    name = "common"

    def sniff(self, head: bytes) -> bool:
        lines = _sniff_lines(head)
        return (
            bool(lines)
            and all(_SNIFF_COMMON.match(line) for line in lines[:3])
            and not any(_SNIFF_COMBINED.match(line) for line in lines[:3])
        )
