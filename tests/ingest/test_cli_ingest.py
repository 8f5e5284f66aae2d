"""The ingest command: exit codes, stderr lines, --json, --list-profiles, summary."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from forensics.cli import app
from forensics.store import Store

from .conftest import jsonl

GOOD = [{"ts": "2024-05-01T10:00:00Z", "account_id": "a1", "request_id": "r1"}]


def invoke(*args: str):
    return CliRunner().invoke(app, ["ingest", *args], env={"NO_COLOR": "1"})


def test_ingest_exits_0_and_prints_a_summary_naming_the_format(write, store_dir):
    result = invoke(str(write("a.jsonl", jsonl(GOOD))), "--store", str(store_dir))
    assert result.exit_code == 0, result.output
    assert "jsonl" in result.stderr and "1 events ingested" in result.stderr
    assert result.stdout == ""


def test_json_prints_one_object_to_stdout(write, store_dir):
    result = invoke(str(write("a.jsonl", jsonl(GOOD))), "--store", str(store_dir), "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["rows_ingested"] == 1
    assert doc["inputs"][0]["format"] == "jsonl" and len(doc["inputs"][0]["sha256"]) == 64


def test_quiet_prints_nothing(write, store_dir):
    result = invoke(str(write("a.jsonl", jsonl(GOOD))), "--store", str(store_dir), "--quiet")
    assert result.exit_code == 0 and result.stderr == "" and result.stdout == ""


def test_nothing_ingested_exits_1_with_one_clear_line(write, store_dir):
    result = invoke(str(write("empty.log", b"")), "--store", str(store_dir), "--quiet")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "empty.log: empty file" in lines[0]
    assert "Traceback" not in result.output


def test_missing_input_and_a_good_one_exits_0_with_an_error_line(write, store_dir):
    good = write("a.jsonl", jsonl(GOOD))
    result = invoke("nope.jsonl", str(good), "--store", str(store_dir), "--quiet")
    assert result.exit_code == 0
    assert result.stderr.strip() == "forensics: error: nope.jsonl: no such file or folder"


def test_locked_store_is_refused_with_exit_1(write, store_dir):
    path = write("a.jsonl", jsonl(GOOD))
    with Store(store_dir).lock():
        result = invoke(str(path), "--store", str(store_dir))
    assert result.exit_code == 1
    assert "being written by another forensics process" in result.stderr


def test_usage_errors_exit_2(write, store_dir):
    path = str(write("a.jsonl", jsonl(GOOD)))
    assert invoke(path).exit_code == 2  # no --store
    assert invoke("--store", str(store_dir)).exit_code == 2  # no input
    assert invoke(path, "--store", str(store_dir), "--format", "xml").exit_code == 2
    assert invoke(path, "--store", str(store_dir), "--no-such-option").exit_code == 2


def test_bad_map_option_exits_1_with_one_line(write, store_dir):
    path = str(write("a.jsonl", jsonl(GOOD)))
    result = invoke(path, "--store", str(store_dir), "--map", "nonsense")
    assert result.exit_code == 1 and "expected canonical=source" in result.stderr


def test_list_profiles_lists_every_builtin_profile():
    result = invoke("--list-profiles")
    assert result.exit_code == 0
    for name in ("aws-apigw", "cloudflare-ai-gateway", "helicone", "nginx-json", "litellm"):
        assert name in result.stdout


def test_summary_names_inputs_relative_to_their_common_parent_said_once(tmp_path, monkeypatch):
    from forensics.ingest.summary import display_paths

    monkeypatch.chdir(tmp_path)
    outside = ["/var/log/deep/site/a.log", "/var/log/deep/other/b.log.gz"]
    assert display_paths(outside) == ("/var/log/deep", ["site/a.log", "other/b.log.gz"])
    inside = [str(tmp_path / "x" / "a.log"), "b.log"]
    assert display_paths(inside) == (None, ["x/a.log", "b.log"])
