"""Spark fixtures: one local[2] session for the whole pytest run (a session starts in ~8 s)."""

from __future__ import annotations

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
