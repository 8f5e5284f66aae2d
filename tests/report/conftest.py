"""Clustered stores built by hand: events via make_store, rings files per docs/store.md."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from forensics.schema import RING_EDGE_SCHEMA, RING_MEMBER_SCHEMA, RING_SCHEMA
from forensics.store import Store, write_json_atomic, write_parquet_atomic

SCRIPT_PROMPT = "<script>document.title='pwned'</script> solve step by step"
IMG_UA = '"><img src=x onerror="document.title=\'pwned\'">'
ANSI_PROMPT = "\x1b[31mred\x1b[0m \x1b]0;title\x07 [bold]markup[/bold]"
FORMULA_ACCOUNT = '=HYPERLINK("http://evil.example","x")'

RING_ACCOUNTS = [f"ring-a{i}" for i in range(6)]
RING2_ACCOUNTS = ["ring-b0", "ring-b1", FORMULA_ACCOUNT]
BENIGN_ACCOUNTS = [f"user{i}" for i in range(10)]


def _events() -> list[dict]:
    rows: list[dict] = []
    start = dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC)
    for day in range(4):
        for i, acc in enumerate(RING_ACCOUNTS):
            for k in range(5):
                rows.append(
                    {
                        "ts": (start + dt.timedelta(days=day, minutes=10 * k + i)).isoformat(),
                        "account_id": acc,
                        "src_ip": f"203.0.113.{i + 1}",
                        "user_agent": IMG_UA,
                        "model": "model-x",
                        "prompt": SCRIPT_PROMPT,
                        "output_tokens": 100,
                        "api_key_id": f"sk-{acc}",
                    }
                )
        for i, acc in enumerate(BENIGN_ACCOUNTS):
            rows.append(
                {
                    "ts": (start + dt.timedelta(days=day, hours=i)).isoformat(),
                    "account_id": acc,
                    "src_ip": f"198.51.100.{i + 1}",
                    "user_agent": "curl/8.0",
                    "model": "model-y",
                    "prompt": "hello",
                    "output_tokens": 50,
                }
            )
    for i, acc in enumerate(RING2_ACCOUNTS):
        rows.append(
            {
                "ts": (start + dt.timedelta(days=5, minutes=i)).isoformat(),
                "account_id": acc,
                "src_ip": "192.0.2.9",
                "user_agent": "python-requests/2.31",
                "model": "model-x",
                "prompt": ANSI_PROMPT,
                "output_tokens": 10,
            }
        )
    return rows


def _evidence_r1() -> dict:
    return {
        "findings": [
            {
                "kind": "shared_template",
                "text": "6 of 6 accounts send prompts from 1 shared template; ring-a0 leads from 203.0.113.1",
                "strength": 0.97,
            },
            {
                "kind": "shared_subnet",
                "text": "6 accounts share subnet 203.0.113.0/24",
                "strength": 0.9,
            },
            {"kind": "ua", "text": f"one user agent {IMG_UA}", "strength": 0.5},
        ],
        "shared": {
            "prompt_templates": [{"value": SCRIPT_PROMPT, "accounts": 6, "requests": 120}],
            "subnets": [{"value": "203.0.113.0/24", "accounts": 6, "requests": 120}],
            "ips": [{"value": "203.0.113.1", "accounts": 1, "requests": 20}],
            "user_agents": [{"value": IMG_UA, "accounts": 6, "requests": 120}],
            "email_domains": [{"value": "mailbox.example", "accounts": 6, "requests": 0}],
            "models": [{"value": "model-x", "accounts": 6, "requests": 120}],
            "org_ids": [],
        },
        "created": {
            "first": "2024-04-30T00:00:00Z",
            "last": "2024-04-30T01:00:00Z",
            "accounts_with_records": 6,
            "span_hours": 1.0,
        },
        "contrast": [
            {
                "feature": "requests",
                "label": "requests per account",
                "ring_median": 20.0,
                "population_median": 4.0,
                "ring_percentile": 99.0,
                "z": 3.1,
            }
        ],
        "timeline": [{"date": "2024-05-01", "requests": 30, "accounts": 6}],
        "examples": [
            {
                "ts": "2024-05-01T08:00:00Z",
                "account_id": "ring-a0",
                "src_ip": "203.0.113.1",
                "user_agent": IMG_UA,
                "model": "model-x",
                "endpoint": "/v1/chat/completions",
                "prompt": SCRIPT_PROMPT + " contact ops@corp.example",
            },
            {
                "ts": "2024-05-04T08:00:00Z",
                "account_id": "ring-a1",
                "src_ip": "203.0.113.2",
                "user_agent": IMG_UA,
                "model": "model-x",
                "endpoint": "/v1/chat/completions",
                "prompt": "late example",
            },
        ],
    }


def write_rings(
    store: Store,
    rings: list[dict],
    members: list[dict],
    edges: list[dict] | None = None,
    features: pl.DataFrame | None = None,
) -> None:
    """Write rings/, members, edges, run.json (and features) as `forensics cluster` would."""
    ring_frame = (
        pl.DataFrame(rings, schema=RING_SCHEMA) if rings else pl.DataFrame(schema=RING_SCHEMA)
    )
    write_parquet_atomic(store.rings_path, ring_frame)
    write_parquet_atomic(
        store.ring_members_path,
        pl.DataFrame(members, schema=RING_MEMBER_SCHEMA)
        if members
        else pl.DataFrame(schema=RING_MEMBER_SCHEMA),
    )
    write_parquet_atomic(
        store.ring_edges_path,
        pl.DataFrame(edges, schema=RING_EDGE_SCHEMA)
        if edges
        else pl.DataFrame(schema=RING_EDGE_SCHEMA),
    )
    if features is not None:
        write_parquet_atomic(store.features_path, features)
    write_json_atomic(
        store.run_path,
        {
            "tool_version": "0.1.0",
            "started_at": "2024-06-01T00:00:00Z",
            "finished_at": "2024-06-01T00:00:05Z",
            "parameters": {"threshold": 0.5},
            "seed": 7,
            "inputs": [{"path": "fixture", "sha256": "0" * 64}],
            "events": 0,
            "accounts": 0,
            "views_available": ["prompt", "infra"],
            "views_used": ["prompt", "infra"],
            "timings": {},
        },
    )


@pytest.fixture
def clustered_store(make_store: Callable[..., Store]) -> Store:
    return build_clustered_store(make_store)


def build_clustered_store(make_store: Callable[..., Store]) -> Store:
    """Two rings (R001: 6 accounts with hostile prompt/UA; R002: 3 accounts incl. a
    formula-like id) among 10 benign accounts, with account records, features and edges."""
    all_accounts = RING_ACCOUNTS + RING2_ACCOUNTS + BENIGN_ACCOUNTS
    accounts = pl.DataFrame(
        {
            "account_id": all_accounts,
            "created_at": [dt.datetime(2024, 4, 30, tzinfo=dt.UTC)] * len(all_accounts),
            "email_domain": ["mailbox.example"] * len(RING_ACCOUNTS)
            + ["x.example"] * (len(all_accounts) - len(RING_ACCOUNTS)),
            "payment_fingerprint": ["pf"] * len(all_accounts),
            "country": ["US"] * len(all_accounts),
            "org_id": [None] * len(all_accounts),
        }
    )
    store = make_store(_events(), accounts)
    rings = [
        {
            "ring_id": "R001",
            "size": len(RING_ACCOUNTS),
            "score": 0.95,
            "first_seen": dt.datetime(2024, 5, 1, 8, tzinfo=dt.UTC),
            "last_seen": dt.datetime(2024, 5, 4, 9, tzinfo=dt.UTC),
            "requests": 120,
            "output_tokens": 12000,
            "views": ["prompt", "infra"],
            "headline": "6 accounts share one prompt template " + SCRIPT_PROMPT,
            "evidence": json.dumps(_evidence_r1()),
        },
        {
            "ring_id": "R002",
            "size": len(RING2_ACCOUNTS),
            "score": 0.6,
            "first_seen": dt.datetime(2024, 5, 6, 8, tzinfo=dt.UTC),
            "last_seen": dt.datetime(2024, 5, 6, 8, 2, tzinfo=dt.UTC),
            "requests": 3,
            "output_tokens": 30,
            "views": ["infra"],
            "headline": "3 accounts share IP 192.0.2.9 " + ANSI_PROMPT,
            "evidence": json.dumps(
                {
                    "findings": [
                        {"kind": "shared_ip", "text": "3 accounts share 192.0.2.9", "strength": 0.6}
                    ],
                    "examples": [
                        {
                            "ts": "2024-05-06T08:00:00Z",
                            "account_id": FORMULA_ACCOUNT,
                            "src_ip": "192.0.2.9",
                            "user_agent": "python-requests/2.31",
                            "prompt": ANSI_PROMPT,
                        }
                    ],
                }
            ),
        },
    ]
    members = [
        {"ring_id": "R001", "account_id": a, "score": 0.9 - 0.01 * i}
        for i, a in enumerate(RING_ACCOUNTS)
    ]
    members += [{"ring_id": "R002", "account_id": a, "score": 0.6} for a in RING2_ACCOUNTS]
    edges = [
        {"account_a": a, "account_b": b, "similarity": 0.9, "view": "prompt"}
        for i, a in enumerate(RING_ACCOUNTS)
        for b in RING_ACCOUNTS[i + 1 :]
    ]
    edges.append({"account_a": "ring-a0", "account_b": "user1", "similarity": 0.2, "view": "infra"})
    features = pl.DataFrame(
        {
            "account_id": all_accounts,
            "requests": [20.0] * len(RING_ACCOUNTS)
            + [1.0] * len(RING2_ACCOUNTS)
            + [4.0] * len(BENIGN_ACCOUNTS),
            "hour_entropy": [1.0] * len(RING_ACCOUNTS)
            + [2.0] * (len(all_accounts) - len(RING_ACCOUNTS)),
        }
    )
    write_rings(store, rings, members, edges, features)
    return store


@pytest.fixture
def empty_rings_store(make_store: Callable[..., Store]) -> Store:
    """A clustered store in which the cluster run found no ring."""
    store = make_store(
        [{"ts": "2024-05-01T00:00:00Z", "account_id": "u1", "output_tokens": 5, "prompt": "hi"}]
    )
    write_rings(store, [], [])
    return store


@pytest.fixture
def unclustered_store(make_store: Callable[..., Store]) -> Store:
    return make_store([{"ts": "2024-05-01T00:00:00Z", "account_id": "u1"}])


def store_path(store: Store) -> Path:
    return store.root
