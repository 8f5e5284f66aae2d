"""The ingest pipeline: inputs -> reader batches -> canonical events -> one store commit.

Per input: sha256 (skip it if the store already holds that content), pick the reader
(``--format`` or sniffing), then per batch: map and normalise (``normalise.py``; two
batches at a time in threads, results in input order), drop request ids already seen (in
the store, in this run, in this file), buffer events per UTC day and write zstd Parquet
into the transaction's staging folder (in two writer threads). Rejected rows go to a
quarantine file staged in the same transaction. Nothing is visible in the store until the
single commit at the end (``Store.transaction``), so an interrupted ingest changes nothing.
Memory is bounded by the batch size and the day buffers, not by the input size.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import threading
import time
import zoneinfo
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import numpy as np
import polars as pl

from forensics.errors import ForensicsError
from forensics.ingest.base import RAW_TEXT_LIMIT, Batch, ReaderOptions, Reject
from forensics.ingest.dedup import OccurrenceCounter, RequestIdIndex
from forensics.ingest.formats import SNIFF_BYTES, get_reader, sniff_reader
from forensics.ingest.lines import prepend
from forensics.ingest.normalise import MappingSpec, Normalised, normalise_batch
from forensics.ingest.profiles import get_profile, load_mapping_file, parse_map_options
from forensics.ingest.sources import (
    Sha256InBackground,
    expand_inputs,
    open_decompressed,
    sha256_file,
)
from forensics.ingest.threads import Turns, ordered_map
from forensics.store import Store, Transaction, utc_now_iso

T = TypeVar("T")

# Events buffered across batches before the day buffers are written out as Parquet files
# (the main memory knob; FORENSICS_INGEST_FLUSH_ROWS overrides it).
FLUSH_ROWS = int(os.environ.get("FORENSICS_INGEST_FLUSH_ROWS", "") or 500_000)
# Batches normalised at the same time (threads; polars releases the GIL): 2 cores.
NORMALISE_WORKERS = 2


@dataclass
class IngestOptions:
    """Everything ``forensics ingest`` takes besides inputs and store."""

    format: str = "auto"
    maps: list[str] = field(default_factory=list)  # --map canonical=source
    mapping_file: str | None = None
    profile: str | None = None
    extra_fields: tuple[str, ...] = ()
    tz: str | None = None
    accounts: str | None = None
    batch_bytes: int | None = None  # chunk size for line readers (tests use small ones)


@dataclass
class InputReport:
    """What happened to one input (also its manifest record when rows were ingested)."""

    path: str
    status: str  # ingested | already_ingested | error
    sha256: str = ""
    bytes: int = 0
    format: str = ""
    format_sniffed: bool = False  # chosen by --format auto (from the content)
    rows_read: int = 0
    rows_ingested: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0
    seconds: float = 0.0
    identity_field: str = ""
    tz: str = ""
    profile: str | None = None
    message: str = ""
    quarantine_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class IngestResult:
    store: str
    inputs: list[InputReport]
    errors: list[str]
    txn: str | None = None
    quarantine: str | None = None
    accounts_imported: int = 0
    seconds: float = 0.0

    @property
    def rows_ingested(self) -> int:
        return sum(r.rows_ingested for r in self.inputs)

    @property
    def ok(self) -> bool:
        """False only when nothing at all could be ingested (nor was already there)."""
        return any(r.status in ("ingested", "already_ingested") for r in self.inputs) or (
            self.accounts_imported > 0
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "ok": self.ok,
            "txn": self.txn,
            "rows_ingested": self.rows_ingested,
            "quarantine": self.quarantine,
            "accounts_imported": self.accounts_imported,
            "seconds": round(self.seconds, 3),
            "inputs": [asdict(r) for r in self.inputs],
            "errors": self.errors,
        }


class _EventWriter:
    """Buffers canonical events per UTC day and writes them as staged Parquet parts.

    A day's buffer is written when it holds ``DAY_ROWS`` events (time-ordered logs give
    files of that size), and every buffer when all of them hold ``FLUSH_ROWS`` (the
    memory bound), and the days before the first day of a new batch (before its last day
    if the batch is in time order): they are most likely complete. Writing
    happens in background threads (at most ``IN_FLIGHT`` flushes handed over), so that
    compressing Parquet overlaps with parsing the next batches; a flush of several days
    is shared by ``WRITERS`` threads (the last one, when nothing else is left to do, takes
    half the time on two cores).
    """

    DAY_ROWS = 250_000
    IN_FLIGHT = 2  # flushes handed to the writer threads and not yet done
    WRITERS = 2

    def __init__(self, txn: Transaction) -> None:
        self.txn = txn
        self.buffers: dict[dt.date, list[pl.DataFrame]] = {}
        self.rows: dict[dt.date, int] = {}
        self.buffered = 0
        self.parts = 0
        self._pool = ThreadPoolExecutor(
            max_workers=self.WRITERS, thread_name_prefix="forensics-write"
        )
        self._pending: deque[list[Future[None]]] = deque()

    def add(self, events: pl.DataFrame) -> None:
        if events.height == 0:
            return
        parts, in_order = _split_by_day(events)
        for day, part in parts:
            self.buffers.setdefault(day, []).append(part)
            self.rows[day] = self.rows.get(day, 0) + part.height
        self.buffered += events.height
        full = {d for d, n in self.rows.items() if n >= self.DAY_ROWS}
        # Logs are (nearly) in time order: the days before this batch's first day, or before
        # its last day when the batch is in order, are most likely complete. Writing them now
        # keeps the writer busy and leaves little to write at the end (a straggler for such
        # a day later just goes into another part file).
        done_before = parts[-1][0] if in_order else min(day for day, _ in parts)
        full |= {d for d in self.rows if d < done_before}
        if self.buffered >= FLUSH_ROWS:
            self.flush()
        elif full:
            self.flush(list(full))

    def flush(self, days: list[dt.date] | None = None) -> None:
        """Hand the buffers of ``days`` (default: all) to the writer threads."""
        chosen = sorted(self.buffers) if days is None else sorted(days)
        jobs: list[_Job] = []
        for day in chosen:
            rel = f"events/date={day.isoformat()}/part-{self.txn.txn_id}-{self.parts:05d}.parquet"
            jobs.append((self.buffers.pop(day), self.txn.stage(rel)))
            self.buffered -= self.rows.pop(day)
            self.parts += 1
        if not jobs:
            return
        while len(self._pending) >= self.IN_FLIGHT:  # bounded memory
            self._wait_first()
        self._pending.append(
            [self._pool.submit(_write_parts, share) for share in _shares(jobs, self.WRITERS)]
        )

    def _wait_first(self) -> None:
        for future in self._pending.popleft():
            future.result()

    def wait(self) -> None:
        """Wait for the writes in flight (and raise the first error, if any)."""
        while self._pending:
            self._wait_first()

    def close(self) -> None:
        """Write what is left and wait for it."""
        self.flush()
        self.wait()
        self._pool.shutdown()

    def abort(self) -> None:
        """Stop without writing more (the transaction's staging is thrown away)."""
        self.buffers.clear()
        with contextlib.suppress(BaseException):
            self.wait()
        self._pool.shutdown()


def _split_by_day(events: pl.DataFrame) -> tuple[list[tuple[dt.date, pl.DataFrame]], bool]:
    """The events of each UTC day, and whether the batch was in time order.

    Logs are written in time order, so a batch is usually a run of days: then each day is
    a zero-copy slice. Otherwise the rows are first put in day order by a stable sort (the
    rows of a day keep their order) and then sliced: one gather of the batch, where
    ``partition_by`` gathers each day into new buffers (1M rows over 30 days: ~0.1 CPU-s
    and ~40k page faults less).
    """
    days = events["ts"].dt.date()
    in_order = days.is_sorted()
    if not in_order:
        keyed = events.with_columns(days.alias("__day")).sort("__day", maintain_order=True)
        events, days = keyed.drop("__day"), keyed["__day"]
    runs = days.rle().struct.unnest()
    out, start = [], 0
    for n, day in runs.iter_rows():  # a loop over the batch's days
        out.append((day, events.slice(start, n)))
        start += n
    return out, in_order


_Job = tuple[list[pl.DataFrame], Path]  # one part file: its frames and its staged path


def _shares(jobs: list[_Job], n: int) -> list[list[_Job]]:
    """``jobs`` dealt into at most ``n`` non-empty shares of about equal rows (largest
    first, each to the share with the fewest rows so far)."""
    shares: list[list[_Job]] = [[] for _ in range(n)]
    rows = [0] * n
    for job in sorted(jobs, key=lambda j: -sum(f.height for f in j[0])):
        i = rows.index(min(rows))
        shares[i].append(job)
        rows[i] += sum(f.height for f in job[0])
    return [share for share in shares if share]


def _write_parts(jobs: list[_Job]) -> None:
    # zstd level 1: about half the CPU time of the default level for a file ~1% larger.
    for parts, path in jobs:
        frame = parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=False)
        frame.write_parquet(path, compression="zstd", compression_level=1, statistics=True)


class _Quarantine:
    """Rejected rows of one input, kept in staging until the input is known to be kept."""

    def __init__(self, txn: Transaction, source: str, index: int) -> None:
        self.path = txn.staging_dir / f"quarantine-input-{index:05d}.jsonl"
        self.source = source
        self.count = 0
        self.reasons: dict[str, int] = {}
        self._fh = open(self.path, "wb")  # noqa: SIM115 - closed in close()

    def add_rejects(self, rejects: list[Reject]) -> None:
        for r in rejects:  # reader rejects: few per batch
            obj = {"source": self.source, "line": r.line, "reason": r.reason, "raw": _cut(r.raw)}
            self._fh.write(json.dumps(obj, ensure_ascii=False).encode() + b"\n")
            self._count(r.reason.split(":")[0], 1)

    def add_frame(self, rejects: pl.DataFrame) -> None:
        if rejects.height == 0:
            return
        out = rejects.select(
            pl.lit(self.source).alias("source"),
            pl.col("source_line").alias("line"),
            pl.col("reason"),
            pl.when(pl.col("raw").str.len_bytes() > RAW_TEXT_LIMIT)
            .then(pl.col("raw").str.slice(0, RAW_TEXT_LIMIT) + pl.lit(" [truncated]"))
            .otherwise(pl.col("raw"))
            .alias("raw"),
        )
        out.write_ndjson(self._fh)
        for reason, n in rejects["reason"].value_counts().iter_rows():
            self._count(reason.split(":")[0], n)

    def _count(self, reason: str, n: int) -> None:
        self.count += n
        self.reasons[reason] = self.reasons.get(reason, 0) + n

    def close(self) -> None:
        self._fh.close()


class _InTurn:
    """An occurrence counter used by batch ``i``: it counts only after batches ``0 .. i-1``,
    so occurrence numbers are those of a sequential run."""

    def __init__(self, counter: OccurrenceCounter, turns: Turns, i: int) -> None:
        self.counter, self.turns, self.i = counter, turns, i

    def occurrence(self, hashes: np.ndarray) -> np.ndarray:
        with self.turns.turn(self.i):
            return self.counter.occurrence(hashes)


def prefetch(batches: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Run a reader one batch ahead in a thread, so parsing overlaps with normalising.

    Polars and hashlib release the GIL, so on two cores the reader's parse of batch n+1
    runs while batch n is normalised and written. Exceptions reach the consumer.
    """
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in batches:
                while not stop.is_set():
                    try:
                        box.put(("item", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            box.put(("error", exc))

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while worker.is_alive():
            with contextlib.suppress(queue.Empty):
                box.get(timeout=0.05)
        worker.join()


def _cut(raw: str) -> str:
    return raw if len(raw) <= RAW_TEXT_LIMIT else raw[:RAW_TEXT_LIMIT] + " [truncated]"


def _check_tz(tz: str | None) -> None:
    if tz is None:
        return
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ForensicsError(
            f"--tz {tz!r} is not a known time zone (e.g. Europe/Berlin, UTC)"
        ) from None


def _not_a_log(head: bytes, size: int) -> str | None:
    """Why ``head`` cannot be a log (binary, empty), or None."""
    if size == 0 or not head.strip():
        return "empty file"
    if head[:4] == b"PAR1":
        return None
    # A log may hold a stray NUL or a broken byte (those rows are quarantined); a file
    # where they are common is binary.
    sample = head[:8192]
    controls = sum(
        sample.count(bytes([b])) for b in (*range(0, 9), 11, 12, *range(14, 27), *range(28, 32))
    )
    if controls > max(4, len(sample) // 100):
        return "binary file, not a log"
    text = sample.decode("utf-8", "replace")
    if text.count("\ufffd") > max(8, len(text) // 50):
        return "binary file, not a log"
    return None


def ingest(
    inputs: list[str],
    store_path: str | Path,
    options: IngestOptions | None = None,
    progress: Callable[[int], None] | None = None,
    on_input: Callable[[InputReport], None] | None = None,
) -> IngestResult:
    """Ingest ``inputs`` into the store at ``store_path`` in one all-or-nothing commit.

    ``progress`` is called with the number of (compressed) input bytes read so far in
    steps; ``on_input`` with each input's report when it is done.
    """
    opts = options or IngestOptions()
    started = time.perf_counter()
    _check_tz(opts.tz)
    spec = MappingSpec(
        explicit=parse_map_options(opts.maps),
        file=load_mapping_file(opts.mapping_file) if opts.mapping_file else {},
        profile=get_profile(opts.profile) if opts.profile else None,
    )
    spec.derived()  # fail early on a mapping that chains canonical fields
    if opts.format != "auto":
        get_reader(opts.format)  # fail early on an unknown format
    if opts.accounts is not None and not Path(opts.accounts).is_file():
        raise ForensicsError(f"--accounts {opts.accounts}: no such file")
    files, errors = expand_inputs(inputs)
    if not files and opts.accounts is None:
        raise ForensicsError("; ".join(errors) if errors else "no input files given")
    store = Store(store_path)
    result = IngestResult(store=str(store.root), inputs=[], errors=errors)
    with store.lock(), store.transaction() as txn:
        manifest = store.read_manifest()
        known = {rec.get("sha256"): rec for rec in manifest["inputs"]}
        known_sizes = {rec.get("bytes") for rec in manifest["inputs"]}
        index = RequestIdIndex.from_event_files(store.event_files())
        writer = _EventWriter(txn)
        quarantine_parts: list[Path] = []
        seen_this_run: dict[str, str] = {}
        try:
            for i, path in enumerate(files):
                report = _ingest_one(
                    path,
                    i,
                    opts,
                    spec,
                    txn,
                    writer,
                    index,
                    known,
                    known_sizes,
                    seen_this_run,
                    quarantine_parts,
                    progress,
                )
                result.inputs.append(report)
                if report.status == "error":
                    errors.append(f"{path}: {report.message}")
                if on_input is not None:
                    on_input(report)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        if quarantine_parts:
            qrel = f"quarantine/{txn.txn_id}.jsonl"
            with open(txn.stage(qrel), "wb") as out:
                for part in quarantine_parts:
                    with open(part, "rb") as fh:
                        while block := fh.read(8 * 1024 * 1024):
                            out.write(block)
            result.quarantine = str(store.root / qrel)
        if opts.accounts is not None:
            from forensics.ingest.accounts import stage_accounts

            result.accounts_imported = stage_accounts(Path(opts.accounts), store, txn)
        new_records = [r for r in result.inputs if r.status == "ingested"]
        if new_records or result.accounts_imported:
            for r in new_records:
                rec = asdict(r)
                rec.pop("status")
                rec.pop("message")
                rec["ingested_at"] = utc_now_iso()
                rec["txn"] = txn.txn_id
                rec["quarantine"] = f"quarantine/{txn.txn_id}.jsonl" if r.rows_quarantined else None
                manifest["inputs"].append(rec)
            txn.commit(manifest)
            result.txn = txn.txn_id
    result.seconds = time.perf_counter() - started
    return result


def _ingest_one(
    path: Path,
    index_in_run: int,
    opts: IngestOptions,
    spec: MappingSpec,
    txn: Transaction,
    writer: _EventWriter,
    index: RequestIdIndex,
    known: dict[str | None, dict[str, Any]],
    known_sizes: set[Any],
    seen_this_run: dict[str, str],
    quarantine_parts: list[Path],
    progress: Callable[[int], None] | None,
) -> InputReport:
    started = time.perf_counter()
    index.settle()  # the previous input's content ids, before this input's are compared
    report = InputReport(path=str(path), status="error")
    try:
        report.bytes = path.stat().st_size
    except OSError as exc:
        report.message = f"cannot read: {exc.strerror}"
        return report
    # Only when the size matches something already ingested can the content be the same:
    # then hash first, else hash alongside parsing.
    sha_bg: Sha256InBackground | None = None
    if report.bytes in known_sizes or report.bytes in {s for s in seen_this_run.values()}:
        try:
            report.sha256 = sha256_file(path)
        except OSError as exc:
            report.message = f"cannot read: {exc.strerror}"
            return report
        if report.sha256 in known or report.sha256 in seen_this_run:
            report.status = "already_ingested"
            report.message = "already ingested (same sha256), adds nothing"
            prev = known.get(report.sha256)
            report.format = (prev or {}).get("format", "")
            if progress is not None:
                progress(report.bytes)
            report.seconds = time.perf_counter() - started
            return report
    else:
        sha_bg = Sha256InBackground(path)

    handles: list[BinaryIO] = []
    quarantine = _Quarantine(txn, str(path), index_in_run)
    try:
        try:
            stream, handles = open_decompressed(path, progress)
            head = stream.read(SNIFF_BYTES)
        except (OSError, EOFError, ValueError) as exc:
            report.message = f"cannot read: {exc}"
            return report
        problem = _not_a_log(head, report.bytes)
        if problem:
            report.message = problem
            return report
        reader = get_reader(opts.format) if opts.format != "auto" else sniff_reader(head)
        if reader is None:
            report.message = "unknown format, not a log this tool reads (try --format)"
            return report
        report.format = reader.name
        report.format_sniffed = opts.format == "auto"
        profile_name = opts.profile or getattr(reader, "profile", None)
        if spec.profile is None and profile_name:
            spec = MappingSpec(spec.explicit, spec.file, get_profile(profile_name))
        report.profile = profile_name
        reader_opts = ReaderOptions(
            extra_fields=opts.extra_fields, tz=opts.tz, fields=spec.source_keys()
        )
        if len(handles) == 1:
            stream.seek(0)  # a plain file: readers may map it instead of copying it
            body = stream
        else:
            body = prepend(head, stream)
        sources: dict[str, list[str]] = {}
        naive = False
        occurrences = OccurrenceCounter()
        turns = Turns()

        def normalise(i: int, batch: Batch) -> tuple[Batch, Normalised | None]:
            """Batch ``i``, normalised; batches are normalised two at a time, and count
            occurrences of identical content (content ids) in input order."""
            try:
                if batch.frame.height == 0:
                    return batch, None
                norm = normalise_batch(
                    batch.frame,
                    spec,
                    opts.tz,
                    str(path),
                    check_nul=not getattr(batch, "nul_free", False),
                    occurrences=_InTurn(occurrences, turns, i),
                )
                return batch, norm
            finally:
                turns.skip(i)

        try:
            batches = prefetch(reader.read(body, reader_opts))
            for batch, norm in ordered_map(normalise, batches, NORMALISE_WORKERS):
                report.rows_read += batch.frame.height + len(batch.rejects)
                quarantine.add_rejects(batch.rejects)
                if norm is None:
                    continue
                quarantine.add_frame(norm.rejects)
                naive = naive or norm.naive_times
                for k, v in norm.sources.items():
                    sources.setdefault(k, [])
                    sources[k] += [s for s in v if s not in sources[k]]
                events = norm.events
                if events.height:
                    keep = index.keep_new(events["request_id"], content_ids=norm.content_ids)
                    kept = int(np.count_nonzero(keep))
                    report.rows_duplicate += events.height - kept
                    if kept < events.height:
                        events = events.filter(pl.Series(keep))
                    writer.add(events)
                    report.rows_ingested += kept
        except (OSError, EOFError, ValueError, pl.exceptions.PolarsError) as exc:
            # A stream that breaks halfway (truncated gzip, I/O error): keep what was read.
            quarantine.add_rejects(
                [Reject(report.rows_read + 1, f"read_error: {str(exc)[:200]}", "")]
            )
            report.message = f"input ends badly after {report.rows_read} records: {str(exc)[:200]}"
        report.rows_quarantined = quarantine.count
        report.quarantine_reasons = dict(quarantine.reasons)
        ident = sources.get("account_id", [])
        report.identity_field = ", ".join(ident) if ident else "(none found)"
        if not sources.get("ts"):
            report.tz = "no time field"
        elif naive:
            report.tz = (
                f"{opts.tz} (--tz)"
                if opts.tz
                else "UTC (assumed: times carry no offset, no --tz given)"
            )
        else:
            report.tz = "UTC (from the offsets in the data)"
        if sha_bg is not None:
            report.sha256 = sha_bg.result()
            sha_bg = None
        if report.sha256 in known or report.sha256 in seen_this_run:
            # Same content as an input ingested before: its rows were all duplicates.
            report.status = "already_ingested"
            report.message = "already ingested (same sha256), adds nothing"
            return report
        seen_this_run[report.sha256] = report.bytes  # type: ignore[assignment]
        if report.rows_ingested == 0 and report.rows_duplicate == 0:
            report.message = (
                f"{report.message}; nothing ingested"
                if report.message
                else _nothing_ingested(report)
            )
            return report
        report.status = "ingested"
        quarantine.close()
        if quarantine.count:
            quarantine_parts.append(quarantine.path)
        return report
    finally:
        quarantine.close()
        for h in handles:
            try:
                h.close()
            except Exception:  # noqa: BLE001 - closing a broken stream must not mask the report
                pass
        if sha_bg is not None:
            sha_bg.result()
        report.seconds = time.perf_counter() - started


def _nothing_ingested(report: InputReport) -> str:
    if report.rows_read == 0:
        return "no records found"
    top = sorted(report.quarantine_reasons.items(), key=lambda kv: -kv[1])[:3]
    why = ", ".join(f"{k} x{v}" for k, v in top)
    hint = ""
    if report.quarantine_reasons.get("missing_account_id"):
        hint = "; no account identity found: name one with --map account_id=FIELD (e.g. --map account_id=src_ip)"
    return f"no rows ingested, all {report.rows_read} records quarantined ({why}){hint}"
