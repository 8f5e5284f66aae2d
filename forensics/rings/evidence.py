"""Evidence for each reported ring: findings, what members share, timeline, examples.

Streaming group-bys over the events of flagged accounts (a join on the member list),
aggregated per ring in Polars; the members' events are never held in memory at once. The document's shape is docs/store.md's "evidence document". Every value
here comes from the logs and is attacker-controlled text: it is stored as data, and the
report writers escape it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from forensics.features import population_contrast, prompt_skeleton
from forensics.features.compute import TEMPLATE_SEED, template_hash
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
    counts = (
        frame.lazy()
        .select("ring_id", "account_id", value.alias("value"))
        .drop_nulls("value")
        .group_by("ring_id", "account_id", "value")
        .agg(pl.len().alias("n"))
    )
    return _top_from_counts(counts, weight_requests)


def _top_from_counts(counts: pl.LazyFrame, weight_requests: bool = True) -> pl.DataFrame:
    """``_top_shared`` from (ring_id, account_id, value, n) rows, one per account and value.

    A value's accounts are its rows, its requests the sum of n: the same figures as
    counting distinct accounts and requests over the events themselves.
    """
    return (
        counts.group_by("ring_id", "value")
        .agg(
            pl.len().alias("accounts"),
            (pl.col("n").sum() if weight_requests else pl.lit(0)).cast(pl.Int64).alias("requests"),
        )
        .filter(pl.col("accounts") >= 2)
        .sort(["ring_id", "accounts", "requests", "value"], descending=[False, True, True, False])
        .group_by("ring_id", maintain_order=True)
        .head(TOP_SHARED)
        .collect(engine="in-memory")
    )


def _per_account(flagged: pl.LazyFrame, value: pl.Expr) -> pl.LazyFrame:
    """(ring_id, account_id, value, n): requests per member and value (nulls dropped), streamed."""
    return (
        flagged.select("ring_id", "account_id", value.alias("value"))
        .drop_nulls("value")
        .group_by("ring_id", "account_id", "value")
        .agg(pl.len().alias("n"))
    )


def _top_templates(
    templates: pl.LazyFrame, members: pl.DataFrame, events: pl.LazyFrame
) -> pl.DataFrame:
    """Top shared prompt templates per ring, from per-account template counts.

    ``templates`` (account_id, template, requests) identifies skeletons by their hash. The
    ranking (accounts, then requests) needs only the hashes; the skeleton text, which
    breaks ties and is what the evidence shows, is computed again only for the few
    candidate templates, from the requests of one member account that used each.
    """
    # the members' ids typed like the table's (Categorical in AccountFeatures.templates)
    members = members.with_columns(
        pl.col("account_id").cast(templates.collect_schema()["account_id"])
    )
    ranked = (
        templates.join(members.lazy(), on="account_id")
        .group_by("ring_id", "template")
        .agg(pl.len().alias("accounts"), pl.col("requests").sum().cast(pl.Int64))
        .filter(pl.col("accounts") >= 2)
        .with_columns(
            (pl.col("accounts").cast(pl.Int64) * (1 << 40) + pl.col("requests"))
            .rank("min", descending=True)
            .over("ring_id")
            .alias("_rank")
        )
        # every template that can reach the top TOP_SHARED once ties are broken by text
        .filter(pl.col("_rank") <= TOP_SHARED)
        .collect(engine="in-memory")
    )
    if ranked.height == 0:
        return pl.DataFrame(
            schema={"ring_id": pl.String, "value": pl.String, "accounts": pl.UInt32,
                    "requests": pl.Int64}
        )  # fmt: skip
    # one member account per candidate template, to read its skeleton text from
    users = (
        templates.join(ranked.lazy().select("template").unique(), on="template", how="semi")
        .join(members.lazy(), on="account_id", how="semi")
        .group_by("template")
        .agg(pl.col("account_id").first().cast(pl.String))
        .collect(engine="in-memory")
    )
    wanted = users["account_id"].unique().implode()
    text = (
        events.select("account_id", "prompt")
        .filter(pl.col("account_id").is_in(wanted))
        .select(prompt_skeleton(pl.col("prompt")).alias("value"))
        .drop_nulls("value")
        .unique()
        .with_columns(pl.col("value").hash(seed=TEMPLATE_SEED).alias("template"))
        .join(users.lazy().select("template"), on="template", how="semi")
        .unique("template", keep="any")
        .collect(engine="streaming")
    )
    return (
        ranked.join(text, on="template")
        .select("ring_id", "value", "accounts", "requests")
        .sort(["ring_id", "accounts", "requests", "value"], descending=[False, True, True, False])
        .group_by("ring_id", maintain_order=True)
        .head(TOP_SHARED)
    )


def _example_keys(
    flagged: pl.LazyFrame, totals: pl.DataFrame, example_key: pl.Expr
) -> pl.DataFrame:
    """(ring_id, account_id, _key): each ring's EXAMPLES smallest example keys, with ties.

    The keys are 64-bit hashes, uniform over [0, 2^64): of a ring's n requests, about 64
    have a key below 64 (2^64 / n), so one streaming pass keeps only those (a top-k inside a
    group-by would hold every request of the members in memory). A ring left with fewer
    than EXAMPLES of them (odds far below 1e-20) is read again without the bound, so the
    result is exactly the smallest keys.
    """
    top = (1 << 64) - 1
    limits = pl.DataFrame(
        {
            "ring_id": totals["ring_id"],
            "_limit": [top if n <= 64 else (top // n) * 64 for n in totals["requests"]],
            "_need": [min(EXAMPLES, n) for n in totals["requests"]],
        },
        schema={"ring_id": pl.String, "_limit": pl.UInt64, "_need": pl.Int64},
    )
    keyed = flagged.select("ring_id", "account_id", example_key)
    candidates = (
        keyed.join(limits.lazy(), on="ring_id")
        .filter(pl.col("_key") <= pl.col("_limit"))
        .select("ring_id", "account_id", "_key")
        .collect(engine="streaming")
    )
    found = candidates.group_by("ring_id").len()
    short = limits.join(found, on="ring_id", how="left").filter(
        pl.col("len").fill_null(0) < pl.col("_need")
    )
    if short.height:
        rest = keyed.join(short.lazy().select("ring_id"), on="ring_id").collect(engine="streaming")
        candidates = pl.concat([candidates.join(short, on="ring_id", how="anti"), rest])
    smallest = candidates.group_by("ring_id").agg(pl.col("_key").bottom_k(EXAMPLES).max())
    return (
        candidates.join(smallest.rename({"_key": "_last"}), on="ring_id")
        .filter(pl.col("_key") <= pl.col("_last"))
        .select("ring_id", "account_id", "_key")
    )


def _examples(flagged: pl.LazyFrame, keys: pl.DataFrame, example_key: pl.Expr) -> pl.DataFrame:
    """The EXAMPLES requests of each ring with the smallest keys (a fixed pseudo-random pick).

    ``keys`` holds, per ring, the smallest keys and the accounts they belong to, so only
    those accounts' requests are read again, prompts included.
    """
    chosen = keys.rename({"account_id": "_account"})
    return (
        flagged.filter(pl.col("account_id").is_in(chosen["_account"].unique().implode()))
        .with_columns(example_key)
        .join(chosen.lazy().select("ring_id", "_key").unique(), on=["ring_id", "_key"], how="semi")
        .sort("ring_id", "_key")
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
        .collect(engine="streaming")
    )


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
    templates: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """rings.parquet rows (RING_SCHEMA), evidence JSON included, in the order of ``facts``.

    The members' events are never held in memory: each aggregate (totals, values shared
    per account, timeline, example keys) is a streaming group-by over the events joined
    to the member list, and only the example requests themselves are read in full.
    ``templates`` is ``AccountFeatures.templates`` (per-account template counts) when the
    caller has it; without it the members' prompts are reduced to templates here.
    """
    if not facts:
        return pl.DataFrame(schema=RING_SCHEMA)
    members = pl.DataFrame(
        {
            "ring_id": [f.ring_id for f in facts for _ in f.members],
            "account_id": [m for f in facts for m in f.members],
        },
        schema={"ring_id": pl.String, "account_id": pl.String},
    )
    flagged = events.join(members.lazy(), on="account_id")
    example_key = pl.struct("account_id", "ts").hash(7).alias("_key")
    # per member and day: the timeline, and the ring totals summed from it (one pass)
    daily_q = flagged.group_by("ring_id", pl.col("ts").dt.date().alias("date"), "account_id").agg(
        pl.len().alias("n"),
        pl.col("ts").min().alias("_first"),
        pl.col("ts").max().alias("_last"),
        pl.col("output_tokens").sum().alias("_out"),
    )
    if templates is None:
        templates_q = (
            flagged.select("account_id", template_hash(pl.col("prompt")).alias("template"))
            .drop_nulls("template")
            .group_by("account_id", "template")
            .agg(pl.len().cast(pl.UInt32).alias("requests"))
        )
    else:
        templates_q = templates.lazy()
    ips_q = _per_account(flagged, pl.col("src_ip"))
    agents_q = _per_account(flagged, pl.col("user_agent"))
    models_q = _per_account(flagged, pl.col("model"))
    # One query at a time: collect_all would share the join of events and members between
    # them by caching it, i.e. hold the members' events (8.9 GB at 36M events).
    queries = [daily_q, ips_q, agents_q, models_q]
    queries += [templates_q] if templates is None else []
    daily, ips, agents, models, *own_templates = [q.collect(engine="streaming") for q in queries]
    timeline_df = daily.group_by("ring_id", "date").agg(
        pl.col("n").sum().alias("requests"), pl.len().alias("accounts")
    )
    totals_df = daily.group_by("ring_id").agg(
        pl.col("_first").min().alias("first_seen"),
        pl.col("_last").max().alias("last_seen"),
        pl.col("n").sum().cast(pl.Int64).alias("requests"),
        pl.col("_out").sum().cast(pl.Int64).alias("output_tokens"),
    )
    del daily
    if own_templates:
        templates_q = own_templates[0].lazy()
    totals = {r["ring_id"]: r for r in totals_df.iter_rows(named=True)}
    # a /24 is the sum of its IPs (each account and IP counted once: prefixes of distinct IPs)
    subnets = (
        ips.lazy()
        .with_columns(ip_prefix(pl.col("value"), 3, 4).alias("value"))
        .drop_nulls("value")
        .group_by("ring_id", "account_id", "value")
        .agg(pl.col("n").sum())
    )
    shared_parts = {
        "prompt_templates": _by_ring(_top_templates(templates_q, members, events)),
        "subnets": _by_ring(_top_from_counts(subnets)),
        "ips": _by_ring(_top_from_counts(ips.lazy())),
        "user_agents": _by_ring(_top_from_counts(agents.lazy())),
        "models": _by_ring(_top_from_counts(models.lazy())),
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
        timeline_df.select(
            "ring_id",
            pl.col("date").cast(pl.String),
            pl.col("requests").cast(pl.UInt32),
            "accounts",
        ).sort("ring_id", "date")
    )
    examples = _by_ring(
        _examples(flagged, _example_keys(flagged, totals_df, example_key), example_key)
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
