"""Starting Spark: a missing extra or Java is one clear line; a session runs in UTC."""

from __future__ import annotations

import builtins
import sys

import pytest

from forensics.errors import ForensicsError
from forensics.spark import session as session_module


@pytest.mark.parametrize("missing", ["pyspark", "pandas"])
def test_missing_pyspark_or_its_pandas_names_the_extra(monkeypatch, missing):
    real_import = builtins.__import__

    def no_pyspark(name, *args, **kwargs):
        if name == missing or name.startswith(missing + "."):
            raise ImportError(f"No module named {missing!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, missing, raising=False)
    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(ForensicsError) as err:
        session_module.require_spark()
    assert "pip install 'forensics[spark]'" in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_java_says_java_17_is_needed(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(session_module.shutil, "which", lambda name: None)
    with pytest.raises(ForensicsError) as err:
        session_module.require_spark()
    message = str(err.value)
    assert "Java 17" in message and "PATH" in message and "\n" not in message


def test_java_home_without_java_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(ForensicsError, match="JAVA_HOME"):
        session_module.require_spark()


def test_old_java_is_refused(monkeypatch):
    monkeypatch.setattr(session_module, "java_executable", lambda: "/opt/java8/bin/java")
    monkeypatch.setattr(session_module, "java_major_version", lambda java: 8)
    with pytest.raises(ForensicsError, match="is Java 8"):
        session_module.require_spark()


def test_session_fails_early_without_java_when_cli_starts_spark(monkeypatch):
    monkeypatch.setattr(session_module, "java_executable", lambda: None)
    with pytest.raises(ForensicsError, match="needs Java 17"):
        session_module.spark_session("local[1]")


def test_session_runs_in_utc_with_the_conf_applied(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    assert spark.range(10).count() == 10


@pytest.mark.parametrize(
    ("master", "cores"),
    [("local[2]", 2), ("local", 1), ("local[3,2]", 3), ("local[*]", None), (None, None)],
)
def test_local_master_cores_set_the_shuffle_partitions(master, cores):
    import os

    expected = cores if cores is not None else max(1, os.cpu_count() or 1)
    assert session_module.local_cores(master) == expected
