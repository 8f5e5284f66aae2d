import json
import subprocess
import sys

import polars as pl
import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.store import Store, StoreError, StoreLockedError

HOLD_LOCK = """
import sys, time
from forensics.store import Store
with Store(sys.argv[1]).lock():
    print("ready", flush=True)
    sys.stdin.readline()
"""


def test_second_writer_is_refused_while_store_is_locked(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        with pytest.raises(StoreLockedError, match="being written"), Store(tmp_path).lock():
            pass
    finally:
        proc.communicate("\n", timeout=20)
    with Store(tmp_path).lock():  # released once the other writer is done
        pass


def test_commit_publishes_files_and_manifest_together(tmp_path):
    store = Store(tmp_path)
    with store.lock(), store.transaction() as txn:
        pl.DataFrame({"a": [1]}).write_parquet(txn.stage("events/date=2024-01-01/part-x.parquet"))
        manifest = store.read_manifest()
        manifest["inputs"].append({"path": "x", "sha256": "abc"})
        txn.commit(manifest)
    assert (tmp_path / "events/date=2024-01-01/part-x.parquet").is_file()
    assert store.ingested_sha256s() == {"abc"}
    assert not (tmp_path / ".staging").exists()


def test_interrupted_commit_is_rolled_back_by_next_writer(tmp_path):
    store = Store(tmp_path)
    # A commit that died after moving its file but before writing the manifest.
    final = tmp_path / "events/date=2024-01-01/part-dead.parquet"
    final.parent.mkdir(parents=True)
    pl.DataFrame({"a": [1]}).write_parquet(final)
    journal = {
        "txn": "dead",
        "moves": [[".staging/dead/0-part.parquet", str(final.relative_to(tmp_path))]],
    }
    (tmp_path / ".journal.json").write_text(json.dumps(journal))
    with store.lock():
        pass
    assert not final.exists()
    assert not (tmp_path / ".journal.json").exists()


def test_reading_a_folder_that_is_not_a_store_says_so(tmp_path):
    with pytest.raises(StoreError, match="not a forensics store"):
        Store(tmp_path).require()


def test_empty_store_scans_to_empty_canonical_frame(tmp_path):
    frame = Store(tmp_path).scan_events().collect()
    assert frame.height == 0
    assert frame.columns[:2] == ["ts", "account_id"]


def test_fixture_store_round_trips_canonical_events(make_store):
    store = make_store(
        [
            {"ts": "2024-05-01T10:00:00Z", "account_id": "a1", "prompt": "hi"},
            {"ts": "2024-05-02T10:00:00Z", "account_id": "a2", "status": 200},
        ]
    )
    frame = store.scan_events().collect().sort("ts")
    assert frame["account_id"].to_list() == ["a1", "a2"]
    assert frame.schema["status"] == pl.Int16


@pytest.mark.parametrize("command", [["report"], ["evaluate", "--truth", "t.csv"], ["features"]])
def test_a_uri_store_is_refused_by_local_only_commands_in_one_line(command):
    result = CliRunner().invoke(app, [command[0], "s3a://bucket/case42", *command[1:]])
    assert result.exit_code == 1
    assert "only `forensics cluster --engine spark` reads stores at URIs" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_ingest_into_a_uri_creates_no_local_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "log.jsonl").write_text('{"ts": "2026-01-01T00:00:00Z", "account_id": "a"}\n')
    result = CliRunner().invoke(app, ["ingest", "log.jsonl", "--store", "s3a://bucket/case42"])
    assert result.exit_code == 1
    assert "is a URI" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl"]
