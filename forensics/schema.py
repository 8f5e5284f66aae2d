"""The canonical schemas: the one home of field names and types.

Every stage refers to these names; nothing else spells a field name as a literal schema.
See docs/design.md (a copy of the store contract) for what each field means.
"""

from __future__ import annotations

import polars as pl

STORE_SCHEMA_VERSION = 1

UTC_TS = pl.Datetime("us", "UTC")

# One row per API request.
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "ts": UTC_TS,
    "account_id": pl.String(),
    "api_key_id": pl.String(),
    "request_id": pl.String(),
    "src_ip": pl.String(),
    "user_agent": pl.String(),
    "method": pl.String(),
    "endpoint": pl.String(),
    "status": pl.Int16(),
    "model": pl.String(),
    "input_tokens": pl.Int64(),
    "output_tokens": pl.Int64(),
    "latency_ms": pl.Float64(),
    "prompt": pl.String(),
    "source_file": pl.String(),
    "source_line": pl.Int64(),
}
EVENT_FIELDS: tuple[str, ...] = tuple(EVENT_SCHEMA)
REQUIRED_EVENT_FIELDS: tuple[str, ...] = ("ts", "account_id")
# Fields a user may name in --map (provenance is always set by the tool itself).
MAPPABLE_EVENT_FIELDS: tuple[str, ...] = tuple(
    f for f in EVENT_FIELDS if f not in ("source_file", "source_line")
)

# Optional account records (an export from the provider's account database).
ACCOUNT_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "created_at": UTC_TS,
    "email_domain": pl.String(),
    "payment_fingerprint": pl.String(),
    "country": pl.String(),
    "org_id": pl.String(),
}
ACCOUNT_FIELDS: tuple[str, ...] = tuple(ACCOUNT_SCHEMA)

# rings/members.parquet: one row per flagged account.
RING_MEMBER_SCHEMA: dict[str, pl.DataType] = {
    "ring_id": pl.String(),
    "account_id": pl.String(),
    "score": pl.Float64(),
}

# rings/edges.parquet: the evidence graph (one row per verified pair and view).
RING_EDGE_SCHEMA: dict[str, pl.DataType] = {
    "account_a": pl.String(),
    "account_b": pl.String(),
    "similarity": pl.Float64(),
    "view": pl.String(),
}

# rings/rings.parquet: one row per ring. `evidence` is a JSON document (see
# docs/detection.md, "Evidence"), kept as text so that any Parquet reader can carry it.
RING_SCHEMA: dict[str, pl.DataType] = {
    "ring_id": pl.String(),
    "size": pl.Int64(),
    "score": pl.Float64(),
    "first_seen": UTC_TS,
    "last_seen": UTC_TS,
    "requests": pl.Int64(),
    "output_tokens": pl.Int64(),
    "views": pl.List(pl.String()),
    "headline": pl.String(),
    "evidence": pl.String(),
}

# truth.csv written by `forensics simulate` and read by `forensics evaluate`.
TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "ring_id": pl.String(),
    "kind": pl.String(),
}


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """An empty frame with exactly this schema."""
    return pl.DataFrame(schema=schema)
