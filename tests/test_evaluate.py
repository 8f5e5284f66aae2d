"""evaluate: account- and ring-level agreement with truth, on hand-built cases."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from forensics.cli import app
from forensics.errors import ForensicsError
from forensics.evaluate import adjusted_rand_index, evaluate
from forensics.schema import RING_MEMBER_SCHEMA

# Two true rings (A: a1-a4, B: b1-b2) and six benign accounts of three kinds.
TRUTH_ROWS = [
    ("a1", "A", "ring"),
    ("a2", "A", "ring"),
    ("a3", "A", "ring"),
    ("a4", "A", "ring"),
    ("b1", "B", "ring"),
    ("b2", "B", "ring"),
    ("n1", "", "benign"),
    ("n2", "", "benign"),
    ("n3", "", "shared_nat"),
    ("n4", "", "shared_nat"),
    ("e1", "", "enterprise"),
    ("e2", "", "enterprise"),
]


@pytest.fixture
def truth_csv(tmp_path: Path) -> Path:
    path = tmp_path / "truth.csv"
    lines = ["account_id,ring_id,kind"] + [",".join(r) for r in TRUTH_ROWS]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def store_with_rings(make_store):
    """A store whose rings/members.parquet holds the given {ring_id: [accounts]}."""

    def build(rings: dict[str, list[str]] | None):
        store = make_store([{"ts": "2025-01-01T00:00:00Z", "account_id": "a1"}])
        if rings is not None:
            rows = [(r, a, 0.9) for r, accs in rings.items() for a in accs]
            frame = pl.DataFrame(rows, schema=RING_MEMBER_SCHEMA, orient="row")
            store.rings_dir.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(store.ring_members_path)
        return store.root

    return build


def test_perfect_detection_scores_one_everywhere(store_with_rings, truth_csv):
    store = store_with_rings({"R1": ["a1", "a2", "a3", "a4"], "R2": ["b1", "b2"]})
    res = evaluate(store, truth_csv)
    assert (res["tp"], res["fp"], res["fn"], res["tn"]) == (6, 0, 0, 6)
    assert res["precision"] == res["recall"] == res["f1"] == 1.0
    assert res["adjusted_rand_index"] == pytest.approx(1.0)
    assert res["ari_accounts"] == 6
    assert {
        r["ring_id"]: (r["best_found_ring"], r["jaccard"], r["split_into"]) for r in res["rings"]
    } == {
        "A": ("R1", 1.0, 1),
        "B": ("R2", 1.0, 1),
    }
    assert res["merged_rings"] == []
    assert all(k["rate"] == 0.0 for k in res["false_positive_rate_by_kind"].values())
    assert res["false_rings"] == []


def test_all_wrong_flags_only_benign_accounts(store_with_rings, truth_csv):
    store = store_with_rings({"R1": ["n1", "n2", "n3"], "R2": ["e1", "e2"]})
    res = evaluate(store, truth_csv)
    assert (res["tp"], res["fp"], res["fn"], res["tn"]) == (0, 5, 6, 1)
    assert res["precision"] == 0.0
    assert res["recall"] == 0.0
    assert res["f1"] == 0.0
    fpr = res["false_positive_rate_by_kind"]
    assert fpr["benign"] == {"accounts": 2, "flagged": 2, "rate": 1.0}
    assert fpr["shared_nat"] == {"accounts": 2, "flagged": 1, "rate": 0.5}
    assert fpr["enterprise"] == {"accounts": 2, "flagged": 2, "rate": 1.0}
    assert all(r["best_found_ring"] is None and r["jaccard"] == 0.0 for r in res["rings"])
    assert res["false_rings"] == [
        {"found_ring": "R1", "size": 3, "kinds": {"benign": 2, "shared_nat": 1}},
        {"found_ring": "R2", "size": 2, "kinds": {"enterprise": 2}},
    ]
    # 11 accounts; truth blocks {a1..a4},{b1,b2}: A=6+1=7; found {n1,n2,n3},{e1,e2}: B=3+1=4;
    # no shared pairs: ARI = (0 - 28/55) / (5.5 - 28/55).
    expected = (0 - 7 * 4 / 55) / (5.5 - 7 * 4 / 55)
    assert res["adjusted_rand_index"] == pytest.approx(expected)


def test_ring_split_in_two_is_reported_with_its_best_half(store_with_rings, truth_csv):
    store = store_with_rings({"R1": ["a1", "a2", "a3"], "R2": ["a4"], "R3": ["b1", "b2"]})
    res = evaluate(store, truth_csv)
    assert res["precision"] == res["recall"] == 1.0
    ring_a = next(r for r in res["rings"] if r["ring_id"] == "A")
    assert ring_a == {
        "ring_id": "A",
        "size": 4,
        "flagged": 4,
        "best_found_ring": "R1",
        "jaccard": 0.75,
        "split_into": 2,
    }
    # n=6; truth A=6+1=7; found B=3+0+1=4; shared pairs nij=3+1=4; N=15.
    expected = (4 - 7 * 4 / 15) / ((7 + 4) / 2 - 7 * 4 / 15)
    assert res["adjusted_rand_index"] == pytest.approx(expected)
    assert res["merged_rings"] == []


def test_two_true_rings_merged_into_one_found_ring(store_with_rings, truth_csv):
    store = store_with_rings({"R1": ["a1", "a2", "a3", "a4", "b1", "b2"]})
    res = evaluate(store, truth_csv)
    assert res["precision"] == res["recall"] == 1.0
    assert res["merged_rings"] == [{"found_ring": "R1", "size": 6, "true_rings": {"A": 4, "B": 2}}]
    jacc = {r["ring_id"]: r["jaccard"] for r in res["rings"]}
    assert jacc == {"A": pytest.approx(4 / 6), "B": pytest.approx(2 / 6)}
    # n=6; truth A=6+1=7; found B=15; nij=7; N=15: (7-7)/(11-7) = 0.
    assert res["adjusted_rand_index"] == pytest.approx(0.0)


def test_partial_recall_with_one_false_positive(store_with_rings, truth_csv):
    store = store_with_rings({"R1": ["a1", "a2", "n1"]})
    res = evaluate(store, truth_csv)
    assert (res["tp"], res["fp"], res["fn"], res["tn"]) == (2, 1, 4, 5)
    assert res["precision"] == pytest.approx(2 / 3)
    assert res["recall"] == pytest.approx(2 / 6)
    assert res["f1"] == pytest.approx(4 / (4 + 1 + 4))


def test_store_with_zero_rings_is_valid_with_recall_zero(store_with_rings, truth_csv):
    res = evaluate(store_with_rings({}), truth_csv)
    assert res["found_rings"] == 0
    assert res["recall"] == 0.0
    assert res["precision"] is None
    assert res["f1"] == 0.0


def test_benign_only_truth_and_no_rings_has_no_false_positives(store_with_rings, tmp_path):
    truth = tmp_path / "benign.csv"
    truth.write_text("account_id,ring_id,kind\nn1,,benign\nn2,,heavy_user\n")
    res = evaluate(store_with_rings({}), truth)
    assert (res["tp"], res["fp"], res["fn"], res["tn"]) == (0, 0, 0, 2)
    assert res["precision"] is None and res["recall"] is None and res["f1"] is None
    assert res["adjusted_rand_index"] is None
    assert res["false_positive_rate_by_kind"]["heavy_user"]["rate"] == 0.0


def test_flagged_account_missing_from_truth_counts_as_false_positive(store_with_rings, truth_csv):
    res = evaluate(store_with_rings({"R1": ["a1", "a2", "a3", "a4", "zz"]}), truth_csv)
    assert res["fp"] == 1
    assert res["accounts"]["flagged_not_in_truth"] == 1
    assert res["false_positive_rate_by_kind"]["not_in_truth"]["flagged"] == 1


def test_store_not_clustered_is_a_clear_error(store_with_rings, truth_csv):
    store = store_with_rings(None)
    with pytest.raises(ForensicsError, match="no rings"):
        evaluate(store, truth_csv)
    result = CliRunner().invoke(app, ["evaluate", str(store), "--truth", str(truth_csv)])
    assert result.exit_code == 1
    assert "no rings" in result.output


def test_cli_json_prints_one_object(store_with_rings, truth_csv):
    store = store_with_rings({"R1": ["a1", "a2", "a3", "a4"], "R2": ["b1", "b2"]})
    result = CliRunner().invoke(app, ["evaluate", str(store), "--truth", str(truth_csv), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["f1"] == 1.0 and doc["found_rings"] == 2


def test_cli_table_names_the_metrics(store_with_rings, truth_csv):
    store = store_with_rings({"R1": ["a1", "a2"]})
    result = CliRunner().invoke(app, ["evaluate", str(store), "--truth", str(truth_csv)])
    assert result.exit_code == 0, result.output
    for word in ("precision", "recall", "adjusted Rand index", "shared_nat", "split into"):
        assert word in result.stdout


def test_ari_is_one_for_identical_partitions_and_symmetric():
    same = pl.DataFrame({"truth": ["x", "x", "y"], "found": ["p", "p", "q"]})
    assert adjusted_rand_index(same) == pytest.approx(1.0)
    swapped = pl.DataFrame({"truth": ["x", "x", "y", "y"], "found": ["p", "q", "p", "q"]})
    back = swapped.select(truth="found", found="truth")
    assert adjusted_rand_index(swapped) == pytest.approx(adjusted_rand_index(back))
