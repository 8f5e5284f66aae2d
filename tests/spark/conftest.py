"""Spark fixtures: one local[2] session for the whole pytest run (a session starts in ~8 s)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip(
    "pyspark", reason="the spark extra is not installed (pip install 'forensics[spark]')"
)


@pytest.fixture(scope="session")
def spark():
    """A local[2] Spark session, small shuffles, UTC, no UI; stopped at the end of the run."""
    from forensics.errors import ForensicsError
    from forensics.spark.session import spark_session

    try:
        session = spark_session(
            "local[2]",
            {
                "spark.sql.shuffle.partitions": "4",
                "spark.default.parallelism": "4",
                "spark.ui.enabled": "false",
                "spark.driver.memory": "2g",
            },
        )
    except ForensicsError as exc:  # no Java: skip with the line a user would see
        pytest.skip(str(exc))
    yield session
    session.stop()


SAMPLE_LOGS = Path(__file__).resolve().parents[2] / "sample_logs"


def _ingested(root: Path, events: Path, accounts: Path) -> Path:
    from forensics.ingest.pipeline import IngestOptions, ingest

    ingest([str(events)], root, IngestOptions(accounts=str(accounts)))
    return root


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory) -> Path:
    """sample_logs ingested once per run (tests only read it, or copy it before clustering)."""
    root = tmp_path_factory.mktemp("sample") / "store"
    return _ingested(root, SAMPLE_LOGS / "events", SAMPLE_LOGS / "accounts.csv")


@pytest.fixture(scope="session")
def evasive_store(tmp_path_factory) -> Path:
    """A small evasive campaign (468 accounts, 4 rings; proxies, paraphrases, model switch),
    simulated and ingested once per run (tests only read it, or copy it)."""
    from forensics.simulate import simulate

    out = tmp_path_factory.mktemp("evasive")
    simulate("evasive", out / "logs", seed=3, scale=0.15, progress=False)
    return _ingested(out / "store", out / "logs" / "events", out / "logs" / "accounts.csv")
