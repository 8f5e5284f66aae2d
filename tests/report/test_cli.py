"""`forensics report` on the command line: formats, output file, usage errors, exit codes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from forensics.cli import app

runner = CliRunner()


def test_report_json_to_stdout(clustered_store):
    result = runner.invoke(app, ["report", str(clustered_store.root), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rings"][0]["ring_id"] == "R001"


def test_report_writes_output_file(clustered_store, tmp_path):
    target = tmp_path / "out" / "report.html"
    result = runner.invoke(
        app, ["report", str(clustered_store.root), "-f", "html", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert result.stdout == ""


def test_redact_without_key_is_a_usage_error(clustered_store, monkeypatch):
    monkeypatch.delenv("FORENSICS_REDACT_KEY", raising=False)
    result = runner.invoke(app, ["report", str(clustered_store.root), "--redact"])
    assert result.exit_code == 2


def test_redact_key_from_environment(clustered_store, monkeypatch):
    monkeypatch.setenv("FORENSICS_REDACT_KEY", "k1")
    result = runner.invoke(app, ["report", str(clustered_store.root), "--redact", "-f", "csv"])
    assert result.exit_code == 0, result.output
    assert "ring-a0" not in result.stdout and "acct-" in result.stdout


def test_bad_format_or_time_zone_is_a_usage_error(clustered_store):
    root = str(clustered_store.root)
    assert runner.invoke(app, ["report", root, "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["report", root, "--tz", "Nowhere/Land"]).exit_code == 2
    assert runner.invoke(app, ["report", root, "--from", "soon"]).exit_code == 2


def test_unclustered_store_fails_with_one_line(unclustered_store):
    result = runner.invoke(app, ["report", str(unclustered_store.root)])
    assert result.exit_code == 1
    assert "forensics cluster" in result.stderr
    assert "Traceback" not in result.output


def test_terminal_report_on_stdout(clustered_store):
    result = runner.invoke(app, ["report", str(clustered_store.root), "--ring", "R001"])
    assert result.exit_code == 0, result.output
    assert "Members of R001" in result.stdout


def test_terminal_report_to_file_is_plain_text(clustered_store, tmp_path):
    target = tmp_path / "report.txt"
    result = runner.invoke(app, ["report", str(clustered_store.root), "-o", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert "Distillation-campaign report" in text and "R001" in text
    assert "\x1b" not in text
