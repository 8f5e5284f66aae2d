"""Every format: content, escaping of hostile log text, chain of custody, no-rings stores."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from rich.console import Console

from forensics import __version__
from forensics.report import FORMATS, build_report, render
from forensics.report.model import iso
from forensics.report.terminal import render_terminal

from .conftest import FORMULA_ACCOUNT, IMG_UA, RING2_ACCOUNTS, RING_ACCOUNTS, SCRIPT_PROMPT


def test_json_follows_the_design_contract(clustered_store):
    doc = json.loads(render(build_report(clustered_store), "json"))
    assert set(doc) == {"summary", "inputs", "rings"}
    assert {"path", "sha256", "rows_ingested"} <= set(doc["inputs"][0])
    ring = doc["rings"][0]
    assert {"ring_id", "size", "score", "accounts", "evidence"} <= set(ring)
    assert ring["ring_id"] == "R001" and ring["size"] == 6 and ring["score"] == 0.95
    assert ring["accounts"] == RING_ACCOUNTS
    assert ring["evidence"][0]["kind"] == "shared_template"
    # log text is carried verbatim (JSON escaping is the encoder's job)
    assert ring["examples"][0]["user_agent"] == IMG_UA
    assert doc["summary"]["accounts_flagged"] == 9


def test_csv_ban_list_has_one_row_per_flagged_account(clustered_store):
    rows = list(csv.DictReader(io.StringIO(render(build_report(clustered_store), "csv"))))
    assert list(rows[0])[:3] == ["ring_id", "account_id", "score"]
    assert len(rows) == len(RING_ACCOUNTS) + len(RING2_ACCOUNTS)
    assert rows[0]["ring_id"] == "R001" and rows[0]["account_id"] == "ring-a0"
    assert rows[0]["headline"].startswith("6 accounts share one prompt template")


def test_csv_neutralises_formula_account_ids(clustered_store):
    rows = list(csv.DictReader(io.StringIO(render(build_report(clustered_store), "csv"))))
    ids = [r["account_id"] for r in rows]
    assert "'" + FORMULA_ACCOUNT in ids
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r.values())


def test_markdown_escapes_html_in_log_text(clustered_store):
    text = render(build_report(clustered_store, ring="R001"), "markdown")
    assert "<script>" not in text.replace(f"`{SCRIPT_PROMPT}`", "")
    assert "&lt;script&gt;" in text
    assert "<img" not in text.replace(f"`{IMG_UA}`", "")
    assert "#### Members" in text and "ring-a5" in text


def test_markdown_overview_lists_rings_with_headline(clustered_store):
    text = render(build_report(clustered_store), "markdown")
    assert "| R001 | 6 | 0.95 |" in text
    assert "#### Members" not in text


def test_terminal_never_prints_log_escape_sequences_or_markup(clustered_store):
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="truecolor", width=200)
    render_terminal(build_report(clustered_store, ring="R002"), console)
    out = buffer.getvalue()
    assert "\x1b]" not in out and "\x07" not in out
    assert "\x1b[31m" not in out  # the log's own colour code
    # Rich markup in log text is shown literally, not interpreted
    assert "[bold]markup[/bold]" in out


def test_terminal_ring_view_shows_members_and_all_evidence(clustered_store):
    out = render(build_report(clustered_store, ring="R001"), "terminal")
    assert "Members of R001" in out
    assert all(a in out for a in RING_ACCOUNTS)
    assert "Shared subnets" in out and "203.0.113.0/24" in out
    assert "Ring versus population" in out


def test_terminal_overview_shows_summary_and_headlines(clustered_store):
    out = render(build_report(clustered_store), "terminal")
    assert "Accounts flagged" in out and "Flagged share of requests" in out
    assert "000000000000" in out  # sha256 prefix of the input
    assert out.index("R001") < out.index("R002")
    assert "Members of" not in out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_states_the_chain_of_custody(clustered_store, fmt):
    report = build_report(clustered_store, output_format=fmt, tz="Europe/Paris")
    text = render(report, fmt)
    assert "0" * 64 in text  # every input's full sha256
    assert __version__ in text
    assert "Europe/Paris" in text  # the run's parameters
    generated = report.summary.generated_at
    assert report.fmt_ts(generated) in text or iso(generated) in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_store_without_rings_says_so_plainly(empty_rings_store, fmt):
    text = render(build_report(empty_rings_store), fmt)
    if fmt == "json":
        doc = json.loads(text)
        assert doc["rings"] == [] and doc["summary"]["rings_found"] == 0
    elif fmt == "csv":
        assert text.splitlines()[0].startswith("ring_id,account_id,score")
        assert len(text.splitlines()) == 1
    else:
        assert "No rings found" in text


def test_html_is_self_contained_and_forbids_scripts(clustered_store):
    text = render(build_report(clustered_store, charts=True), "html")
    assert '<meta http-equiv="Content-Security-Policy"' in text
    assert "default-src &#x27;none&#x27;" in text
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", text)
    assert "@import" not in text and "url(" not in text
    assert "<svg" in text and "@media print" in text


def test_html_escapes_hostile_prompt_and_user_agent(clustered_store):
    text = render(build_report(clustered_store, charts=True), "html")
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in text
    assert "&quot;&gt;&lt;img src=x onerror=&quot;" in text
    assert "<img" not in text


def test_html_has_a_section_and_charts_per_ring(clustered_store):
    text = render(build_report(clustered_store, charts=True), "html")
    assert text.count('<section class="ring"') == 2
    assert "Daily requests by ring" in text and "Ring size and score" in text
    assert "Similarity graph of ring R001" in text
    assert "Daily activity of ring R001 against the population" in text
    assert "requests per account" in text  # the feature distribution chart


@pytest.mark.parametrize(
    "evidence",
    [
        "not json",
        "[1, 2]",
        '{"findings": "x", "shared": [], "examples": {}, "contrast": 5, "created": "y"}',
        '{"findings": [1, {"text": null, "strength": "high"}], "shared": {"ips": [1, {"value": 7}]},'
        ' "examples": [{"ts": "soon", "prompt": 5}], "contrast": [{"feature": null}]}',
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_malformed_evidence_never_crashes_a_report(make_store, evidence, fmt):
    from .conftest import write_rings

    store = make_store([{"ts": "2024-05-01T00:00:00Z", "account_id": "a1", "output_tokens": 1}])
    ring = {
        "ring_id": "R001",
        "size": 1,
        "score": 0.7,
        "first_seen": None,
        "last_seen": None,
        "requests": 1,
        "output_tokens": 1,
        "views": None,
        "headline": None,
        "evidence": evidence,
    }
    write_rings(store, [ring], [{"ring_id": "R001", "account_id": "a1", "score": 0.7}])
    for redact in (None, "k"):
        text = render(build_report(store, ring="R001", redact=redact, charts=True), fmt)
        assert "R001" in text
