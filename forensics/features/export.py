"""The `forensics features` command's library side: load or compute the table, export it.

The table comes from ``STORE/features/accounts.parquet`` when ``forensics cluster`` has
written it, otherwise it is computed from the store's events (and account records) without
writing anything to the store. Exports are Parquet, CSV or JSON, chosen by the extension.
Account ids are attacker-controlled: CSV cells that a spreadsheet would run as a formula
are prefixed with a quote, and the terminal summary shows statistics only, never ids.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.table import Table

from forensics.errors import ForensicsError
from forensics.features.catalog import FEATURE_LABELS, FEATURES
from forensics.features.compute import compute_account_features
from forensics.store import Store

EXPORT_FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json"}
_FORMULA_START = r"^[=+\-@\t\r]"


def load_features(store: Store) -> pl.DataFrame:
    """The store's feature table: the saved one if present, else computed from the events."""
    store.require()
    if store.features_path.is_file():
        try:
            return pl.read_parquet(store.features_path)
        except Exception as exc:  # a damaged file is the user's to fix, not a traceback
            raise ForensicsError(f"{store.features_path} is unreadable: {exc}") from exc
    return compute_account_features(store.scan_events(), store.scan_accounts())


def csv_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Quote-prefix string cells a spreadsheet would evaluate (=, +, -, @, tab, CR first)."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )


def export_features(frame: pl.DataFrame, output: Path) -> str:
    """Write the table to ``output`` in the format its extension names; return the format."""
    fmt = EXPORT_FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise ForensicsError(
            f"cannot tell the export format of {output.name!r}: use .parquet, .csv or .json"
        )
    if not output.parent.is_dir():
        raise ForensicsError(f"folder {output.parent} does not exist")
    try:
        if fmt == "parquet":
            frame.write_parquet(output, compression="zstd")
        elif fmt == "csv":
            csv_safe(frame).write_csv(output)
        else:
            frame.write_json(output)
    except OSError as exc:
        raise ForensicsError(f"cannot write {output}: {exc}") from exc
    return fmt


def summary_table(frame: pl.DataFrame) -> Table:
    """A short Rich table: each numeric feature's non-null count, median, p95 and max."""
    table = Table(title=f"features of {frame.height} accounts", title_justify="left")
    for header in ("feature", "non-null", "median", "p95", "max"):
        table.add_column(header, justify="left" if header == "feature" else "right")
    numeric = [n for n, t, _ in FEATURES if t.is_numeric() and n in frame.columns]
    if frame.is_empty() or not numeric:
        return table
    stats = frame.select(
        e
        for n in numeric
        for e in (
            pl.col(n).count().alias(f"{n}:n"),
            pl.col(n).cast(pl.Float64).median().alias(f"{n}:median"),
            pl.col(n).cast(pl.Float64).quantile(0.95).alias(f"{n}:p95"),
            pl.col(n).cast(pl.Float64).max().alias(f"{n}:max"),
        )
    ).row(0, named=True)

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.4g}"

    for n in numeric:
        table.add_row(
            FEATURE_LABELS[n],
            str(stats[f"{n}:n"]),
            fmt(stats[f"{n}:median"]),
            fmt(stats[f"{n}:p95"]),
            fmt(stats[f"{n}:max"]),
        )
    return table
