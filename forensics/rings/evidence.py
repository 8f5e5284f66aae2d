"""Evidence for each reported ring: findings, what members share, timeline, examples.

One pass over the events of flagged accounts (a join on the member list), aggregated per
ring in Polars. The document's shape is docs/store.md's "evidence document". Every value
here comes from the logs and is attacker-controlled text: it is stored as data, and the
report writers escape it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from forensics.features import population_contrast, prompt_skeleton
from forensics.features.network import ip_prefix
from forensics.schema import RING_SCHEMA

TOP_SHARED = 5
EXAMPLES = 3
EXAMPLE_PROMPT_CHARS = 500
CONTRAST_FEATURES_SHOWN = 8

VIEW_PHRASES = {
    "prompt": "send prompts from one task curriculum (shared prompt shingles)",
    "infra": "share infrastructure (the same exit IPs in the same hours, subnets, agents, billing)",
    "timing": "are active in the same 10-minute windows",
    "behaviour": "were created, started, or switched models at the same times",
}


@dataclass
class RingFacts:
    """What scoring knows about one reported ring."""

    ring_id: str
    members: list[str]
    score: float
    views: list[str]
    lift: dict[str, float]  # per view: member-pair similarity over the null's expectation
    similarity: dict[str, float]  # per view: mean member-pair similarity


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _top_shared(frame: pl.DataFrame, value: pl.Expr, weight_requests: bool = True) -> pl.DataFrame:
    """(ring_id, value, accounts, requests) top TOP_SHARED values shared by 2+ accounts."""
    agg = (
        frame.lazy()
        .select("ring_id", "account_id", value.alias("value"))
        .drop_nulls("value")
        .group_by("ring_id", "value")
        .agg(
            pl.col("account_id").n_unique().alias("accounts"),
            (pl.len() if weight_requests else pl.lit(0)).cast(pl.Int64).alias("requests"),
        )
        .filter(pl.col("accounts") >= 2)
        .sort(["ring_id", "accounts", "requests", "value"], descending=[False, True, True, False])
        .group_by("ring_id", maintain_order=True)
        .head(TOP_SHARED)
        .collect()
    )
    return agg


def _by_ring(frame: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in frame.iter_rows(named=True):
        ring = row.pop("ring_id")
        out.setdefault(ring, []).append(row)
    return out


def _findings(
    fact: RingFacts, shared: dict[str, list[dict[str, Any]]], created: dict[str, Any] | None
) -> list[dict[str, Any]]:
    n = len(fact.members)
    out: list[dict[str, Any]] = []
    for view in fact.views:
        lift = fact.lift[view]
        text = (
            f"member accounts {VIEW_PHRASES[view]}: {lift:.0f}x as alike as independent "
            f"accounts would be (mean similarity {fact.similarity[view]:.3f})"
        )
        if view == "prompt" and shared.get("prompt_templates"):
            top = shared["prompt_templates"][0]
            text = f"{top['accounts']} of {n} accounts send prompts from the same template; " + text
        if view == "infra" and shared.get("subnets"):
            top = shared["subnets"][0]
            text = f"{top['accounts']} of {n} accounts use subnet {top['value']}; " + text
        if view == "behaviour" and created and created.get("span_hours") is not None:
            text = (
                f"{created['accounts_with_records']} of {n} accounts were created within "
                f"{created['span_hours']:.1f} hours; " + text
            )
        strength = 1.0 - 1.0 / max(lift, 1.0)
        out.append({"kind": f"shared_{view}", "text": text, "strength": round(strength, 3)})
    out.sort(key=lambda f: -f["strength"])
    return out


def build_rings_table(
    facts: list[RingFacts],
    events: pl.LazyFrame,
    accounts: pl.LazyFrame | None,
    features: pl.DataFrame,
) -> pl.DataFrame:
    """rings.parquet rows (RING_SCHEMA), evidence JSON included, in the order of ``facts``."""
    if not facts:
        return pl.DataFrame(schema=RING_SCHEMA)
    members = pl.DataFrame(
        {
            "ring_id": [f.ring_id for f in facts for _ in f.members],
            "account_id": [m for f in facts for m in f.members],
        },
        schema={"ring_id": pl.String, "account_id": pl.String},
    )
    ev = (
        events.select(
            "ts",
            "account_id",
            "src_ip",
            "user_agent",
            "model",
            "endpoint",
            "prompt",
            "output_tokens",
        )
        .join(members.lazy(), on="account_id")
        .collect()
    )
    totals = {
        r["ring_id"]: r
        for r in ev.group_by("ring_id")
        .agg(
            pl.col("ts").min().alias("first_seen"),
            pl.col("ts").max().alias("last_seen"),
            pl.len().cast(pl.Int64).alias("requests"),
            pl.col("output_tokens").sum().cast(pl.Int64).alias("output_tokens"),
        )
        .iter_rows(named=True)
    }
    shared_parts = {
        "prompt_templates": _by_ring(_top_shared(ev, prompt_skeleton(pl.col("prompt")))),
        "subnets": _by_ring(_top_shared(ev, ip_prefix(pl.col("src_ip"), 3, 4))),
        "ips": _by_ring(_top_shared(ev, pl.col("src_ip"))),
        "user_agents": _by_ring(_top_shared(ev, pl.col("user_agent"))),
        "models": _by_ring(_top_shared(ev, pl.col("model"))),
    }
    created: dict[str, dict[str, Any]] = {}
    if accounts is not None:
        recs = accounts.join(members.lazy(), on="account_id").collect()
        for key, col in (
            ("payment_fingerprints", "payment_fingerprint"),
            ("email_domains", "email_domain"),
            ("org_ids", "org_id"),
        ):
            shared_parts[key] = _by_ring(_top_shared(recs, pl.col(col), weight_requests=False))
        for r in (
            recs.filter(pl.col("created_at").is_not_null())
            .group_by("ring_id")
            .agg(
                pl.col("created_at").min().alias("first"),
                pl.col("created_at").max().alias("last"),
                pl.len().alias("accounts_with_records"),
            )
            .iter_rows(named=True)
        ):
            created[r["ring_id"]] = {
                "first": _iso(r["first"]),
                "last": _iso(r["last"]),
                "accounts_with_records": r["accounts_with_records"],
                "span_hours": round((r["last"] - r["first"]).total_seconds() / 3600.0, 2),
            }
    timeline = _by_ring(
        ev.group_by("ring_id", pl.col("ts").dt.date().cast(pl.String).alias("date"))
        .agg(pl.len().alias("requests"), pl.col("account_id").n_unique().alias("accounts"))
        .sort("ring_id", "date")
    )
    examples = _by_ring(
        ev.sort("ring_id", pl.struct("account_id", "ts").hash(7))
        .group_by("ring_id", maintain_order=True)
        .head(EXAMPLES)
        .select(
            "ring_id",
            pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "account_id",
            "src_ip",
            "user_agent",
            "model",
            "endpoint",
            pl.col("prompt").str.slice(0, EXAMPLE_PROMPT_CHARS),
        )
    )
    rows = []
    for fact in facts:
        shared = {k: v.get(fact.ring_id, []) for k, v in shared_parts.items()}
        findings = _findings(fact, shared, created.get(fact.ring_id))
        evidence: dict[str, Any] = {
            "findings": findings,
            "shared": shared,
            "contrast": population_contrast(features, fact.members)[:CONTRAST_FEATURES_SHOWN],
            "timeline": timeline.get(fact.ring_id, []),
            "examples": examples.get(fact.ring_id, []),
            "views": {
                v: {"lift": round(fact.lift[v], 2), "similarity": round(fact.similarity[v], 4)}
                for v in fact.lift
            },
        }
        if fact.ring_id in created:
            evidence["created"] = created[fact.ring_id]
        total = totals.get(fact.ring_id, {})
        rows.append(
            {
                "ring_id": fact.ring_id,
                "size": len(fact.members),
                "score": round(fact.score, 4),
                "first_seen": total.get("first_seen"),
                "last_seen": total.get("last_seen"),
                "requests": total.get("requests", 0),
                "output_tokens": total.get("output_tokens", 0),
                "views": fact.views,
                "headline": findings[0]["text"] if findings else "",
                "evidence": json.dumps(evidence, default=str),
            }
        )
    return pl.DataFrame(rows, schema=RING_SCHEMA)
