"""simulate: deterministic, labelled, consistent and ingestible scenario output."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.errors import ForensicsError
from forensics.schema import ACCOUNT_FIELDS, EVENT_FIELDS
from forensics.simulate import SCENARIOS, get_scenario, simulate
from forensics.simulate.vocab import NEW_MODEL

KINDS = {"ring", "benign", "shared_nat", "prompt_app", "enterprise", "heavy_user"}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _events(out: Path) -> pl.DataFrame:
    return pl.read_ndjson(sorted((out / "events").glob("*.jsonl")), infer_schema_length=None)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("smoke")
    summary = simulate("smoke", out, seed=7, scale=0.5, progress=False)
    return out, summary


@pytest.fixture(scope="module")
def evasive(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("evasive")
    summary = simulate("evasive", out, seed=3, scale=0.15, progress=False)
    return out, summary


def test_same_seed_gives_byte_identical_output(smoke, tmp_path):
    out, _ = smoke
    simulate("smoke", tmp_path / "again", seed=7, scale=0.5, progress=False)
    assert _files(out) == _files(tmp_path / "again")


def test_different_seed_gives_different_events(smoke, tmp_path):
    out, _ = smoke
    simulate("smoke", tmp_path / "other", seed=8, scale=0.5, progress=False)
    assert _files(out)["truth.csv"] != _files(tmp_path / "other")["truth.csv"]


def test_events_use_exactly_the_canonical_fields_with_utc_z_times(smoke):
    out, summary = smoke
    first = json.loads((out / "events" / "part-00000.jsonl").read_text().splitlines()[0])
    assert list(first) == [f for f in EVENT_FIELDS if f not in ("source_file", "source_line")]
    events = _events(out)
    assert events.height == summary["events"]
    assert events["ts"].str.contains(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").all()
    assert events["request_id"].n_unique() == events.height


def test_truth_lists_every_account_once_with_documented_kinds(smoke):
    out, summary = smoke
    truth = pl.read_csv(out / "truth.csv", schema_overrides={"ring_id": pl.String})
    accounts = pl.read_csv(out / "accounts.csv")
    assert list(accounts.columns) == list(ACCOUNT_FIELDS)
    assert truth.height == accounts.height == summary["accounts"]
    assert truth["account_id"].n_unique() == truth.height
    assert set(truth["account_id"]) == set(accounts["account_id"])
    assert set(truth["kind"]) <= KINDS
    ring_rows = truth.filter(pl.col("kind") == "ring")
    assert ring_rows["ring_id"].null_count() == 0
    assert (
        truth.filter(pl.col("kind") != "ring")["ring_id"].null_count()
        == truth.height - ring_rows.height
    )
    sc = get_scenario("smoke", 0.5)
    assert ring_rows.height == summary["ring_accounts"] == sum(r.accounts for r in sc.rings)
    assert truth.filter(pl.col("kind") == "benign").height == sc.benign
    assert truth.filter(pl.col("kind") == "enterprise").height == sum(sc.enterprises)


def test_every_event_account_is_in_truth_and_every_ring_account_has_events(smoke):
    out, _ = smoke
    truth = pl.read_csv(out / "truth.csv", schema_overrides={"ring_id": pl.String})
    seen = set(_events(out)["account_id"])
    assert seen <= set(truth["account_id"])
    assert set(truth.filter(pl.col("kind") == "ring")["account_id"]) <= seen


def test_no_account_sends_a_request_before_it_was_created(evasive):
    out, _ = evasive
    accounts = pl.read_csv(out / "accounts.csv").select(
        "account_id", pl.col("created_at").str.to_datetime(time_zone="UTC")
    )
    first = (
        _events(out)
        .group_by("account_id")
        .agg(pl.col("ts").str.to_datetime(time_zone="UTC").min().alias("first"))
    )
    joined = first.join(accounts, on="account_id")
    assert joined.height == first.height
    assert (joined["first"] >= joined["created_at"]).all()


def test_source_addresses_are_valid_public_ipv4_or_ipv6(smoke):
    out, _ = smoke
    addresses = [ipaddress.ip_address(a) for a in _events(out)["src_ip"].unique()]
    assert all(a.is_global for a in addresses)
    assert any(a.version == 6 for a in addresses) and any(a.version == 4 for a in addresses)


def test_account_ids_do_not_reveal_ring_membership(smoke):
    out, _ = smoke
    truth = pl.read_csv(out / "truth.csv", schema_overrides={"ring_id": pl.String})
    assert truth["account_id"].str.contains(r"^u_[0-9a-z]{12}$").all()


def test_ring_accounts_stay_far_below_rate_limits(evasive):
    out, _ = evasive
    truth = pl.read_csv(out / "truth.csv", schema_overrides={"ring_id": pl.String})
    per_day = (
        _events(out)
        .join(truth, on="account_id")
        .filter(pl.col("kind") == "ring")
        .group_by("account_id", pl.col("ts").str.slice(0, 10))
        .len()
    )
    assert 12 <= per_day["len"].median() <= 40
    assert per_day["len"].max() < 200


def test_fleet_moves_about_half_its_traffic_to_the_new_model_within_a_day(evasive):
    out, summary = evasive
    release = dt.date.fromisoformat(summary["start"][:10]) + dt.timedelta(
        days=get_scenario("evasive", 0.15).release_day
    )
    truth = pl.read_csv(out / "truth.csv", schema_overrides={"ring_id": pl.String})
    share = (
        _events(out)
        .join(truth, on="account_id")
        .filter(pl.col("model").is_not_null())
        .with_columns(
            is_ring=pl.col("kind") == "ring",
            offset=(pl.col("ts").str.slice(0, 10).str.to_date() - release).dt.total_days(),
        )
        .group_by("is_ring", "offset")
        .agg(new=(pl.col("model") == NEW_MODEL).mean())
    )
    assert share.filter(pl.col("offset") < 0)["new"].max() == 0.0
    ring_after = share.filter(pl.col("is_ring") & (pl.col("offset") >= 1))
    assert ring_after["new"].min() == pytest.approx(0.5, abs=0.1)
    benign_day0 = share.filter(~pl.col("is_ring") & (pl.col("offset") == 0))
    assert benign_day0["new"].item() < 0.1  # benign users adopt gradually


def test_ring_user_agents_mimic_the_benign_mix(evasive):
    out, _ = evasive
    truth = pl.read_csv(out / "truth.csv", schema_overrides={"ring_id": pl.String})
    events = _events(out).join(truth, on="account_id")
    ring_uas = events.filter(pl.col("kind") == "ring")["user_agent"].n_unique()
    assert ring_uas > 20
    assert (
        not events.filter(pl.col("kind") == "ring")["user_agent"]
        .str.starts_with("python-requests")
        .all()
    )


def test_prompts_rarely_repeat_exactly(evasive):
    out, _ = evasive
    prompts = _events(out)["prompt"].drop_nulls()
    assert prompts.n_unique() / prompts.len() > 0.8


def test_csv_format_has_the_canonical_columns(tmp_path):
    simulate("smoke", tmp_path, seed=1, scale=0.2, fmt="csv", progress=False)
    part = pl.read_csv(sorted((tmp_path / "events").glob("*.csv"))[0])
    assert part.columns == [f for f in EVENT_FIELDS if f not in ("source_file", "source_line")]


def test_combined_format_carries_account_and_request_ids(tmp_path):
    simulate("smoke", tmp_path, seed=1, scale=0.2, fmt="combined", progress=False)
    lines = sorted((tmp_path / "events").glob("*.log"))[0].read_text().splitlines()
    pattern = re.compile(
        r'^[0-9a-f:.]+ - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(GET|POST) /v1/\S+ HTTP/1\.1" '
        r'\d{3} \d+ "-" "[^"]*" "u_[0-9a-z]{12}" "req_\d+"$'
    )
    assert lines and all(pattern.match(line) for line in lines)


def test_scale_multiplies_account_counts():
    small, big = get_scenario("evasive", 0.1), get_scenario("evasive", 1.0)
    assert big.benign == 10 * small.benign
    assert sum(r.accounts for r in big.rings) > 5 * sum(r.accounts for r in small.rings)


def test_campaign_is_full_scale():
    sc = SCENARIOS["campaign"]
    assert sum(r.accounts for r in sc.rings) == 25_000
    assert sc.benign == 200_000 and sc.days == 44


def test_rerun_replaces_parts_but_never_deletes_other_files(tmp_path):
    simulate("smoke", tmp_path, seed=1, scale=0.2, progress=False)
    simulate("smoke", tmp_path, seed=1, scale=0.2, fmt="csv", progress=False)
    assert {p.suffix for p in (tmp_path / "events").iterdir()} == {".csv"}
    (tmp_path / "events" / "notes.txt").write_text("mine")
    with pytest.raises(ForensicsError, match="did not write"):
        simulate("smoke", tmp_path, seed=1, scale=0.2, progress=False)
    assert (tmp_path / "events" / "notes.txt").read_text() == "mine"


def test_unknown_scenario_is_a_clear_error(tmp_path):
    with pytest.raises(ForensicsError, match="unknown scenario"):
        simulate("nope", tmp_path)
    result = CliRunner().invoke(app, ["simulate", "--scenario", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "unknown scenario" in result.output


def test_simulated_events_ingest_without_rejects(smoke, tmp_path):
    out, summary = smoke
    store = tmp_path / "store"
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(out / "events"),
            "--store",
            str(store),
            "--accounts",
            str(out / "accounts.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((store / "manifest.json").read_text())
    assert sum(rec.get("rows_ingested", 0) for rec in manifest["inputs"]) == summary["events"]
    assert sum(rec.get("rows_quarantined", 0) for rec in manifest["inputs"]) == 0


@pytest.mark.parametrize(
    ("fmt", "extra"), [("csv", []), ("combined", ["--extra-fields", "account_id,request_id"])]
)
def test_csv_and_combined_output_ingest_every_row(tmp_path, fmt, extra):
    summary = simulate("smoke", tmp_path / "sim", seed=2, scale=0.2, fmt=fmt, progress=False)
    store = tmp_path / "store"
    result = CliRunner().invoke(
        app, ["ingest", str(tmp_path / "sim" / "events"), "--store", str(store), *extra]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((store / "manifest.json").read_text())
    assert sum(rec.get("rows_ingested", 0) for rec in manifest["inputs"]) == summary["events"]
    assert sum(rec.get("rows_quarantined", 0) for rec in manifest["inputs"]) == 0
