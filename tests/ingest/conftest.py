"""Fixtures for ingest tests: write small inputs, ingest them, read the store back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from forensics.ingest.pipeline import IngestOptions, IngestResult, ingest
from forensics.store import Store


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str | bytes], Path]:
    """write(name, text_or_bytes) -> path of a new input file under tmp_path/in."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    return _write


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def run_ingest(store_dir: Path) -> Callable[..., IngestResult]:
    """run_ingest(*paths, **IngestOptions fields) -> IngestResult (into store_dir)."""

    def _run(*paths: Path | str, **options: Any) -> IngestResult:
        return ingest([str(p) for p in paths], store_dir, IngestOptions(**options))

    return _run


@pytest.fixture
def events(store_dir: Path) -> Callable[[], pl.DataFrame]:
    """events() -> every canonical event in the store, sorted by source file and line."""

    def _events() -> pl.DataFrame:
        return Store(store_dir).scan_events().collect().sort("source_file", "source_line")

    return _events


def quarantine_rows(store_dir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in sorted((store_dir / "quarantine").glob("*.jsonl")):
        rows += [json.loads(line) for line in f.read_text().splitlines()]
    return rows


def tree_snapshot(root: Path) -> dict[str, bytes]:
    """Every visible file of a store with its bytes (the lock file and staging excluded)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock" and ".staging" not in p.parts
    }
