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
from forensics.schema import UTC_TS

# A line longer than this is not a web-server log line; it is rejected (and not buffered).
MAX_LINE_BYTES = 64 * 1024
BLOCK_BYTES = 32 * 1024 * 1024

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
    offsets = np.concatenate([[0], np.flatnonzero(arr == 10) + 1]).astype(np.int64)
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
        strings = binary.filter(pa.array(keep)).cast(pa.large_string())
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
    return LineBlock(
        pl.Series("line", strings), pl.Series("source_line", numbers, dtype=pl.Int64), rejects
    )


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
    pending = b""
    next_line = 1
    skipping: bytes | None = None  # head of an over-long line being skipped
    while True:
        block = stream.read(block_bytes)
        eof = not block
        if skipping is not None:
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
            block = block[cut + 1 :] if cut >= 0 else b""
        data = pending + block
        if eof and data and not data.endswith(b"\n"):
            data += b"\n"
        cut = data.rfind(b"\n") + 1
        if cut:
            lines = _split_block(data, cut, next_line, max_line_bytes)
            next_line += len(lines.line_numbers) + len(lines.rejects)
            yield lines
        pending = data[cut:]
        if len(pending) > max_line_bytes:
            skipping, pending = pending[:RAW_TEXT_LIMIT], b""
        if eof:
            return


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


def _groups_by_quotes(frame: pl.DataFrame, n_extra: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Fast path: split backslash-free lines on ``"`` (exact, as no quote can be escaped).

    ``h l u [t] "r" s b "ref" "ua" "x1" ...`` splits into
    ``[h l u [t] , r, s b , ref, ' ', ua, ' ', x1, ..., tail]``; a common line into three
    parts. Lines that do not fit this shape exactly are returned for the regex path.
    """
    parts = pl.col("p")

    def part(i: int) -> pl.Expr:
        return parts.list.get(i, null_on_oob=True)

    def blank(i: int) -> pl.Expr:  # part i is absent or only whitespace
        return (pl.col("n") <= i) | (part(i).str.strip_chars() == "")

    n = pl.col("n")
    split = (
        frame.with_columns(pl.col("line").str.split('"').alias("p"))
        .with_columns(
            parts.list.len().alias("n"),
            part(0).str.splitn(" ", 4).alias("head"),
            part(2).str.strip_chars().str.splitn(" ", 2).alias("sb"),
        )
        .unnest("head", "sb", separator="_")
    )
    stamp = pl.col("head_field_3").str.strip_chars_end(" ")
    separators = pl.all_horizontal(blank(i) for i in range(4, 7 + 2 * n_extra, 2))
    shape_ok = (n == 3) | ((n >= 7) & (n <= 7 + 2 * n_extra) & (n % 2 == 1) & separators)
    split = split.with_columns(
        pl.col("head_field_0").alias("src_ip"),
        pl.col("head_field_1").alias("ident"),
        pl.col("head_field_2").alias("user"),
        stamp.str.strip_prefix("[").str.strip_suffix("]").alias("time"),
        part(1).alias("request"),
        pl.col("sb_field_0").alias("status"),
        pl.col("sb_field_1").alias("bytes"),
        pl.when(n >= 7).then(part(3)).alias("referer"),
        pl.when(n >= 7).then(part(5)).alias("user_agent"),
        *[part(7 + 2 * i).alias(f"xq{i}") for i in range(n_extra)],
        *[pl.lit(None, dtype=pl.String).alias(f"xb{i}") for i in range(n_extra)],
        pl.lit(None, dtype=pl.String).alias("trailing"),
        (
            shape_ok
            & (pl.col("head_field_0") != "")
            & (pl.col("head_field_1") != "")
            & (pl.col("head_field_2") != "")
            & stamp.str.starts_with("[")
            & stamp.str.ends_with("]")
            & pl.col("sb_field_0").str.contains(r"^(?:\d{3}|-)$")
            & pl.col("sb_field_1").str.contains(r"^(?:\d+|-)$")
        )
        .fill_null(False)
        .alias("ok"),
    )
    keep = [*frame.columns, *_GROUP_NAMES[:-1]]
    keep += [f"x{q}{i}" for i in range(n_extra) for q in "qb"]
    fast = split.filter(pl.col("ok")).select(*keep, "trailing")
    rest = split.filter(~pl.col("ok")).select(frame.columns)
    return fast, rest


def _groups_by_regex(frame: pl.DataFrame, n_extra: int) -> pl.DataFrame:
    """Slow path: the full regex (escaped quotes, bare extras, odd spacing), then unescape."""
    parsed = frame.with_columns(
        pl.col("line").str.extract_groups(_line_pattern(n_extra)).alias("g")
    ).unnest("g")
    quoted = ["user", "request", "referer", "user_agent", *[f"xq{i}" for i in range(n_extra)]]
    return parsed.with_columns(_unescape(pl.col(c)) for c in quoted)


def _with_request_parts(frame: pl.DataFrame) -> pl.DataFrame:
    """Add method, endpoint, protocol from ``request`` (null when not METHOD TARGET [HTTP/x]).

    Built in materialised steps: each intermediate is computed once.
    """
    request = pl.col("request")
    space = request.str.find(" ", literal=True)
    frame = frame.with_columns(
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
    return frame.with_columns(
        pl.when(valid).then(pl.col("method")).alias("method"),
        pl.when(valid & proto_at.is_null())
        .then(target)
        .when(valid)
        .then(target.str.slice(0, proto_at))
        .alias("endpoint"),
        pl.when(valid).then(target.str.slice(proto_at).str.strip_chars(" ")).alias("protocol"),
    ).drop("_target", "_proto_at", "_valid")


def parse_lines(
    lines: pl.Series, line_numbers: pl.Series, options: ReaderOptions
) -> tuple[pl.DataFrame, list[Reject]]:
    """Parse combined/common lines (vectorised); return the rows and the rejected lines."""
    extra = options.extra_fields
    n_extra = len(extra)
    tz = options.tz or "UTC"
    frame = pl.DataFrame([line_numbers, lines]).filter(pl.col("line").str.strip_chars() != "")
    plain = pl.col("line").str.contains("\\", literal=True).not_()
    fast, rest = _groups_by_quotes(frame.filter(plain), n_extra)
    slow = _groups_by_regex(pl.concat([rest, frame.filter(~plain)]), n_extra)
    parsed = pl.concat([fast, slow.select(fast.columns)]).sort("source_line")
    time = pl.col("time")
    parsed = parsed.with_columns(
        time.str.strptime(UTC_TS, _TIME_WITH_OFFSET, strict=False).alias("ts")
    )
    if parsed["ts"].null_count():  # times without an offset are in options.tz
        parsed = parsed.with_columns(
            pl.coalesce(
                "ts",
                time.str.strptime(pl.Datetime("us"), _TIME_WITHOUT_OFFSET, strict=False)
                .dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null")
                .dt.convert_time_zone("UTC"),
            ).alias("ts")
        )
    failed = parsed.filter(pl.col("src_ip").is_null() | pl.col("ts").is_null())
    rejects = [
        Reject(
            row["source_line"],
            "not_combined_log" if row["src_ip"] is None else f"bad_timestamp: {row['time'][:64]}",
            row["line"].rstrip("\r\n"),
        )
        for row in failed.select("source_line", "src_ip", "time", "line").iter_rows(named=True)
    ]
    ok = parsed.filter(pl.col("src_ip").is_not_null() & pl.col("ts").is_not_null())
    extra_exprs = [
        pl.coalesce(_null_if_dash(pl.col(f"xq{i}")), _null_if_dash(pl.col(f"xb{i}"))).alias(name)
        for i, name in enumerate(extra)
    ]
    nullable = ["ident", "user", "request", "status", "bytes", "referer", "user_agent"]
    out = ok.with_columns(
        *[_null_if_dash(pl.col(c)).alias(c) for c in nullable],
        *extra_exprs,
        pl.col("trailing").replace("", None),
    )
    typed = {
        "status": pl.col("status").cast(pl.Int16),
        "bytes": pl.col("bytes").cast(pl.Int64, strict=False),
    }
    fields = [typed.get(c, pl.col(c)) for c in COMBINED_COLUMNS if c != "trailing"]
    out = _with_request_parts(out).select("source_line", *fields, *extra, "trailing")
    return out, rejects


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
        _validate_extra_fields(options.extra_fields)
        for block in iter_line_blocks(stream):
            step = max(1, options.batch_lines)
            for start in range(0, max(len(block.lines), 1), step):
                frame, rejects = parse_lines(
                    block.lines.slice(start, step), block.line_numbers.slice(start, step), options
                )
                if start == 0:
                    rejects = block.rejects + rejects
                if frame.height or rejects:
                    yield Batch(frame, rejects)


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
