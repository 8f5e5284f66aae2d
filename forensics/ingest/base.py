"""What every log reader hands to the ingest pipeline.

A reader turns one decompressed input stream into batches of records. It knows its format's
syntax and nothing about the store: field mapping, type normalisation, validation,
de-duplication and writing happen downstream, once, for every format.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

import polars as pl

# How much raw text a quarantined record keeps (the rest is cut, and the cut is said).
RAW_TEXT_LIMIT = 4096


@dataclass(frozen=True)
class Reject:
    """One record the reader could not parse."""

    line: int  # 1-based line (or record) number in the source
    reason: str  # short, stable, machine-friendly: "bad_json", "bad_timestamp: ...", ...
    raw: str  # the raw text, as read (the quarantine writer truncates it)


@dataclass
class Batch:
    """Parsed records: one row per record, plus the records that were rejected.

    ``frame`` has an Int64 column ``source_line`` (1-based) and one column per source
    field. Readers that know their format's meaning (combined logs, OTel) name columns with
    canonical names from ``forensics.schema`` where they can, and keep other fields under
    their own names so that ``--map`` can reach them. Values may be of any dtype; the
    pipeline normalises them.
    """

    frame: pl.DataFrame
    rejects: list[Reject] = field(default_factory=list)


@dataclass(frozen=True)
class ReaderOptions:
    extra_fields: tuple[str, ...] = ()  # names of quoted fields after a combined log's UA
    tz: str | None = None  # zone for times that carry no offset (None: UTC)
    batch_lines: int = 250_000  # records per batch, to bound memory
    # Top-level source keys the field mapping may read (canonical names, aliases, --map /
    # --mapping / profile paths): readers that sample a schema must not miss them.
    fields: frozenset[str] = frozenset()


class Reader(Protocol):
    """A log format. ``sniff`` looks at the first bytes; ``read`` yields batches."""

    name: str

    def sniff(self, head: bytes) -> bool: ...

    def read(self, stream: BinaryIO, options: ReaderOptions) -> Iterator[Batch]: ...
