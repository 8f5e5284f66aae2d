"""Score each community against the population baseline; keep only coordinated rings.

For a community C and view v, ``support_v`` is the share of (sampled) member pairs whose
similarity in v exceeds the pair's threshold under the view's null model (graph.ViewNull):
a random group has the chance rate (run.json's ``null_edge_rate``, well under 1%), a ring
whose members share one curriculum, one proxy pool or one scheduler has a large share. The score is
1 - prod_v (1 - support_v) over the views that count, the chance that at least one view
would link a random pair of members.

Reported only when the evidence is coordination, not a look-alike:
* at least two independent views support the ring, or the prompt view alone supports it
  very strongly (``single_view_support``): shared infrastructure alone is a NAT, a
  campus or a cloud provider; shared timing alone is a time zone;
* a ring whose members mostly declare one organisation (``org_id``) has its shared
  infrastructure and billing explained: infra does not count for it;
* members are kept only if most of their graph weight lies inside the ring
  (``min_member_affinity``) and if they share with the ring what the ring shares: against
  ``member_pairs`` random fellow members, an account must pass the pair threshold at
  ``member_view_support`` times the ring's own support, in as many of the ring's views as
  the ring needs (two, or its one very strong view). An ordinary account that touches a
  ring through one shared exit or one busy hour is not banned with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from forensics.rings.graph import ViewNull
from forensics.rings.params import ClusterParams
from forensics.rings.signatures import signature_similarity

SINGLE_VIEW_OK: tuple[str, ...] = ("prompt",)


@dataclass
class RingScore:
    community: int
    members: np.ndarray  # account indices kept
    support: dict[str, float]
    views: list[str]  # views that count and support the ring
    explained: list[str] = field(default_factory=list)  # views explained by a declared org
    org_share: float = 0.0
    score: float = 0.0
    reported: bool = False
    reason: str = ""


def member_affinity(graph: pl.DataFrame, assignment: pl.DataFrame) -> pl.DataFrame:
    """(account, community, affinity): the share of the account's weight inside its community."""
    both = pl.concat(
        [
            graph.select(pl.col("a").alias("x"), pl.col("b").alias("y"), "weight"),
            graph.select(pl.col("b").alias("x"), pl.col("a").alias("y"), "weight"),
        ]
    )
    comm = assignment.rename({"account": "x", "community": "cx"})
    return (
        both.join(comm, on="x")
        .join(assignment.rename({"account": "y", "community": "cy"}), on="y", how="left")
        .group_by("x", "cx")
        .agg(
            (
                pl.col("weight").filter(pl.col("cy") == pl.col("cx")).sum() / pl.col("weight").sum()
            ).alias("affinity")
        )
        .rename({"x": "account", "cx": "community"})
    )


def _sample_pairs(
    members: np.ndarray, k: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n = members.size
    if n * (n - 1) // 2 <= k:
        i, j = np.triu_indices(n, 1)
        return members[i], members[j]
    i = rng.integers(0, n, k)
    j = rng.integers(0, n - 1, k)
    j = j + (j >= i)  # j != i
    return members[i], members[j]


def _members_sharing(
    members: np.ndarray,
    support: dict[str, float],
    signatures: dict[str, np.ndarray],
    nulls: dict[str, ViewNull],
    rng: np.random.Generator,
    params: ClusterParams,
) -> np.ndarray:
    """Members that pass the pair threshold with fellow members in enough of the ring's views."""
    views = [v for v, s in support.items() if s >= params.view_support]
    if not views:
        return members
    need = min(2, len(views))
    k = params.member_pairs
    own = np.repeat(members, k)
    other = members[rng.integers(0, members.size, own.size)]
    passing = np.zeros(members.size, dtype=np.int64)
    for view in views:
        sim = signature_similarity(signatures[view], own, other)
        hit = (sim > nulls[view].thresholds(own, other)) & (own != other)
        rate = hit.reshape(members.size, k).mean(axis=1)
        passing += rate >= params.member_view_support * support[view]
    return members[passing >= need]


def score_communities(
    assignment: pl.DataFrame,
    graph: pl.DataFrame,
    signatures: dict[str, np.ndarray],
    nulls: dict[str, ViewNull],
    org_of: np.ndarray | None,
    params: ClusterParams,
) -> tuple[list[RingScore], pl.DataFrame]:
    """Scores for every community, and (account, community, affinity) of kept members."""
    rng = np.random.default_rng(params.seed)
    affinity = member_affinity(graph, assignment)
    kept = affinity.filter(pl.col("affinity") >= params.min_member_affinity)
    scores: list[RingScore] = []
    for (community,), part in kept.partition_by("community", as_dict=True).items():
        members = part["account"].to_numpy()
        if members.size < params.min_ring_size:
            continue
        a, b = _sample_pairs(members, params.ring_pairs_sampled, rng)
        support = {
            view: float((signature_similarity(sig, a, b) > nulls[view].thresholds(a, b)).mean())
            for view, sig in signatures.items()
        }
        members = _members_sharing(members, support, signatures, nulls, rng, params)
        if members.size < params.min_ring_size:
            continue
        org_share = 0.0
        if org_of is not None:
            orgs = org_of[members]
            orgs = orgs[orgs >= 0]
            if orgs.size:
                org_share = float(np.bincount(orgs).max() / members.size)
        explained = ["infra"] if org_share >= params.org_explained_share else []
        counting = {v: s for v, s in support.items() if v not in explained}
        views = sorted(v for v, s in counting.items() if s >= params.view_support)
        score = 1.0 - float(np.prod([1.0 - counting[v] for v in views])) if views else 0.0
        if len(views) >= 2:
            reported, reason = score >= params.min_score, "independent views agree"
        elif len(views) == 1 and views[0] in SINGLE_VIEW_OK:
            reported = counting[views[0]] >= params.single_view_support
            reason = "one view, very strong" if reported else "one view, not strong enough"
        else:
            reported = False
            reason = "only " + (views[0] if views else "no view") + " supports it"
        if explained and not reported:
            reason += "; infra explained by a declared organisation"
        scores.append(
            RingScore(
                community=int(community),
                members=members,
                support=support,
                views=views,
                explained=explained,
                org_share=org_share,
                score=score,
                reported=bool(reported and score >= params.min_score),
                reason=reason,
            )
        )
    return scores, kept
