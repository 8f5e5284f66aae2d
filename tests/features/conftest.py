"""Fixtures for the feature tests: account records with every canonical column."""

import datetime as dt

import polars as pl

from forensics.schema import ACCOUNT_SCHEMA


def account_records(**columns: list) -> pl.DataFrame:
    """An account-records frame: the given columns, the other canonical ones null."""
    n = len(next(iter(columns.values())))
    data = {name: columns.get(name, [None] * n) for name in ACCOUNT_SCHEMA}
    return pl.DataFrame(data, schema=ACCOUNT_SCHEMA)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
