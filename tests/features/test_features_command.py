"""`forensics features STORE [--output FILE]`: compute or export the feature table."""

import polars as pl
import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.features import FEATURE_SCHEMA

runner = CliRunner()


@pytest.fixture
def store(make_store):
    return make_store(
        [
            {"account_id": '=HYPERLINK("x")', "ts": "2024-05-01T10:00:00Z", "src_ip": "1.2.3.4"},
            {"account_id": "plain", "ts": "2024-05-01T11:00:00Z", "src_ip": "1.2.3.5"},
        ]
    )


def test_exports_parquet_computed_from_the_store(store, tmp_path):
    out = tmp_path / "features.parquet"
    result = runner.invoke(app, ["features", str(store.root), "--output", str(out)])
    assert result.exit_code == 0, result.output
    table = pl.read_parquet(out)
    assert table.height == 2 and table.columns == list(FEATURE_SCHEMA)
    assert not store.features_path.exists()  # exporting never writes into the store


def test_csv_export_defuses_spreadsheet_formulas_in_account_ids(store, tmp_path):
    out = tmp_path / "features.csv"
    result = runner.invoke(app, ["features", str(store.root), "-o", str(out)])
    assert result.exit_code == 0, result.output
    table = pl.read_csv(out)
    assert sorted(table["account_id"]) == ['\'=HYPERLINK("x")', "plain"]
    assert table["requests"].to_list() == [1, 1]


def test_saved_feature_table_is_exported_as_is(store, tmp_path):
    saved = pl.DataFrame({"account_id": ["from-cluster"], "requests": [42]})
    store.features_path.parent.mkdir(parents=True)
    saved.write_parquet(store.features_path)
    out = tmp_path / "f.json"
    assert runner.invoke(app, ["features", str(store.root), "-o", str(out)]).exit_code == 0
    assert pl.read_json(out).to_dicts() == [{"account_id": "from-cluster", "requests": 42}]


def test_summary_goes_to_stdout_without_account_ids(store):
    result = runner.invoke(app, ["features", str(store.root)])
    assert result.exit_code == 0
    assert "features of 2 accounts" in result.stdout and "HYPERLINK" not in result.stdout


def test_unknown_extension_and_missing_store_are_one_line_errors(store, tmp_path):
    bad = runner.invoke(app, ["features", str(store.root), "-o", str(tmp_path / "f.xlsx")])
    assert bad.exit_code == 1 and "use .parquet, .csv or .json" in bad.output
    missing = runner.invoke(app, ["features", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "not a forensics store" in missing.output
    assert "Traceback" not in missing.output
