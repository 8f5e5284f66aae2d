"""--redact: keyed, consistent pseudonyms in every format; the report says it is redacted."""

from __future__ import annotations

import csv
import io
import json

import pytest

from forensics.report import FORMATS, build_report, render
from forensics.report.redact import Redactor

from .conftest import RING2_ACCOUNTS, RING_ACCOUNTS

SECRETS = [
    *RING_ACCOUNTS,
    "ring-b0",
    "203.0.113.1",
    "203.0.113.0",
    "192.0.2.9",
    "mailbox.example",
    "corp.example",
    "ops@",
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_redacted_report_hides_identifiers_and_says_so(clustered_store, fmt):
    report = build_report(
        clustered_store, ring="R001" if fmt != "csv" else None, redact="k1", charts=True
    )
    text = render(report, fmt)
    for secret in SECRETS:
        assert secret not in text, secret
    if fmt == "json":
        assert json.loads(text)["summary"]["redacted"] is True
    elif fmt == "csv":
        assert {r["redacted"] for r in csv.DictReader(io.StringIO(text))} == {"true"}
    else:
        assert "REDACTED" in text


def test_pseudonyms_are_consistent_across_a_report_and_formats(clustered_store):
    pseudonym = Redactor("k1").pseudonym("acct", "ring-a0")
    doc = json.loads(render(build_report(clustered_store, redact="k1"), "json"))
    ring = doc["rings"][0]
    assert ring["accounts"][0] == pseudonym
    assert ring["examples"][0]["account_id"] == pseudonym  # same account, same pseudonym
    assert pseudonym in ring["evidence"][0]["text"]  # and inside free text
    ban = list(
        csv.DictReader(io.StringIO(render(build_report(clustered_store, redact="k1"), "csv")))
    )
    assert ban[0]["account_id"] == pseudonym
    assert len({r["account_id"] for r in ban}) == len(RING_ACCOUNTS) + len(RING2_ACCOUNTS)


def test_subnets_keep_their_prefix_length_and_ips_map_alike(clustered_store):
    doc = json.loads(render(build_report(clustered_store, redact="k1"), "json"))
    shared = doc["rings"][0]["shared"]
    subnet = shared["subnets"][0]["value"]
    assert subnet.startswith("net-") and subnet.endswith("/24")
    ip = shared["ips"][0]["value"]
    assert doc["rings"][0]["examples"][0]["src_ip"] == ip
    assert ip in doc["rings"][0]["evidence"][0]["text"]
    assert "mail-" in doc["rings"][0]["examples"][0]["prompt"]  # e-mail address in a prompt


def test_different_keys_give_different_pseudonyms(clustered_store):
    a = json.loads(render(build_report(clustered_store, redact="k1"), "json"))
    b = json.loads(render(build_report(clustered_store, redact="k2"), "json"))
    assert a["rings"][0]["accounts"] != b["rings"][0]["accounts"]


def test_free_text_redaction_finds_ipv6_and_leaves_times_alone():
    r = Redactor("k")
    out = r.text("from 2001:db8::1 at 10:00:00 via 198.51.100.7, version 1.2.3")
    assert "2001:db8::1" not in out and "198.51.100.7" not in out
    assert "10:00:00" in out and "1.2.3" in out


def test_empty_redaction_key_is_a_clear_error(clustered_store):
    from forensics.errors import ForensicsError

    with pytest.raises(ForensicsError, match="redaction key is empty"):
        build_report(clustered_store, redact="")
