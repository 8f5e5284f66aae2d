"""Account records (``--accounts FILE``): csv, jsonl or parquet into ``STORE/accounts``.

Columns are found by the same alias idea as events (``id``/``user_id`` for the account,
``created``/``signup_date`` for the creation time, an ``email`` becomes its domain, ...).
Records merge with those already in the store by ``account_id``: the record imported last
wins, and within one file the last row for an account wins.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from forensics.errors import ForensicsError
from forensics.ingest.normalise import parse_times, resolve_path
from forensics.schema import ACCOUNT_SCHEMA
from forensics.store import Store, Transaction

ACCOUNT_ALIASES: dict[str, tuple[str, ...]] = {
    "account_id": (
        "account_id",
        "accountId",
        "account",
        "id",
        "user_id",
        "userId",
        "user",
        "customer_id",
    ),
    "created_at": (
        "created_at",
        "createdAt",
        "created",
        "signup_at",
        "signup_date",
        "registered_at",
        "creation_time",
    ),
    "email_domain": ("email_domain", "domain", "email", "email_address"),
    "payment_fingerprint": (
        "payment_fingerprint",
        "card_fingerprint",
        "payment_method_fingerprint",
        "fingerprint",
        "payment_id",
    ),
    "country": ("country", "country_code", "billing_country"),
    "org_id": ("org_id", "orgId", "org", "organization_id", "organization", "team_id"),
}


def read_account_file(path: Path) -> pl.DataFrame:
    """Raw account records, by content: Parquet magic, JSON (lines or array), else CSV."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if head[:4] == b"PAR1":
            return pl.read_parquet(path)
        first = head.lstrip()[:1]
        if first == b"[":
            return pl.read_json(path, infer_schema_length=None)
        if first == b"{":
            return pl.read_ndjson(path, infer_schema_length=None)
        return pl.read_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError, ValueError) as exc:
        raise ForensicsError(
            f"--accounts {path}: cannot read account records: {str(exc).splitlines()[0]}"
        ) from None


def normalise_accounts(raw: pl.DataFrame) -> pl.DataFrame:
    """Account records in ``ACCOUNT_SCHEMA``; rows without an account id are dropped."""
    cols: dict[str, pl.Series] = {}
    for name, aliases in ACCOUNT_ALIASES.items():
        hit = None
        for alias in aliases:
            hit = resolve_path(raw.schema, alias)
            if hit is not None:
                src = alias
                break
        if hit is None:
            cols[name] = pl.Series(name, [None] * raw.height, dtype=ACCOUNT_SCHEMA[name])
            continue
        values = raw.select(hit[0]).to_series()
        if name == "created_at":
            times, _naive = parse_times(values, None)
            cols[name] = times.alias(name)
            continue
        text = values.cast(pl.String).str.strip_chars()
        if name == "email_domain" and "email" in src.lower() and src.lower() != "email_domain":
            text = text.str.extract(r"@([^@\s]+)$")
        if name in ("email_domain", "country"):
            text = text.str.to_lowercase() if name == "email_domain" else text.str.to_uppercase()
        cols[name] = text.alias(name)
    if raw.height and cols["account_id"].null_count() == raw.height:
        raise ForensicsError(
            "account records have no account id column (expected one of: "
            + ", ".join(ACCOUNT_ALIASES["account_id"])
            + ")"
        )
    frame = pl.DataFrame(cols).with_columns(
        pl.when(pl.col("account_id").is_in(["", "-"]))
        .then(None)
        .otherwise(pl.col("account_id"))
        .alias("account_id")
    )
    return (
        frame.filter(pl.col("account_id").is_not_null())
        .unique("account_id", keep="last", maintain_order=True)
        .select([pl.col(n).cast(t) for n, t in ACCOUNT_SCHEMA.items()])
    )


def stage_accounts(path: Path, store: Store, txn: Transaction) -> int:
    """Merge the records of ``path`` into the store's accounts, staged in ``txn``."""
    new = normalise_accounts(read_account_file(path))
    existing = store.scan_accounts()
    merged = new
    if existing is not None:
        old = existing.select([pl.col(n).cast(t) for n, t in ACCOUNT_SCHEMA.items()]).collect()
        merged = pl.concat(
            [old.filter(~pl.col("account_id").is_in(new["account_id"].implode())), new]
        )
    rel = "accounts/accounts.parquet"
    merged.write_parquet(txn.stage_replacement(rel), compression="zstd")
    return new.height
