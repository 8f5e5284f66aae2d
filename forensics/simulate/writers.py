"""Event writers: canonical JSONL or CSV, or nginx combined lines with two extra fields."""

from __future__ import annotations

from pathlib import Path

import polars as pl

FORMATS = ("jsonl", "csv", "combined")
EXTENSIONS = {"jsonl": "jsonl", "csv": "csv", "combined": "log"}


def _iso(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ"))


def combined_lines(frame: pl.DataFrame) -> pl.DataFrame:
    """nginx ``combined`` plus ``"account_id" "request_id"`` (no prompts in this format)."""
    quoted = [
        pl.col(c)
        .fill_null("-")
        .str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True)
        for c in ("user_agent", "account_id", "request_id")
    ]
    body_bytes = (pl.col("output_tokens").fill_null(0) * 4 + 180).cast(pl.String)
    return frame.select(
        pl.concat_str(
            [
                pl.col("src_ip").fill_null("-"),
                pl.lit(" - - ["),
                pl.col("ts").dt.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                pl.lit('] "'),
                pl.col("method"),
                pl.lit(" "),
                pl.col("endpoint"),
                pl.lit(' HTTP/1.1" '),
                pl.col("status").cast(pl.String),
                pl.lit(" "),
                body_bytes,
                pl.lit(' "-" "'),
                quoted[0],
                pl.lit('" "'),
                quoted[1],
                pl.lit('" "'),
                quoted[2],
                pl.lit('"'),
            ]
        ).alias("line")
    )


def write_part(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    """Write one part file of events in ``fmt``."""
    if fmt == "jsonl":
        _iso(frame).write_ndjson(path)
    elif fmt == "csv":
        _iso(frame).write_csv(path)
    elif fmt == "combined":
        combined_lines(frame).write_csv(path, include_header=False, quote_style="never")
    else:  # pragma: no cover - validated by the caller
        raise ValueError(fmt)
