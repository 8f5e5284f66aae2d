"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

os.environ.setdefault("POLARS_MAX_THREADS", "2")

from forensics.schema import ACCOUNT_SCHEMA, EVENT_SCHEMA  # noqa: E402
from forensics.store import Store  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_LOGS = REPO_ROOT / "sample_logs"
REAL_LOGS = REPO_ROOT.parent / "shared" / "real_logs"


def canonical_events(rows: list[dict]) -> pl.DataFrame:
    """Canonical event frame from partial dicts (missing fields become null)."""
    frame = pl.DataFrame(rows)
    for name, dtype in EVENT_SCHEMA.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    casts = [
        pl.col(n).str.to_datetime(time_zone="UTC").dt.cast_time_unit("us")
        if n == "ts" and frame.schema[n] == pl.String
        else pl.col(n).cast(t)
        for n, t in EVENT_SCHEMA.items()
    ]
    frame = frame.select(casts)
    return frame.with_columns(
        pl.col("source_file").fill_null("fixture"),
        pl.col("source_line").fill_null(pl.int_range(1, pl.len() + 1)),
    )


def write_store(root: Path, events: pl.DataFrame, accounts: pl.DataFrame | None = None) -> Store:
    """A store holding exactly these canonical events (and account records), bypassing ingest."""
    store = Store(root)
    with store.lock(), store.transaction() as txn:
        events = events.with_columns(pl.col("ts").dt.date().alias("_day"))
        for (day,), part in events.partition_by("_day", as_dict=True).items():
            part.drop("_day").write_parquet(
                txn.stage(f"events/date={day}/part-fixture.parquet"), compression="zstd"
            )
        if accounts is not None:
            accounts.select([pl.col(n).cast(t) for n, t in ACCOUNT_SCHEMA.items()]).write_parquet(
                txn.stage("accounts/accounts.parquet")
            )
        manifest = store.read_manifest()
        manifest["inputs"].append(
            {"path": "fixture", "sha256": "0" * 64, "rows_ingested": events.height}
        )
        txn.commit(manifest)
    return store


@pytest.fixture
def make_store(tmp_path: Path) -> Callable[..., Store]:
    """Build a store from canonical event dicts/frames: make_store(events, accounts=None)."""

    def build(events, accounts=None) -> Store:
        frame = events if isinstance(events, pl.DataFrame) else canonical_events(events)
        acc = accounts
        if accounts is not None and not isinstance(accounts, pl.DataFrame):
            acc = pl.DataFrame(accounts)
        return write_store(tmp_path / "store", frame, acc)

    return build
