"""CSV and TSV with a header row.

Parsed by Arrow's streaming CSV reader (bounded memory, quoted fields may span lines).
Every column is read as text: the pipeline decides types once, for every format, so a
malformed value is rejected row by row instead of failing a whole file. A row with the
wrong number of fields is rejected (``bad_csv_row``) and the run goes on.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import BinaryIO

import polars as pl
import pyarrow as pa

from forensics.ingest.base import RAW_TEXT_LIMIT, Batch, ReaderOptions, Reject


class _Prefixed(io.RawIOBase):
    """A stream that first returns ``prefix`` and then the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _header_line(head: bytes) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace")
    if "\n" not in text:
        return None
    return text.split("\n", 1)[0].rstrip("\r")


def _delimiter(header: str) -> str | None:
    for delim in ("\t", ",", ";", "|"):
        if header.count(delim) >= 1:
            return delim
    return None


_NAME = re.compile(r"^[A-Za-z_@$][\w@$.\-/:()\[\] ]{0,63}$")


def _is_header(head: str, delim: str) -> bool:
    """A header names fields (short names, no duplicates) and the next line has as many."""
    rows = list(csv.reader(head.splitlines()[:2], delimiter=delim))
    if not rows or len(rows[0]) < 2:
        return False
    names = [f.strip().lstrip("\ufeff") for f in rows[0]]
    if not all(_NAME.match(n) for n in names) or len(set(names)) != len(names):
        return False
    # A quoted value may span lines, so a short second row is not proof against CSV.
    return len(rows) < 2 or len(rows[1]) == len(names) or '"' in head


class CsvReader:
    """Comma- (or tab-, semicolon-, pipe-) separated values with a header row."""

    name = "csv"

    def sniff(self, head: bytes) -> bool:
        header = _header_line(head)
        if header is None or header.lstrip().startswith(("{", "[")):
            return False
        delim = _delimiter(header)
        text = head.lstrip(b"\xef\xbb\xbf").decode("utf-8", "replace")
        return delim is not None and _is_header(text, delim)

    def read(self, stream: BinaryIO, options: ReaderOptions) -> Iterator[Batch]:
        import pyarrow.csv as pacsv  # here: it costs every other ingest time to import

        head = stream.read(64 * 1024)
        # Read on to the end of the header line (a header longer than 64 KiB is not a log).
        while b"\n" not in head:
            more = stream.read(64 * 1024)
            if not more or len(head) > 1024 * 1024:
                break
            head += more
        header = _header_line(head)
        delim = _delimiter(header or "") or ","
        names = next(csv.reader([header or ""], delimiter=delim))
        names = [n.strip().lstrip("\ufeff") for n in names]
        rejects: list[Reject] = []
        next_line = 2  # line 1 is the header

        def on_invalid(row: pacsv.InvalidRow) -> str:
            # Arrow knows the row number only without multi-line values: else count.
            line = row.number if row.number is not None else next_line + len(rejects)
            rejects.append(
                Reject(
                    line,
                    f"bad_csv_row: expected {row.expected_columns} fields, got {row.actual_columns}",
                    (row.text or "")[:RAW_TEXT_LIMIT],
                )
            )
            return "skip"

        reader = pacsv.open_csv(
            _Prefixed(head.lstrip(b"\xef\xbb\xbf"), stream),  # type: ignore[arg-type]
            read_options=pacsv.ReadOptions(block_size=16 * 1024 * 1024, use_threads=True),
            parse_options=pacsv.ParseOptions(
                delimiter=delim, newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
        while True:
            try:
                record_batch = reader.read_next_batch()
            except StopIteration:
                break
            except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
                rejects.append(Reject(next_line, f"bad_csv: {str(exc)[:200]}", ""))
                break
            frame = pl.from_arrow(record_batch)
            assert isinstance(frame, pl.DataFrame)
            frame = frame.with_columns(
                source_line=pl.int_range(next_line, next_line + frame.height, dtype=pl.Int64)
            )
            next_line += frame.height + len(rejects)
            yield Batch(frame, rejects[:])
            rejects.clear()
        if rejects:
            yield Batch(pl.DataFrame(schema={"source_line": pl.Int64}), rejects[:])
