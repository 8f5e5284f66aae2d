"""Idempotency, de-duplication, appends, compressed input, interruption and locking."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import zstandard

from forensics.store import Store, StoreLockedError

from .conftest import jsonl, tree_snapshot


def rows(n: int, prefix: str = "r", day: int = 1) -> list[dict]:
    return [
        {
            "ts": f"2024-05-{day:02d}T10:00:{i % 60:02d}Z",
            "account_id": f"a{i % 7}",
            "request_id": f"{prefix}{i}",
            "prompt": f"question {i}",
        }
        for i in range(n)
    ]


def test_reingest_same_file_adds_no_rows(write, run_ingest, events, store_dir):
    path = write("a.jsonl", jsonl(rows(20)))
    run_ingest(path)
    before = tree_snapshot(store_dir)
    again = run_ingest(path)
    assert again.inputs[0].status == "already_ingested"
    assert "adds nothing" in again.inputs[0].message
    assert again.ok
    assert events().height == 20
    assert tree_snapshot(store_dir) == before


def test_duplicate_request_ids_within_a_file_are_dropped_and_counted(write, run_ingest, events):
    data = rows(5) + rows(3)  # r0..r2 twice
    result = run_ingest(write("a.jsonl", jsonl(data)))
    assert result.inputs[0].rows_ingested == 5
    assert result.inputs[0].rows_duplicate == 3
    assert events()["request_id"].n_unique() == 5


def test_duplicates_across_files_in_one_run_and_against_the_store(write, run_ingest, events):
    first = run_ingest(write("a.jsonl", jsonl(rows(10))))
    assert first.inputs[0].rows_ingested == 10
    second = run_ingest(
        write("b.jsonl", jsonl(rows(10)[5:] + rows(5, prefix="s"))),  # 5 already in the store
        write("c.jsonl", jsonl(rows(5, prefix="s") + rows(2, prefix="t"))),  # 5 from b
    )
    b, c = second.inputs
    assert (b.rows_ingested, b.rows_duplicate) == (5, 5)
    assert (c.rows_ingested, c.rows_duplicate) == (2, 5)
    assert events().height == 17


def test_rows_without_request_id_dedupe_on_content_and_occurrence(write, run_ingest, events):
    row = {"ts": "2024-05-01T10:00:00Z", "account_id": "a", "prompt": "same"}
    other = {**row, "prompt": "other"}
    result = run_ingest(write("a.jsonl", jsonl([row, row, other])))
    # Two identical rows in one file are two requests.
    assert (result.inputs[0].rows_ingested, result.inputs[0].rows_duplicate) == (3, 0)
    assert events()["request_id"].str.starts_with("h:").all()
    # Another file holding the first identical row and the other one adds nothing.
    again = run_ingest(write("b.jsonl", jsonl([other, row])))
    assert (again.inputs[0].rows_ingested, again.inputs[0].rows_duplicate) == (0, 2)


def test_append_a_new_file_to_an_existing_store(write, run_ingest, events, store_dir):
    run_ingest(write("a.jsonl", jsonl(rows(4))))
    run_ingest(write("b.jsonl", jsonl(rows(3, prefix="b", day=2))))
    assert events().height == 7
    manifest = json.loads((store_dir / "manifest.json").read_text())
    assert [Path(r["path"]).name for r in manifest["inputs"]] == ["a.jsonl", "b.jsonl"]
    assert len(manifest["transactions"]) == 2


def test_manifest_records_chain_of_custody(write, run_ingest, store_dir):
    import hashlib

    path = write("a.jsonl", jsonl(rows(3) + [{"ts": "bad", "account_id": "x"}]))
    run_ingest(path, tz="Europe/Berlin")
    [rec] = json.loads((store_dir / "manifest.json").read_text())["inputs"]
    assert rec["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rec["bytes"] == path.stat().st_size
    assert rec["format"] == "jsonl"
    assert (rec["rows_read"], rec["rows_ingested"], rec["rows_quarantined"]) == (4, 3, 1)
    assert rec["rows_duplicate"] == 0
    assert rec["ingested_at"].endswith("Z")
    assert rec["identity_field"] == "account_id"
    assert rec["tz"]
    assert (store_dir / rec["quarantine"]).is_file()


def test_gzip_and_zstd_inputs_are_read_transparently(tmp_path, run_ingest, events):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl.gz").write_bytes(gzip.compress(jsonl(rows(3)).encode()))
    # No telling extension: the magic bytes decide.
    (folder / "b.log").write_bytes(
        zstandard.ZstdCompressor().compress(jsonl(rows(2, prefix="z")).encode())
    )
    result = run_ingest(folder)
    assert [r.format for r in result.inputs] == ["jsonl", "jsonl"]
    assert events().height == 5


def test_globs_and_folders_expand_recursively(tmp_path, run_ingest, events):
    (tmp_path / "in" / "deep" / "er").mkdir(parents=True)
    (tmp_path / "in" / "deep" / "er" / "x.jsonl").write_text(jsonl(rows(2)))
    (tmp_path / "in" / "y.jsonl").write_text(jsonl(rows(2, prefix="y")))
    run_ingest(tmp_path / "in" / "deep")
    run_ingest(str(tmp_path / "in" / "*.jsonl"))
    assert events().height == 4


def test_second_ingest_into_a_locked_store_is_refused(write, store_dir, run_ingest):
    path = write("a.jsonl", jsonl(rows(2)))
    with (
        Store(store_dir).lock(),
        pytest.raises(StoreLockedError, match="another forensics process"),
    ):
        run_ingest(path)


def test_accounts_are_imported_and_merged_newest_wins(write, run_ingest, store_dir):
    first = write(
        "acc1.csv",
        "id,created,email,country\nu1,2024-01-01T00:00:00Z,a@Mail.Example,de\nu2,2024-02-01,b@x.org,fr\n",
    )
    second = write(
        "acc2.jsonl", jsonl([{"user_id": "u2", "created_at": "2024-03-01T00:00:00Z", "org": "o9"}])
    )
    run_ingest(write("a.jsonl", jsonl(rows(2))), accounts=str(first))
    result = run_ingest(accounts=str(second))
    assert result.accounts_imported == 1
    acc = pl.read_parquet(store_dir / "accounts" / "accounts.parquet").sort("account_id")
    assert acc["account_id"].to_list() == ["u1", "u2"]
    assert acc["email_domain"].to_list() == ["mail.example", None]
    assert acc["org_id"].to_list() == [None, "o9"]
    assert str(acc["created_at"][1]) == "2024-03-01 00:00:00+00:00"


def test_interrupted_ingest_leaves_the_store_exactly_as_it_was(
    tmp_path, write, run_ingest, events, store_dir
):
    run_ingest(write("first.jsonl", jsonl(rows(10))))
    before = tree_snapshot(store_dir)
    big = tmp_path / "in" / "big.jsonl"
    prompt = "please explain this topic step by step " * 8
    with open(big, "w") as fh:
        for part in range(40):
            fh.write(
                jsonl(
                    [
                        {
                            "ts": f"2024-05-{1 + (i % 28):02d}T10:00:00Z",
                            "account_id": f"a{i % 500}",
                            "request_id": f"big-{part}-{i}",
                            "prompt": prompt,
                        }
                        for i in range(5000)
                    ]
                )
            )
    # Small flushes: Parquet parts are staged early, so the kill lands mid-run.
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "FORENSICS_INGEST_FLUSH_ROWS": "20000"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "forensics",
            "ingest",
            str(big),
            "--store",
            str(store_dir),
            "--quiet",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    staging = store_dir / ".staging"
    deadline = time.monotonic() + 60
    # Kill it once it has staged some Parquet (halfway through writing), or soon after start.
    while time.monotonic() < deadline and proc.poll() is None:
        if staging.is_dir() and any(staging.rglob("*.parquet")):
            break
        time.sleep(0.02)
    assert proc.poll() is None, "ingest finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert tree_snapshot(store_dir) == before
    # The next ingest recovers and works.
    result = run_ingest(big)
    assert result.inputs[0].rows_ingested == 200_000
    assert events().height == 200_010
    assert not (store_dir / ".staging").exists() or not any((store_dir / ".staging").iterdir())


def test_truncated_gzip_keeps_rows_before_the_break_and_says_so(
    tmp_path, run_ingest, events, store_dir, monkeypatch
):
    from forensics.ingest import lines

    monkeypatch.setattr(lines, "CHUNK_BYTES", 4096)
    data = gzip.compress(jsonl(rows(2000)).encode())
    path = tmp_path / "in" / "cut.jsonl.gz"
    path.parent.mkdir()
    path.write_bytes(data[: len(data) // 2])
    result = run_ingest(path)
    report = result.inputs[0]
    assert report.status == "ingested"
    assert 0 < report.rows_ingested < 2000
    assert "ends badly" in report.message
    reasons = [
        json.loads(line)["reason"]
        for q in (store_dir / "quarantine").glob("*.jsonl")
        for line in q.read_text().splitlines()
    ]
    assert any(r.startswith("read_error") for r in reasons)
    assert events().height == report.rows_ingested


def test_a_commit_failing_after_replacing_accounts_is_rolled_back(
    write, run_ingest, store_dir, monkeypatch
):
    run_ingest(
        write("a.jsonl", jsonl(rows(2))), accounts=str(write("acc.csv", "id,country\nu1,de\n"))
    )
    before = tree_snapshot(store_dir)

    def disk_full(self, manifest):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Store, "write_manifest", disk_full)
    with pytest.raises(OSError):
        run_ingest(
            write("b.jsonl", jsonl(rows(2, prefix="b"))),
            accounts=str(write("acc2.csv", "id,country\nu1,fr\n")),
        )
    monkeypatch.undo()
    with Store(store_dir).lock():  # the next writer recovers
        pass
    assert tree_snapshot(store_dir) == before
    assert pl.read_parquet(store_dir / "accounts" / "accounts.parquet")["country"].to_list() == [
        "DE"
    ]
