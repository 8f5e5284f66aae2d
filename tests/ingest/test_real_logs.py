"""Every real web log in ../shared/real_logs/ goes through the real ingest command.

The files (see SOURCES.md there) carry no account identity, so they are ingested with
``--map account_id=src_ip``. For each file: ingest succeeds, every line is accounted for
(ingested + duplicate + quarantined = lines), nearly all land, and one known line of each
(checked by hand against the raw file) has the right UTC time, client and request.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from forensics.cli import app

# As tests/conftest.py's REAL_LOGS: ../shared/real_logs beside the clone (read-only in CI).
REAL_LOGS = Path(__file__).resolve().parents[2].parent / "shared" / "real_logs"

UTC = dt.UTC

# file -> (lines, format, {line: (utc time, client, endpoint, status)})
KNOWN = {
    "elastic_apache/apache_logs.gz": (
        10000,
        "combined",
        {
            # [17/May/2015:10:05:03 +0000]
            1: (dt.datetime(2015, 5, 17, 10, 5, 3, tzinfo=UTC), "83.149.9.216", None, 200),
            # [20/May/2015:21:05:15 +0000]
            10000: (
                dt.datetime(2015, 5, 20, 21, 5, 15, tzinfo=UTC),
                "46.105.14.53",
                "/blog/tags/puppet?flav=rss20",
                200,
            ),
        },
    ),
    "nasa_http_1995/nasa.log.gz": (
        20000,
        "common",
        {
            # in24.inetnebr.com [01/Aug/1995:00:00:01 -0400]
            1: (
                dt.datetime(1995, 8, 1, 4, 0, 1, tzinfo=UTC),
                "in24.inetnebr.com",
                "/shuttle/missions/sts-68/news/sts-68-mcc-05.txt",
                200,
            ),
            # [01/Aug/1995:10:59:29 -0400]
            20000: (
                dt.datetime(1995, 8, 1, 14, 59, 29, tzinfo=UTC),
                "163.205.2.204",
                "/images/USA-logosmall.gif",
                200,
            ),
        },
    ),
    "secrepo_weblogs/access-2018-12-15.log": (
        4961,
        "combined",
        {
            # [15/Dec/2018:02:18:31 -0800]
            1: (
                dt.datetime(2018, 12, 15, 10, 18, 31, tzinfo=UTC),
                "77.75.78.160",
                "/robots.txt",
                200,
            ),
            # [16/Dec/2018:02:13:57 -0800]
            4961: (
                dt.datetime(2018, 12, 16, 10, 13, 57, tzinfo=UTC),
                "113.171.224.176",
                "/honeypot/Honeypot%20-%20Howto.pdf",
                200,
            ),
        },
    ),
    "secrepo_weblogs/access.log.2021-10-22": (
        644,
        "combined",
        {
            # [23/Oct/2021:02:31:00 -0700]
            644: (
                dt.datetime(2021, 10, 23, 9, 31, 0, tzinfo=UTC),
                "8.142.17.90",
                "/robots.txt",
                200,
            ),
        },
    ),
    "secrepo_weblogs/access.log.2022-12-22": (
        1262,
        "combined",
        {
            # [22/Dec/2022:02:26:58 -0800]
            1: (dt.datetime(2022, 12, 22, 10, 26, 58, tzinfo=UTC), "49.44.82.7", "/", 301),
            # [23/Dec/2022:02:00:36 -0800]
            1262: (
                dt.datetime(2022, 12, 23, 10, 0, 36, tzinfo=UTC),
                "40.77.167.50",
                "/self.logs/",
                200,
            ),
        },
    ),
    "secrepo_weblogs/2021_all.log": (
        5854,
        "combined",
        {
            # [22/Oct/2021:02:28:56 -0700]
            1: (
                dt.datetime(2021, 10, 22, 9, 28, 56, tzinfo=UTC),
                "51.222.253.14",
                "/Datasets%20Description/Network/ftp.html",
                200,
            ),
            # [27/Oct/2021:02:33:03 -0700]
            5854: (
                dt.datetime(2021, 10, 27, 9, 33, 3, tzinfo=UTC),
                "51.222.253.5",
                "/self.logs/error.log.2020-01-28.gz",
                200,
            ),
        },
    ),
}

pytestmark = pytest.mark.skipif(not REAL_LOGS.is_dir(), reason=f"{REAL_LOGS} not present")


def ingest(paths: list[Path], store: Path) -> dict:
    args = ["ingest", *map(str, paths), "--store", str(store), "--map", "account_id=src_ip"]
    result = CliRunner().invoke(app, [*args, "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def events(store: Path) -> pl.DataFrame:
    return pl.read_parquet(store / "events" / "**" / "*.parquet")


def test_every_real_log_file_is_listed_here():
    on_disk = {
        str(p.relative_to(REAL_LOGS))
        for p in REAL_LOGS.rglob("*")
        if p.is_file() and p.suffix != ".md"
    }
    assert on_disk == set(KNOWN)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_real_log_ingests_nearly_every_line_with_right_utc_times(name: str, tmp_path: Path):
    lines, fmt, known = KNOWN[name]
    summary = ingest([REAL_LOGS / name], tmp_path / "store")
    (entry,) = summary["inputs"]
    assert entry["status"] == "ingested"
    assert entry["format"] == fmt  # sniffed, not told
    assert entry["rows_read"] == lines
    landed, dup, bad = entry["rows_ingested"], entry["rows_duplicate"], entry["rows_quarantined"]
    assert landed + dup + bad == lines
    assert dup == 0  # identical lines (same client, second, request) are separate requests
    assert landed >= 0.995 * lines
    assert sum(entry["quarantine_reasons"].values()) == bad  # every quarantined line has a reason

    frame = events(tmp_path / "store")
    assert frame.height == landed
    assert frame["account_id"].to_list() == frame["src_ip"].to_list()
    assert frame["ts"].dtype == pl.Datetime("us", "UTC")
    for line, (ts, client, endpoint, status) in known.items():
        row = frame.filter(pl.col("source_line") == line).row(0, named=True)
        assert row["ts"] == ts
        assert row["src_ip"] == client
        if endpoint is not None:
            assert row["endpoint"] == endpoint
        assert row["status"] == status


def test_daily_log_already_inside_the_joined_log_adds_nothing(tmp_path: Path):
    # 2021_all.log lines 1-644 are access.log.2021-10-22 (trailing spaces removed).
    store = tmp_path / "store"
    ingest([REAL_LOGS / "secrepo_weblogs" / "2021_all.log"], store)
    before = events(store).height
    summary = ingest([REAL_LOGS / "secrepo_weblogs" / "access.log.2021-10-22"], store)
    (entry,) = summary["inputs"]
    assert entry["rows_ingested"] == 0
    assert entry["rows_duplicate"] == 644
    assert events(store).height == before
