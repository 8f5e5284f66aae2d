"""From a reader's batch to canonical events: field mapping, types, validation.

One plan per batch (the source schema may differ between batches): for each canonical
field, the candidate sources that exist are converted to the canonical type and the first
non-empty one wins (``coalesce``). Then rows are validated; a rejected row keeps the reason
of its first failed check and its source record (JSON-encoded) for the quarantine.

Time rules: an ISO-8601 time with an offset or ``Z`` is converted to UTC; a time without
one is read in ``--tz`` (UTC when not given, and the summary says so); numbers and numeric
strings are Unix epochs whose unit is told by magnitude: |v| < 1e11 seconds, < 1e14
milliseconds, < 1e17 microseconds, else nanoseconds (1e11 s is the year 5138, 1e11 ms is
1973, so real times of any unit fall in the right band).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import polars_hash as plh

from forensics.errors import ForensicsError
from forensics.ingest.dedup import OccurrenceCounter, Occurrences
from forensics.ingest.jsonl import MAX_JSON_DEPTH, _depth_bound
from forensics.ingest.profiles import ALIASES, Profile
from forensics.schema import EVENT_SCHEMA, MAPPABLE_EVENT_FIELDS, UTC_TS

STRING_FIELDS = tuple(
    f for f in MAPPABLE_EVENT_FIELDS if EVENT_SCHEMA[f] == pl.String and f != "src_ip"
)
NUMERIC_FIELDS = ("status", "input_tokens", "output_tokens", "latency_ms")
NULL_STRINGS = ("", "-")
# Times outside these bounds are errors (a wrong epoch unit, a hostile value), not events.
PLAUSIBLE_FROM = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
PLAUSIBLE_TO = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
# Offsets written as "+02:00", "+0200" or "Z" all parse with %z once "Z" is spelled out.
_ISO_OFFSET = "%Y-%m-%dT%H:%M:%S%.f%z"
_ISO_FAST = "%Y-%m-%dT%H:%M:%S%.f%#z"
_ISO_NAIVE = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M")
_CLF = "%d/%b/%Y:%H:%M:%S %z"
_HTTP_DATE = "%a, %d %b %Y %H:%M:%S GMT"


@dataclass
class MappingSpec:
    """Where each canonical field comes from (see ``forensics.ingest.profiles``)."""

    explicit: dict[str, tuple[str, ...]] = field(default_factory=dict)  # --map
    file: dict[str, tuple[str, ...]] = field(default_factory=dict)  # --mapping FILE
    profile: Profile | None = None

    def candidates(self, name: str) -> tuple[str, ...]:
        if name in self.explicit:
            return self.explicit[name]
        found: list[str] = list(self.file.get(name, ()))
        if self.profile is not None:
            found += self.profile.fields.get(name, ())
        found += [name, *ALIASES.get(name, ())]
        return tuple(dict.fromkeys(found))

    def source_keys(self) -> frozenset[str]:
        """Every top-level source key a canonical field may be read from (``a`` and
        ``a.b`` for the path ``a.b``, which may be nested or one dotted name)."""
        keys: set[str] = set()
        for name in MAPPABLE_EVENT_FIELDS:
            for source in self.candidates(name):
                keys.update((source, source.split(".", 1)[0]))
        return frozenset(keys)

    def derived(self) -> dict[str, str]:
        """Fields the user maps from another canonical field (``account_id=src_ip``)."""
        out: dict[str, str] = {}
        for target, sources in {**self.file, **self.explicit}.items():
            for src in sources:
                if src in MAPPABLE_EVENT_FIELDS and src != target:
                    out[target] = src
        for target, src in out.items():
            if src in out:
                raise ForensicsError(
                    f"mapping {target}={src}: {src} is itself mapped from {out[src]}; "
                    f"map {target} from {out[src]}'s source instead"
                )
        return out


@dataclass
class Normalised:
    """One batch after normalisation: good events, rejected rows, and what was used."""

    events: pl.DataFrame  # EVENT_SCHEMA
    rejects: pl.DataFrame  # source_line, reason, raw
    sources: dict[str, list[str]]  # canonical field -> source names present in this batch
    naive_times: bool  # some times carried no offset (read in --tz / UTC)
    content_ids: bool = False  # every request id is a content id (none came from the source)


def _lookup(schema: pl.Schema, name: str) -> str | None:
    if name in schema:
        return name
    lower = name.lower()
    for col in schema:
        if col.lower() == lower:
            return col
    return None


def resolve_path(schema: pl.Schema, path: str) -> tuple[pl.Expr, pl.DataType] | None:
    """An expression for a column or a dotted path into structs / JSON text, if present."""
    col = _lookup(schema, path)
    if col is not None:
        return pl.col(col), schema[col]
    parts = path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        col = _lookup(schema, ".".join(parts[:i]))
        if col is None:
            continue
        expr: pl.Expr = pl.col(col)
        dtype: pl.DataType = schema[col]
        rest = parts[i:]
        while rest:
            if isinstance(dtype, pl.Struct):
                names = {f.name.lower(): f for f in dtype.fields}
                fld = names.get(rest[0].lower())
                if fld is None:
                    return None
                expr, dtype, rest = expr.struct.field(fld.name), fld.dtype, rest[1:]
            elif dtype == pl.String:
                # JSON kept as text (CSV exports): reach inside with a JSON path.
                json_path = "$" + "".join(f"['{p}']" for p in rest)
                return _json_safe(expr).str.json_path_match(json_path), pl.String()
            else:
                return None
        return expr, dtype
    return None


def json_depth_ok(values: pl.Series) -> pl.Series:
    """Which JSON texts are at most MAX_JSON_DEPTH deep (null counts as fine).

    A value's count of ``[`` and ``{`` bounds its depth, so only values with more openers
    than the limit get the exact (bracket-balance) check. Deeper text is not parsed: polars
    takes seconds on one value nested a few hundred levels, and overflows on deeper ones.
    """
    ok = values.str.count_matches(r"[\[{]").fill_null(0) <= MAX_JSON_DEPTH
    if ok.all():
        return ok
    suspects = (~ok).arg_true()
    exact = [_depth_bound(v.encode()) <= MAX_JSON_DEPTH for v in values.gather(suspects).to_list()]
    return ok.scatter(suspects, pl.Series(exact, dtype=pl.Boolean))


def _json_safe(expr: pl.Expr) -> pl.Expr:
    """``expr`` where it is JSON text shallow enough to parse, else null."""
    return pl.when(expr.map_batches(json_depth_ok, return_dtype=pl.Boolean)).then(expr)


def _as_string(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        out = expr
    elif isinstance(dtype, pl.Struct | pl.List | pl.Array):
        out = (
            pl.struct(expr.alias("v"))
            .struct.json_encode()
            .str.strip_prefix('{"v":')
            .str.strip_suffix("}")
        )
    else:
        out = expr.cast(pl.String)
    return out


def _clean_string(expr: pl.Expr) -> pl.Expr:
    """Empty and ``-`` (the web-log spelling of "none") become null; text is kept as is."""
    return pl.when(_is_null_string(expr)).then(None).otherwise(expr)


def _is_null_string(expr: pl.Expr) -> pl.Expr:
    # Equality tests (length first) are much cheaper than hashing long prompts for is_in.
    return (expr == "") | (expr == "-")


def _present(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    if dtype == pl.String:
        return expr.is_not_null() & ~_is_null_string(expr.str.strip_chars())
    return expr.is_not_null()


def _as_number(expr: pl.Expr, dtype: pl.DataType, target: pl.DataType, scale: float) -> pl.Expr:
    if dtype == target and scale == 1.0:
        return expr  # already the canonical type (a typed reader, an integer JSON field)
    if dtype == pl.String:
        num = expr.str.strip_chars().cast(pl.Float64, strict=False)
    elif dtype == pl.Boolean or dtype.is_numeric():
        num = expr.cast(pl.Float64, strict=False)
    else:
        return pl.lit(None, dtype=target)
    if scale != 1.0:
        num = num * scale
    if target == pl.Float64:
        return num
    # Integers: whole, finite and in range, else null (and the row is rejected as bad type).
    ok = num.is_finite() & (num == num.round(0))
    return pl.when(ok).then(num).otherwise(None).cast(target, strict=False)


def _prompt_from_messages(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr | None:
    """The last user message's text from an OpenAI-style ``messages`` list of structs."""
    if not (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)):
        return None
    names = {f.name: f.dtype for f in dtype.inner.fields}
    if names.get("content") != pl.String:
        return None
    content = pl.element().struct.field("content")
    if "role" in names:
        content = content.filter(pl.element().struct.field("role") == "user")
    return expr.list.eval(content).list.last()


def _epoch_to_utc(num: pl.Expr) -> pl.Expr:
    """Unix epoch of any unit (by magnitude) to a UTC timestamp."""
    mag = num.abs()
    us = (
        pl.when(mag < 1e11)
        .then(num * 1e6)
        .when(mag < 1e14)
        .then(num * 1e3)
        .when(mag < 1e17)
        .then(num)
        .otherwise(num / 1e3)
    )
    return pl.from_epoch(
        us.round(0).cast(pl.Int64, strict=False), time_unit="us"
    ).dt.replace_time_zone("UTC")


# ``YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z``: where each field sits, by total length.
_ISO_Z_LENGTHS = {20: 0, 24: 3, 27: 6}  # length -> digits of the fraction
_DIGIT_COLS = (0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18)
_SEPARATORS = ((4, ord("-")), (7, ord("-")), (10, ord("T")), (13, ord(":")), (16, ord(":")))


def _iso_z_fast(raw: pl.Series) -> pl.Series | None:
    """Times all written alike as ``2024-05-01T10:00:00.123Z`` (no fraction, 3 or 6
    digits), decoded from their bytes with integer arithmetic; None when some value is
    null, of another shape or not a real time (the general parser then decides).

    Days since 1970-01-01 from (y, m, d): with March as the first month of a shifted
    year (y' = y - [m <= 2], m' = (m + 9) mod 12), days = 365 y' + y'//4 - y'//100 +
    y'//400 + (153 m' + 2) // 5 + d - 719469 (the proleptic Gregorian calendar, as
    polars). Values polars would reject (month 13, 30 February, second 60) fail the
    range checks here, so both ways give the same result or this one gives up.
    """
    n = raw.len()
    if n == 0 or raw.null_count():
        return None
    head = raw[0]
    if len(head) not in _ISO_Z_LENGTHS or not head.endswith("Z"):
        return None  # another shape (a web-log time, an offset): no copy to find out
    arrow = raw.to_arrow(compat_level=pl.CompatLevel.oldest())
    offsets = np.frombuffer(arrow.buffers()[1], dtype=np.int64)[arrow.offset : arrow.offset + n + 1]
    width = int(offsets[1] - offsets[0])
    frac = _ISO_Z_LENGTHS.get(width)
    if frac is None or int(offsets[-1] - offsets[0]) != width * n:
        return None
    if not bool((np.diff(offsets) == width).all()):
        return None
    text = np.frombuffer(arrow.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    grid = text.reshape(n, width)
    seps = [*_SEPARATORS, (width - 1, ord("Z"))]
    if frac:
        seps.append((19, ord(".")))
    for col, byte in seps:
        if not bool((grid[:, col] == byte).all()):
            return None
    cols = [*_DIGIT_COLS, *range(20, 20 + frac)]
    digits = grid[:, cols].astype(np.int64) - 48
    if not bool(((digits >= 0) & (digits <= 9)).all()):
        return None

    def number(first: int, count: int) -> np.ndarray:
        out = digits[:, first]
        for i in range(first + 1, first + count):
            out = out * 10 + digits[:, i]
        return out

    year, month, day = number(0, 4), number(4, 2), number(6, 2)
    hour, minute, second = number(8, 2), number(10, 2), number(12, 2)
    fraction = number(14, frac) * (10 ** (6 - frac)) if frac else 0
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    ok = (month >= 1) & (month <= 12)
    if not bool(ok.all()):
        return None
    last_day = month_days[month] + (leap & (month == 2))
    ok = (day >= 1) & (day <= last_day) & (hour <= 23) & (minute <= 59) & (second <= 59)
    if not bool(ok.all()):
        return None
    y = year - (month <= 2)
    m = (month + 9) % 12
    days = 365 * y + y // 4 - y // 100 + y // 400 + (153 * m + 2) // 5 + day - 719469
    micros = ((days * 24 + hour) * 60 + minute) * 60 + second
    micros = micros * 1_000_000 + fraction
    return pl.Series("v", micros, dtype=pl.Int64).cast(UTC_TS)


def parse_times(raw: pl.Series, tz: str | None) -> tuple[pl.Series, bool]:
    """Any common time shape to UTC; returns the times and whether some had no offset."""
    zone = tz or "UTC"
    dtype = raw.dtype
    frame = raw.to_frame("v").lazy()
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            out = pl.col("v").dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
            naive = raw.null_count() < raw.len()
        else:
            out, naive = pl.col("v"), False
        res = frame.select(out.dt.convert_time_zone("UTC").dt.cast_time_unit("us")).collect()
        return res.to_series().cast(UTC_TS), naive
    if dtype == pl.Date:
        res = frame.select(
            pl.col("v")
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone(zone)
            .dt.convert_time_zone("UTC")
        ).collect()
        return res.to_series().cast(UTC_TS), raw.null_count() < raw.len()
    if dtype.is_numeric():
        res = frame.select(_epoch_to_utc(pl.col("v").cast(pl.Float64))).collect()
        return res.to_series().cast(UTC_TS), False
    if dtype != pl.String:
        return pl.Series(values=[None] * raw.len(), dtype=UTC_TS), False
    # The common case first, as written: "2024-05-01T10:00:00.123Z", from its bytes
    # (about 4x faster than the format parser), else on polars' fast naive-ISO path.
    # When that parses every value, nothing else is computed.
    fast = _iso_z_fast(raw)
    if fast is not None:
        return fast, False
    v = pl.col("v")
    first = (
        frame.select(
            pl.when(v.str.ends_with("Z")).then(
                v.str.strip_suffix("Z")
                .str.to_datetime(_ISO_NAIVE[0], strict=False, time_unit="us")
                .dt.replace_time_zone("UTC")
            )
        )
        .collect()
        .to_series()
        .cast(UTC_TS)
    )
    if first.null_count() == raw.null_count():
        return first, False
    s = v.str.strip_chars()
    # Later shapes only for rows still unparsed.
    iso = s.str.replace(r"^(\d{4}-\d\d-\d\d)[ t]", "${1}T").str.replace(r"[Zz]$", "+00:00")
    stages: list[tuple[pl.Expr, bool]] = [
        (s.str.to_datetime(_ISO_FAST, strict=False, time_zone="UTC", time_unit="us"), False),
        (iso.str.to_datetime(_ISO_OFFSET, strict=False, time_zone="UTC", time_unit="us"), False),
        (
            pl.when(s.str.contains(r"^-?\d+(\.\d+)?$")).then(
                _epoch_to_utc(s.cast(pl.Float64, strict=False))
            ),
            False,
        ),
        (s.str.to_datetime(_CLF, strict=False, time_zone="UTC", time_unit="us"), False),
    ]
    for fmt in _ISO_NAIVE:
        stages.append(
            (
                iso.str.to_datetime(fmt, strict=False, time_unit="us").dt.replace_time_zone(
                    zone, ambiguous="earliest", non_existent="null"
                ),
                True,
            )
        )
    stages.append(
        (
            s.str.to_datetime(_HTTP_DATE, strict=False, time_unit="us").dt.replace_time_zone("UTC"),
            False,
        )
    )
    present = raw.is_not_null() & ~raw.is_in(NULL_STRINGS) & ~(raw.str.strip_chars() == "")
    result = first
    naive = False
    for expr, is_naive in stages:
        todo = present & result.is_null()
        if not todo.any():
            break
        parsed = frame.select(expr.dt.convert_time_zone("UTC")).collect().to_series()
        filled = result.is_null() & parsed.is_not_null()
        if is_naive and filled.any():
            naive = True
        result = result.fill_null(parsed.cast(UTC_TS))
    return result, naive


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_HEXGROUP = r"[1-9a-f][0-9a-f]{0,3}"
_HEXGROUPS = rf"(?:{_HEXGROUP}(?::{_HEXGROUP})*)?"
# RFC 5952 canonical form, cheaply: lower-case groups without leading zeros, one "::"
# standing for at least two zero groups (so at most six groups written), no "0" group
# left uncompressed. Anything else with a colon goes through ``ipaddress`` (rare).
_CANONICAL_V6 = rf"^{_HEXGROUPS}::{_HEXGROUPS}$"
_MAPPED_HEX = r"^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$"
_IP_CACHE: dict[str, str] = {}
_IP_CACHE_MAX = 1_000_000


def _normalise_ip(value: str) -> str:
    """One address: brackets and ports off, IPv4-mapped IPv6 to IPv4, IPv6 compressed."""
    v = value.strip()
    if v.startswith("[") and "]" in v:
        v = v[1 : v.index("]")]
    elif v.count(":") == 1:  # IPv4 (or host) with a port
        v = v.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(v.split("%", 1)[0])
    except ValueError:
        return value.strip().lower()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _ip_exprs(s: pl.Expr) -> pl.Expr:
    """Vectorised forms: IPv4:port and ``::ffff:a.b.c.d`` to IPv4; canonical IPv6 as is.

    Values these rules do not settle (other IPv6 spellings, brackets, host:port) are null.
    """
    v4_port = s.str.extract(rf"^({_IPV4}):\d{{1,5}}$", 1)
    mapped = s.str.extract(rf"(?i)^::ffff:({_IPV4})$", 1)
    canonical = (
        s.str.contains(_CANONICAL_V6)
        & (s.str.count_matches(r"[0-9a-f]+") <= 6)
        & ~s.str.contains(_MAPPED_HEX)
    )
    return (
        pl.when(~s.str.contains(":", literal=True))
        .then(s)
        .when(canonical)
        .then(s)
        .otherwise(pl.coalesce(v4_port, mapped))
    )


def normalise_ips(ips: pl.Series) -> pl.Series:
    """Canonical client addresses; host names are kept as they are.

    X-Forwarded-For lists keep their first hop (the split runs only on batches where some
    value has a comma). IPv4, IPv4 with a port, IPv4-mapped IPv6 and IPv6 already in RFC 5952
    form are settled by string expressions; ``ipaddress`` sees only the other distinct
    values, once per process (cached across batches). A batch with no comma, colon or
    white space at all (plain IPv4 and host names) is settled by that one search: nothing
    in it would change (1M rows: ~0.05 CPU-s against three passes).
    """
    if not ips.str.contains(r"[,:\s]").any():
        return ips
    if ips.str.contains(",", literal=True).any():
        ips = ips.str.replace(r"\s*,.*$", "")
    first_hop = ips.str.strip_chars()
    # Only values with a colon can change; they are worked on once per distinct value.
    colon = first_hop.str.contains(":", literal=True)
    if not colon.any():
        return first_hop
    special = first_hop.filter(colon).unique()
    fast = special.to_frame("s").select(_ip_exprs(pl.col("s"))).to_series()
    if fast.null_count():
        if len(_IP_CACHE) > _IP_CACHE_MAX:
            _IP_CACHE.clear()
        todo = special.filter(fast.is_null())
        fixed = []
        for v in todo.to_list():  # a loop over distinct unsettled values, not over rows
            out = _IP_CACHE.get(v)
            if out is None:
                out = _IP_CACHE[v] = _normalise_ip(v)
            fixed.append(out)
        slow = special.replace_strict(todo, pl.Series(fixed, dtype=pl.String), default=None)
        fast = fast.fill_null(slow)
    if (fast == special).all():
        return first_hop
    return first_hop.replace(special, fast)


def _decode_messages(raw: pl.Series) -> pl.Series:
    """``messages`` kept as JSON text: the last user message's text where it decodes."""
    dtype = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
    looks_json = raw.str.strip_chars_start().str.starts_with("[") & json_depth_ok(raw)
    try:
        decoded = pl.select(pl.when(looks_json).then(raw)).to_series().str.json_decode(dtype)
    except Exception:
        return raw
    expr = _prompt_from_messages(pl.col("m"), dtype)
    assert expr is not None
    text = decoded.to_frame("m").select(expr).to_series()
    # Rows that are not a JSON list of messages keep their text as it is.
    return pl.select(pl.when(decoded.is_null()).then(raw).otherwise(text)).to_series()


def normalise_batch(
    frame: pl.DataFrame,
    spec: MappingSpec,
    tz: str | None,
    source_file: str,
    check_nul: bool = True,
    occurrences: Occurrences | None = None,
) -> Normalised:
    """Map, convert and validate one batch (``frame`` has ``source_line`` and source fields).

    ``check_nul=False`` skips the search for NUL characters in text values, for readers
    that have already ruled them out. ``occurrences`` counts identical rows across the
    batches of one input (see ``add_content_ids``).
    """
    schema = frame.schema
    derived = spec.derived()
    profile_scale = spec.profile.scale if spec.profile else {}
    exprs: list[pl.Expr] = []
    checks: list[tuple[pl.Expr, str]] = []
    sources: dict[str, list[str]] = {}
    ts_raw: list[str] = []
    messages_text: list[str] = []
    for name in MAPPABLE_EVENT_FIELDS:
        if name in derived:
            continue
        found: list[tuple[pl.Expr, pl.DataType]] = []
        for cand in spec.candidates(name):
            hit = resolve_path(schema, cand)
            if hit is not None and hit[1] != pl.Null:
                found.append(hit)
                sources.setdefault(name, []).append(cand)
        target = EVENT_SCHEMA[name]
        if not found:
            exprs.append(pl.lit(None, dtype=target).alias(name))
            continue
        if name == "ts":
            for i, (expr, _dt) in enumerate(found):
                ts_raw.append(f"__ts{i}")
                exprs.append(expr.alias(f"__ts{i}"))
            continue
        if name in NUMERIC_FIELDS:
            from_profile = spec.profile.fields.get(name, ()) if spec.profile else ()
            cands = sources[name]
            values = [
                _as_number(e, d, target, profile_scale.get(name, 1.0) if c in from_profile else 1.0)
                for (e, d), c in zip(found, cands, strict=True)
            ]
            value = pl.coalesce(values) if len(values) > 1 else values[0]
            present = pl.any_horizontal([_present(e, d) for e, d in found])
            checks.append((present & value.is_null(), f"bad_type: {name}"))
            exprs.append(value.alias(name))
            continue
        values = []
        for i, (e, d) in enumerate(found):
            if name == "prompt":
                msg = _prompt_from_messages(e, d)
                if msg is not None:
                    values.append(msg)
                    continue
                if d == pl.String and sources["prompt"][i].lower().endswith("messages"):
                    messages_text.append(f"__msg{len(messages_text)}")
                    exprs.append(e.alias(messages_text[-1]))
                    continue
            values.append(_clean_string(_as_string(e, d)))
        if not values:
            exprs.append(pl.lit(None, dtype=pl.String).alias(name))
        else:
            exprs.append((pl.coalesce(values) if len(values) > 1 else values[0]).alias(name))
    bad_flags = [c.alias(f"__bad{i}") for i, (c, _r) in enumerate(checks)]
    out = frame.lazy().select(pl.col("source_line").cast(pl.Int64), *exprs, *bad_flags).collect()
    # Eager steps on single columns: multi-shape time parsing, IPv6 canonical forms.
    naive = False
    if ts_raw:
        parsed = []
        for col in ts_raw:
            times, was_naive = parse_times(out[col], tz)
            parsed.append(times)
            naive = naive or was_naive
        ts = parsed[0]
        for more in parsed[1:]:
            ts = ts.fill_null(more)
        ts_present = (
            pl.lit(True)  # every row has a time: no need to tell missing from bad
            if ts.null_count() == 0
            else pl.any_horizontal([_present(pl.col(c), out.schema[c]) for c in ts_raw])
        )
        out = out.with_columns(ts.alias("ts"), ts_present.alias("__ts_present")).drop(ts_raw)
    else:
        out = out.with_columns(
            pl.lit(None, dtype=UTC_TS).alias("ts"), pl.lit(False).alias("__ts_present")
        )
    if messages_text:
        decoded = [_decode_messages(out[c]) for c in messages_text]
        prompt = out["prompt"]
        for d in decoded:
            prompt = prompt.fill_null(d)
        out = out.with_columns(prompt.alias("prompt")).drop(messages_text)
    if out["src_ip"].null_count() < out.height:
        out = out.with_columns(normalise_ips(out["src_ip"]).alias("src_ip"))
    for target, src in derived.items():
        out = out.with_columns(pl.col(src).cast(EVENT_SCHEMA[target], strict=False).alias(target))
        sources[target] = [f"{src} (from {', '.join(sources.get(src, []) or ['nothing'])})"]

    reason = (
        pl.when(~pl.col("__ts_present"))
        .then(pl.lit("missing_ts"))
        .when(pl.col("ts").is_null())
        .then(pl.lit("bad_timestamp"))
        .when((pl.col("ts") < PLAUSIBLE_FROM) | (pl.col("ts") >= PLAUSIBLE_TO))
        .then(pl.lit("implausible_timestamp"))
        .when(pl.col("account_id").is_null())
        .then(pl.lit("missing_account_id"))
    )
    for i, (_c, why) in enumerate(checks):
        reason = reason.when(pl.col(f"__bad{i}")).then(pl.lit(why))
    text_cols = [c for c in (*STRING_FIELDS, "src_ip") if c in out.columns]
    if check_nul:
        reason = reason.when(
            pl.any_horizontal([pl.col(c).str.contains("\x00", literal=True) for c in text_cols])
        ).then(pl.lit("nul_byte"))
    out = out.with_columns(reason.otherwise(None).alias("__reason"))

    bad_mask = out["__reason"].is_not_null()
    if bad_mask.any():
        bad = out.filter(bad_mask).select("source_line", pl.col("__reason").alias("reason"))
        raw_src = frame.filter(bad_mask)
        raw = raw_src.select(
            pl.struct(pl.all().exclude("source_line")).struct.json_encode().alias("raw")
        )
        rejects = bad.with_columns(raw.to_series())
        out = out.filter(~bad_mask)
    else:
        rejects = pl.DataFrame(
            schema={"source_line": pl.Int64, "reason": pl.String, "raw": pl.String}
        )

    events = out.lazy().select(
        [
            pl.col(n).cast(t) if n not in ("source_file",) else pl.lit(source_file).alias(n)
            for n, t in EVENT_SCHEMA.items()
        ]
    )
    collected = events.collect()
    missing = collected["request_id"].null_count()
    if missing:
        collected = add_content_ids(collected, occurrences)
    content_only = collected.height > 0 and missing == collected.height
    return Normalised(collected, rejects, sources, naive, content_ids=content_only)


CONTENT_FIELDS = tuple(
    c for c in EVENT_SCHEMA if c not in ("request_id", "source_file", "source_line")
)
_UNIT, _NULL = "\x1f", "\x00"


def _content_parts(events: pl.DataFrame) -> list[pl.Expr]:
    """The canonical content of a row as pieces of one string (fields joined by a unit
    separator), for ``pl.concat_str(..., separator="")``.

    Times are spelled as epoch microseconds and nulls as a NUL (a value never holds one:
    such rows are rejected), so the text depends on the values only, not on a library's
    display format. A column that is null throughout is a constant; constants and the
    separators next to them are merged into one literal (same text, less work).
    """
    pieces: list[pl.Expr | str] = []
    for i, c in enumerate(CONTENT_FIELDS):
        if i:
            pieces.append(_UNIT)
        if events[c].null_count() == events.height:
            pieces.append(_NULL)
            continue
        e = pl.col(c)
        if c == "ts":
            e = e.dt.epoch("us")
        elif EVENT_SCHEMA[c] == pl.Boolean:
            e = e.cast(pl.Int8)
        pieces.append(e.cast(pl.String).fill_null(_NULL))
    merged: list[pl.Expr] = []
    text = ""
    for piece in pieces:
        if isinstance(piece, str):
            text += piece
            continue
        if text:
            merged.append(pl.lit(text))
            text = ""
        merged.append(piece)
    if text:
        merged.append(pl.lit(text))
    return merged


def add_content_ids(events: pl.DataFrame, counter: Occurrences | None) -> pl.DataFrame:
    """Fill missing request ids with ``h:`` + BLAKE3(content, k), truncated to 128 bits.

    ``k`` is the occurrence number of that identical content within its input (counted
    across the input's batches by ``counter``): two identical lines are two requests, while
    re-ingesting a file whose lines are inside one already ingested gives the same ids.
    BLAKE3 (polars-hash) is a fixed algorithm, so ids do not depend on the polars version,
    and a cryptographic hash resists crafted collisions in attacker-controlled log text.
    """
    missing = events["request_id"].is_null()
    todo = events if missing.all() else events.filter(missing)
    # The text is built with k = 1 (nearly every row); the key for counting is its hash
    # (the same suffix on every row changes nothing), and only rows with k > 1 are rebuilt.
    first = [*_content_parts(todo), pl.lit(_UNIT + "1")]
    text = todo.select(pl.concat_str(first, separator="").alias("c"))
    key = text.select(plh.col("c").nchash.xxh3_64()).to_series().to_numpy()
    if counter is None:
        counter = OccurrenceCounter()
    occurrence = counter.occurrence(key)
    repeats = np.flatnonzero(occurrence > 1)
    if repeats.size:
        again = text[repeats].select(
            pl.concat_str(
                pl.col("c").str.head(-1),
                pl.Series(occurrence[repeats]).cast(pl.String),
            )
        )
        text = text.with_columns(text["c"].scatter(repeats, again.to_series()))
    ids = text.select(
        pl.concat_str(pl.lit("h:"), plh.col("c").chash.blake3().str.slice(0, 32))
    ).to_series()
    if ids.len() == events.height:
        return events.with_columns(ids.alias("request_id"))
    filled = events["request_id"].scatter(missing.arg_true(), ids)
    return events.with_columns(filled.alias("request_id"))
