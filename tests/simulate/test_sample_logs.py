"""sample_logs/: the committed sample is what its README's command makes, and is consistent."""

from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl

from forensics.simulate import simulate

SAMPLE = Path(__file__).resolve().parents[2] / "sample_logs"


def test_readme_command_reproduces_the_committed_sample(tmp_path):
    readme = (SAMPLE / "README.md").read_text()
    assert "--scenario evasive --scale 0.4 --days 6 --seed 1" in readme
    simulate("evasive", tmp_path, seed=1, scale=0.4, days=6, progress=False)
    for name in ("accounts.csv", "truth.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    parts = sorted((SAMPLE / "events").glob("*.jsonl.gz"))
    assert [p.name[: -len(".gz")] for p in parts] == [
        p.name for p in sorted((tmp_path / "events").glob("*.jsonl"))
    ]
    for part in parts:
        fresh = (tmp_path / "events" / part.name[: -len(".gz")]).read_bytes()
        assert gzip.decompress(part.read_bytes()) == fresh, part.name


def test_sample_is_small_and_labels_every_account():
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size < 8 * 2**20
    truth = pl.read_csv(SAMPLE / "truth.csv", schema_overrides={"ring_id": pl.String})
    events = pl.read_ndjson([str(p) for p in sorted((SAMPLE / "events").glob("*.jsonl.gz"))])
    assert set(events["account_id"]) <= set(truth["account_id"])
    assert truth.filter(pl.col("kind") == "ring")["ring_id"].n_unique() >= 3
    assert {"shared_nat", "prompt_app", "enterprise", "heavy_user"} <= set(truth["kind"])
