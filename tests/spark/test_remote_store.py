"""`cluster --engine spark` on a store named by a URI, read and written through Hadoop.

The store here is a ``viewfs://`` URI: Hadoop's ViewFileSystem, shipped with Spark, whose
mount table points at a folder of the test's. It is a real Hadoop file system with its own
scheme, so every read and write of the run goes through Spark's Hadoop FileSystem API, as
it would for ``hdfs://`` or ``s3a://``; none of the engine's code sees a local path of the
store (an S3 bucket or an HDFS cluster cannot be started in a test).
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from forensics.cli import app
from forensics.errors import ForensicsError
from forensics.rings.params import ClusterParams
from forensics.rings.pipeline import cluster_store
from forensics.spark.engine import cluster_store_spark
from forensics.spark.remote import REMOTE_LOCK, SCRATCH, RemoteStore
from forensics.store import Store, StoreError, StoreLockedError

OUTPUTS = (
    "features/accounts.parquet",
    "rings/members.parquet",
    "rings/edges.parquet",
    "rings/rings.parquet",
)


def mount(spark, folder: Path) -> str:
    """A viewfs:// URI whose store is ``folder`` (a mount table of its own)."""
    table = f"t{uuid.uuid4().hex[:12]}"
    spark.sparkContext._jsc.hadoopConfiguration().set(
        f"fs.viewfs.mounttable.{table}.link./case", "file://" + str(folder.resolve())
    )
    return f"viewfs://{table}/case"


@pytest.fixture(scope="module")
def remote_run(sample_store, spark, tmp_path_factory):
    """sample_logs clustered at a URI by Spark, and a copy clustered locally by the local
    engine. A temporary file a killed run would have left is placed beside the outputs, and
    so is a scratch folder."""
    tmp = tmp_path_factory.mktemp("remote")
    backing, local = tmp / "backing", tmp / "local"
    shutil.copytree(sample_store, backing)
    shutil.copytree(sample_store, local)
    (backing / "rings").mkdir()
    leftover = backing / "rings" / ".members.parquet.0123abcd.tmp"
    leftover.write_bytes(b"half a file")
    (backing / SCRATCH / "0123abcd").mkdir(parents=True)
    uri = mount(spark, backing)
    by_spark = cluster_store_spark(uri, ClusterParams(), quiet=True, spark=spark)
    by_local = cluster_store(Store(local), ClusterParams(), quiet=True)
    return backing, local, by_spark, by_local, leftover


def test_a_uri_store_gets_the_local_engines_outputs(remote_run):
    backing, local, by_spark, by_local, _ = remote_run
    assert by_local.run["rings"] >= 1
    for name in OUTPUTS:
        assert_frame_equal(
            pl.read_parquet(backing / name), pl.read_parquet(local / name), rel_tol=1e-9
        )
    run = json.loads((backing / "rings" / "run.json").read_text())
    assert run["engine"] == "spark"
    assert run["rings"] == by_local.run["rings"]
    assert run["flagged_accounts"] == by_local.run["flagged_accounts"]
    assert run["model_switch_evidence"] == by_local.run["model_switch_evidence"]


def test_a_uri_store_reports_like_a_local_one(remote_run):
    backing, local, *_ = remote_run
    shown = [
        CliRunner().invoke(app, ["report", str(root), "--format", "json"])
        for root in (backing, local)
    ]
    assert [r.exit_code for r in shown] == [0, 0]
    rings = [[(r["ring_id"], r["size"]) for r in json.loads(out.stdout)["rings"]] for out in shown]
    assert rings[0] == rings[1] and rings[0]


def test_a_uri_run_releases_its_lock_and_sweeps_a_killed_runs_files(remote_run):
    backing, _local, _s, _l, leftover = remote_run
    assert not (backing / REMOTE_LOCK).exists()
    assert not leftover.exists()
    assert not (backing / SCRATCH).exists()
    assert not list(backing.glob("**/.*.tmp"))


def test_a_uri_store_held_by_another_run_is_refused_naming_the_owner(sample_store, spark, tmp_path):
    backing = tmp_path / "held"
    shutil.copytree(sample_store, backing)
    owner = {"host": "ir-node-7", "pid": 4242, "started_at": "2026-11-27T09:00:00Z"}
    (backing / REMOTE_LOCK).write_text(json.dumps(owner))
    with pytest.raises(StoreLockedError) as caught:
        cluster_store_spark(mount(spark, backing), ClusterParams(), quiet=True, spark=spark)
    message = str(caught.value)
    assert "'ir-node-7' (pid 4242) since 2026-11-27T09:00:00Z" in message
    assert "delete the file" in message
    assert not (backing / "rings").exists() and not (backing / "features").exists()
    assert (backing / REMOTE_LOCK).exists()  # another run's lock is never removed


def test_a_uri_that_holds_no_store_is_one_clear_error(spark, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(StoreError, match="not a forensics store"):
        cluster_store_spark(mount(spark, tmp_path / "empty"), ClusterParams(), spark=spark)


def test_a_scheme_spark_has_no_connector_for_is_one_line(spark):
    with pytest.raises(ForensicsError, match="hadoop-aws") as caught:
        cluster_store_spark("s3a://bucket/case42", ClusterParams(), spark=spark)
    assert "\n" not in str(caught.value)


def test_a_uri_store_without_events_is_one_clear_error_and_releases_the_lock(
    sample_store, spark, tmp_path
):
    backing = tmp_path / "no-events"
    backing.mkdir()
    shutil.copy2(sample_store / "manifest.json", backing / "manifest.json")
    with pytest.raises(ForensicsError, match="holds no events"):
        cluster_store_spark(mount(spark, backing), ClusterParams(), spark=spark)
    assert not (backing / REMOTE_LOCK).exists()


def test_a_write_the_file_system_refuses_is_one_line_and_leaves_no_temporary_file(spark, tmp_path):
    backing = tmp_path / "case"
    backing.mkdir()
    (backing / "rings").write_text("a file where the rings folder should be")
    output = tmp_path / "members.parquet"
    pl.DataFrame({"ring_id": ["R001"]}).write_parquet(output)
    remote = RemoteStore(spark, mount(spark, backing))
    with pytest.raises(
        StoreError, match=r"could not write viewfs://.*/rings/members\.parquet: "
    ) as e:
        remote.publish(output, "rings/members.parquet")
    assert "\n" not in str(e.value)
    assert sorted(p.name for p in backing.iterdir()) == ["rings"]


def test_publishing_replaces_the_file_whole(spark, tmp_path):
    backing = tmp_path / "case"
    (backing / "rings").mkdir(parents=True)
    (backing / "rings" / "run.json").write_text('{"old": true}')
    new = tmp_path / "run.json"
    new.write_text('{"new": true}')
    RemoteStore(spark, mount(spark, backing)).publish(new, "rings/run.json")
    assert json.loads((backing / "rings" / "run.json").read_text()) == {"new": True}
    assert [p.name for p in (backing / "rings").iterdir() if not p.name.endswith(".crc")] == [
        "run.json"
    ]
