import json
import multiprocessing

import polars as pl
import pytest

from forensics.store import Store, StoreError, StoreLockedError


def _hold_lock(root, ready, release):
    with Store(root).lock():
        ready.set()
        release.wait(10)


def test_second_writer_is_refused_while_store_is_locked(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(tmp_path, ready, release))
    proc.start()
    try:
        assert ready.wait(20)
        with pytest.raises(StoreLockedError, match="being written"), Store(tmp_path).lock():
            pass
    finally:
        release.set()
        proc.join(20)


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
