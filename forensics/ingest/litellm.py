"""LiteLLM proxy spend logs: an export of its ``LiteLLM_SpendLogs`` table (JSON or CSV).

The syntax is plain JSON (array or lines) or CSV, read by those readers; what makes it
LiteLLM is the meaning of its columns (``startTime``, ``user``, ``api_key``,
``requester_ip_address``, ``prompt_tokens``, ``metadata``, ``messages``, ...), which the
built-in ``litellm`` mapping profile carries (see ``forensics.ingest.profiles``).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import BinaryIO

from forensics.ingest.base import Batch, ReaderOptions
from forensics.ingest.delimited import CsvReader
from forensics.ingest.jsonl import JsonlReader

# Columns that only a SpendLogs export has together.
_MARKERS = (b"startTime", b"request_id")
_ONE_OF = (b"spend", b"api_key", b"call_type", b"completion_tokens")


class LiteLLMReader:
    """A LiteLLM SpendLogs export; its rows are mapped with the ``litellm`` profile."""

    name = "litellm"
    profile = "litellm"

    def __init__(self) -> None:
        self._json = JsonlReader()
        self._csv = CsvReader()

    def sniff(self, head: bytes) -> bool:
        if not all(m in head for m in _MARKERS) or not any(m in head for m in _ONE_OF):
            return False
        return self._json.sniff(head) or self._csv.sniff(head)

    def read(self, stream: BinaryIO, options: ReaderOptions) -> Iterator[Batch]:

        buffered = stream if hasattr(stream, "peek") else io.BufferedReader(stream)  # type: ignore[arg-type]
        head = buffered.peek(64 * 1024)  # type: ignore[union-attr]
        reader = self._json if self._json.sniff(head) else self._csv
        yield from reader.read(buffered, options)
