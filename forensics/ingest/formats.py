"""The format registry: every reader, by name, and sniffing for ``--format auto``.

Readers are tried in the order of ``READER_CLASSES``: the most specific formats first
(binary magic, then JSON shapes with telltale keys, then generic JSON Lines, then text
web logs, CSV last because almost any text has a comma somewhere). Registering a new
format is one line in that list.
"""

from __future__ import annotations

from forensics.errors import ForensicsError
from forensics.ingest.base import Reader
from forensics.ingest.combined import CombinedLogReader, CommonLogReader
from forensics.ingest.delimited import CsvReader
from forensics.ingest.jsonl import JsonlReader
from forensics.ingest.litellm import LiteLLMReader
from forensics.ingest.otel import OtelReader
from forensics.ingest.parquet import ParquetReader

# Order matters: the first reader whose sniff() accepts the head of a file reads it.
READER_CLASSES: list[type] = [
    ParquetReader,
    # OTel (B): goes here, before LiteLLM and JSON Lines.
    OtelReader,
    LiteLLMReader,
    JsonlReader,
    # Combined / common web logs (B): go here, before CSV.
    CombinedLogReader,
    CommonLogReader,
    CsvReader,
]

# How many bytes of a (decompressed) input sniffing looks at.
SNIFF_BYTES = 64 * 1024


def _instances() -> dict[str, Reader]:
    readers: dict[str, Reader] = {}
    for cls in READER_CLASSES:
        reader = cls()
        readers[reader.name] = reader
    return readers


READERS: dict[str, Reader] = _instances()
# Names that read like formats but are read by another reader.
FORMAT_ALIASES = {"ndjson": "jsonl", "json": "jsonl", "tsv": "csv"}


def format_names() -> list[str]:
    """Every format a user may name with ``--format`` (besides ``auto``)."""
    return list(READERS) + list(FORMAT_ALIASES)


def get_reader(name: str) -> Reader:
    """The reader for a format name; a clear error for an unknown one."""
    key = FORMAT_ALIASES.get(name.lower(), name.lower())
    if key not in READERS:
        raise ForensicsError(
            f"unknown format {name!r}; choose auto or one of: {', '.join(format_names())}"
        )
    return READERS[key]


def sniff_reader(head: bytes) -> Reader | None:
    """The first registered reader that recognises ``head``, or None (not a log we read)."""
    if not head.strip():
        return None
    for reader in READERS.values():
        if reader.sniff(head):
            return reader
    return None
