"""Score each community against the population baseline; keep only coordinated rings.

For a community C and view v, the *lift* is the mean similarity of (sampled) member pairs
over what the same pairs share by chance (graph.ViewNull.baseline): the mean similarity of
random population pairs, or, for accounts so active that they fill the view (two accounts
busy all day share most time buckets), the overlap of random sets of their sizes:
lift_v = mean_{a,b in C} s(a, b) / mean_{a,b in C} B(a, b). A random group has lift about
1; a ring whose members share one curriculum, one proxy pool or one scheduler is many
times as alike, even when each pair shares only a little (a proxy pool spread over many
exits). A ring that is a share r of the population inflates the random-pair mean only by
about r^2 of its own similarity, so the baseline holds even for a large ring. A view supports the ring when lift_v >= ``view_lift`` and the mean similarity is at least
``min_view_similarity``; the score is 1 - prod_v 1/lift_v over supporting views.

Reported only when the evidence is coordination, not a look-alike:
* at least two independent views support the ring, or the prompt view alone with lift >=
  ``single_view_lift``: shared infrastructure alone is a NAT, a campus or a cloud
  provider; shared timing alone is a time zone or an outage;
* a ring whose logs carry prompts must keep asking new things (``min_prompts_per_member``
  distinct prompts per member): harvesting answers needs new inputs, while a test suite
  or a scripted client repeats a fixed set whatever the number of accounts, and is not
  reported whatever else it shares (one card, one CI schedule, one config change). A ring
  may send each input several times (several sampled answers per question), so the share
  of repeated requests is not the test; the size of the set is;
* a ring whose traffic comes mostly (``site_share``) from a handful of /24s is one site:
  a NAT, a campus, an office or a venue explains shared infrastructure, shared hours (a
  class meets, an office works 9 to 5, a hackathon runs all night) and shared prompts (a
  class gets the same homework, a team the same templates), so none of them counts; an
  operator's proxy pool spreads over many networks. The price: a small operator working
  from one office line looks like a class and is not reported;
* a ring whose members mostly declare one organisation (``org_id``) is that organisation:
  its shared infrastructure, billing and prompts are explained, and it is not reported;
  otherwise, members of a declared organisation of ``min_ring_size`` or more accounts are
  dropped from the ring (a customer's team whose work resembles a fleet's curriculum);
* members are kept only if most of their graph weight lies inside the ring
  (``min_member_affinity``) and if, against ``member_pairs`` random fellow members, their
  own lift reaches ``member_lift`` in as many of the ring's views as the ring needs. An
  ordinary account that touches a ring through one shared exit or one busy hour is not
  banned with it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from forensics.rings.graph import ViewNull
from forensics.rings.params import ClusterParams
from forensics.rings.signatures import signature_similarity

SINGLE_VIEW_OK: tuple[str, ...] = ("prompt",)
# Standard errors by which pairs across two fragments must fall short of pairs within for a
# view to say they are two operators (operator_groups).
SPLIT_Z = 3.0
# Fleet-wide model switch: accounts that first used the new model in the same window of
# this many hours after its release switched together (switch_evidence).
SWITCH_WINDOW_HOURS = 24
# Views that do not tell operators apart when others are available (operator_groups).
OPERATOR_NEUTRAL: tuple[str, ...] = ("timing", "behaviour")
# A floor under a view's random-pair mean similarity, so that a view where random pairs
# share nothing at all does not turn any sharing into an infinite lift.
MIN_NULL_MEAN = 1e-3


@dataclass
class RingScore:
    community: int
    members: np.ndarray  # account indices kept
    lift: dict[str, float]  # per view: member-pair similarity over the null's expectation
    similarity: dict[str, float]  # per view: mean member-pair similarity
    views: list[str]  # views that count and support the ring
    explained: list[str] = field(default_factory=list)
    org_share: float = 0.0
    distinct_prompt_share: float | None = None
    site_share: float | None = None
    score: float = 0.0
    reported: bool = False
    reason: str = ""


def community_lookup(assignment: pl.DataFrame, size: int) -> np.ndarray:
    """community_lookup(...)[account] = its community in ``assignment``, -1 when it has none."""
    lookup = np.full(size, -1, dtype=np.int64)
    lookup[assignment["account"].to_numpy()] = assignment["community"].to_numpy()
    return lookup


def member_affinity(graph: pl.DataFrame, assignment: pl.DataFrame) -> pl.DataFrame:
    """(account, community, affinity): the share of the account's weight inside its community.

    Accounts are dense indices, so both sums are bincounts over the edge list (one pass,
    no joins: at full scale 10.9 M edges are scored several times per run).
    """
    a, b = graph["a"].to_numpy(), graph["b"].to_numpy()
    w = graph["weight"].to_numpy()
    size = int(max(assignment["account"].max() or 0, a.max(initial=0), b.max(initial=0))) + 1
    lookup = community_lookup(assignment, size)
    total = np.bincount(a, w, size) + np.bincount(b, w, size)
    same = (lookup[a] == lookup[b]) & (lookup[a] >= 0)
    inside = np.bincount(a[same], w[same], size) + np.bincount(b[same], w[same], size)
    accounts = assignment["account"].to_numpy()
    linked = total[accounts] > 0
    return pl.DataFrame(
        {
            "account": accounts[linked],
            "community": assignment["community"].to_numpy()[linked],
            "affinity": inside[accounts[linked]] / total[accounts[linked]],
        },
        schema={"account": pl.UInt32, "community": pl.UInt32, "affinity": pl.Float64},
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


def _lifts(
    a: np.ndarray,
    b: np.ndarray,
    signatures: dict[str, np.ndarray],
    nulls: dict[str, ViewNull],
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Per view: lift, mean similarity, and mean shared tokens of the pairs (a, b).

    Shared tokens are estimated from the Jaccard estimate J and the set sizes:
    |A n B| = J (|A| + |B|) / (1 + J).
    """
    lift: dict[str, float] = {}
    mean: dict[str, float] = {}
    shared: dict[str, float] = {}
    for view, sig in signatures.items():
        if not a.size:
            lift[view] = mean[view] = shared[view] = 0.0
            continue
        sim = signature_similarity(sig, a, b)
        base = float(nulls[view].baseline(a, b).mean())
        sizes = nulls[view].sizes
        mean[view] = float(sim.mean())
        lift[view] = mean[view] / max(base, MIN_NULL_MEAN)
        shared[view] = float((sim / (1.0 + sim) * (sizes[a] + sizes[b])).mean())
    return lift, mean, shared


def _supporting(
    lift: dict[str, float],
    mean: dict[str, float],
    shared: dict[str, float],
    params: ClusterParams,
    nulls: dict[str, ViewNull] | None = None,
) -> list[str]:
    """Views where member pairs are ``view_lift`` times as alike as chance, on real evidence.

    Besides the lift, a view needs a mean similarity of ``min_view_similarity`` and member
    pairs that share ``min_shared_tokens`` tokens on average: accounts with a handful of
    requests reach a high Jaccard (and lift) by sharing one busy hour or one network-day,
    which is no evidence of coordination.
    """
    single = {v for v, null in (nulls or {}).items() if null.single_token}
    return sorted(
        v
        for v in lift
        if lift[v] >= (params.switch_lift if v in single else params.view_lift)
        and (
            mean[v] >= params.min_switch_share
            if v in single
            else mean[v] >= params.min_view_similarity and shared[v] >= params.min_shared_tokens
        )
    )


def _members_sharing(
    members: np.ndarray,
    views: list[str],
    signatures: dict[str, np.ndarray],
    nulls: dict[str, ViewNull],
    rng: np.random.Generator,
    params: ClusterParams,
) -> np.ndarray:
    """Members whose own lift against fellow members reaches member_lift in enough views.

    Ring-level evidence (a one-token view: the model switch) describes the fleet, not each
    member (an operator moves most of its accounts, not all), so it is not asked of
    members.
    """
    views = [v for v in views if not nulls[v].single_token]
    if not views:
        return members
    need = min(2, len(views))
    k = params.member_pairs
    own = np.repeat(members, k)
    other = members[rng.integers(0, members.size, own.size)]
    same = own == other
    passing = np.zeros(members.size, dtype=np.int64)
    for view in views:
        sim = np.where(same, 0.0, signature_similarity(signatures[view], own, other))
        base = np.where(same, 0.0, nulls[view].baseline(own, other))
        total = sim.reshape(members.size, k).sum(axis=1)
        chance = np.maximum(base.reshape(members.size, k).sum(axis=1), MIN_NULL_MEAN * k)
        passing += total >= params.member_lift * chance
    return members[passing >= need]


@dataclass
class Traffic:
    """What a community's own requests say: prompt diversity and network concentration."""

    distinct_prompt_share: float | None  # distinct prompts / prompted requests
    prompts_per_member: float | None  # distinct prompts / members with prompts
    site_share: float | None  # requests from the community's top SITE_NETWORKS /24s


SITE_NETWORKS = 4


def community_traffic(rows: pl.DataFrame, assignment: pl.DataFrame) -> dict[int, Traffic]:
    """Per community, over its members' requests: distinct-prompt share and site share."""
    # each request's community by a lookup on its account (a gather, not a 36M-row join)
    accounts = rows["account"].to_numpy()
    size = int(max(accounts.max(initial=0), assignment["account"].max() or 0)) + 1
    community = community_lookup(assignment, size)[accounts]
    inside = community >= 0
    ev = rows.filter(pl.Series(inside)).with_columns(
        pl.Series("community", community[inside], dtype=pl.UInt32)
    )
    prompts = (
        ev.filter("_has")
        .group_by("community")
        .agg(
            (pl.col("_ph").n_unique() / pl.len()).alias("share"),
            (pl.col("_ph").n_unique() / pl.col("account").n_unique()).alias("per_member"),
        )
    )
    nets = (
        ev.filter("_has_net")
        .group_by("community", "_net")
        .len()
        .sort("community", "len", descending=[False, True])
        .group_by("community", maintain_order=True)
        .agg((pl.col("len").head(SITE_NETWORKS).sum() / pl.col("len").sum()).alias("site"))
    )
    distinct = {c: (share, per) for c, share, per in prompts.iter_rows()}
    site = dict(nets.iter_rows())
    return {
        int(c): Traffic(*distinct.get(c, (None, None)), site.get(c))
        for c in assignment["community"].unique().to_list()
    }


def score_communities(
    assignment: pl.DataFrame,
    graph: pl.DataFrame,
    signatures: dict[str, np.ndarray],
    nulls: dict[str, ViewNull],
    org_of: np.ndarray | None,
    traffic_rows: pl.DataFrame,
    params: ClusterParams,
    carved: bool = False,
) -> tuple[list[RingScore], pl.DataFrame]:
    """Scores for every community, and (account, community, affinity) of kept members.

    ``traffic_rows`` is `views.request_frame`'s output; prompt diversity and site share are
    measured on the members that pass the member tests, not on every account the
    partition put in the community (a few ordinary hangers-on must not decide whether a
    group keeps asking new things).

    ``carved=True`` for communities carved out of a larger one at a finer resolution:
    picking the most alike subset of a crowd selects for similarity, so such a subset must
    show two independent views, each with ``carved_lift_factor`` times the usual lift.
    """
    if carved:
        params = dataclasses.replace(
            params,
            view_lift=params.view_lift * params.carved_lift_factor,
            switch_lift=params.switch_lift * params.carved_lift_factor,
        )
    rng = np.random.default_rng(params.seed)
    affinity = member_affinity(graph, assignment)
    kept = affinity.filter(pl.col("affinity") >= params.min_member_affinity)
    scores: list[RingScore] = []
    measured = []
    org_size = None
    if org_of is not None:
        # accounts per declared organisation, indexed by org_of (-1, no org, maps to 0)
        org_size = np.append(np.bincount(org_of[org_of >= 0], minlength=1), 0)
    for (community,), part in sorted(kept.partition_by("community", as_dict=True).items()):
        members = np.sort(part["account"].to_numpy())
        if members.size < params.min_ring_size:
            continue
        lift, mean, shared = _lifts(
            *_sample_pairs(members, params.ring_pairs_sampled, rng), signatures, nulls
        )
        members = _members_sharing(
            members,
            _supporting(lift, mean, shared, params, nulls),
            signatures,
            nulls,
            rng,
            params,
        )
        if org_size is not None:
            # Accounts of a declared multi-account organisation are explained by it. When
            # they are most of the ring the whole ring is that organisation (below);
            # otherwise they are a customer's team caught among fake accounts.
            declared = org_size[org_of[members]] >= params.min_ring_size
            if declared.mean() < params.org_explained_share:
                members = members[~declared]
        if members.size < params.min_ring_size:
            continue
        lift, mean, shared = _lifts(
            *_sample_pairs(members, params.ring_pairs_sampled, rng), signatures, nulls
        )
        measured.append((int(community), members, lift, mean, shared))
    traffic = (
        community_traffic(
            traffic_rows,
            pl.DataFrame(
                {
                    "account": np.concatenate([m[1] for m in measured]).astype(np.uint32),
                    "community": np.repeat(
                        [m[0] for m in measured], [m[1].size for m in measured]
                    ).astype(np.uint32),
                }
            ),
        )
        if measured
        else {}
    )
    for community, members, lift, mean, shared in measured:
        views = _supporting(lift, mean, shared, params, nulls)
        seen = traffic.get(community, Traffic(None, None, None))
        distinct = seen.distinct_prompt_share
        reasons = []
        for v in [v for v in views if nulls[v].single_token]:
            # one value per account: the ring's agreement must also be improbable by
            # chance for a group of its size (a few accounts on a busy day are not)
            if single_token_tail(members, signatures[v], nulls[v]) > params.edge_alpha:
                views.remove(v)
        fixed_set = (
            seen.prompts_per_member is not None
            and seen.prompts_per_member < params.min_prompts_per_member
        )
        if fixed_set:
            # Distilling a model needs answers to many inputs; a group that sends a small
            # fixed set is a test suite or a scripted client, whatever else it shares.
            views = []
            reasons.append("prompts repeat a fixed set (a test suite or script, not harvesting)")
        if seen.site_share is not None and seen.site_share >= params.site_share:
            # People in one room also work on the same material (a class's homework, a
            # team's templates): at one site, shared prompts are explained too.
            site_views = [v for v in views if v in ("infra", "timing", "prompt")]
            views = [v for v in views if v not in site_views]
            if site_views:
                reasons.append(
                    "one site (NAT, campus, office, venue) explains shared "
                    + " and ".join(site_views)
                )
        org_share = 0.0
        if org_of is not None:
            orgs = org_of[members]
            orgs = orgs[orgs >= 0]
            if orgs.size:
                org_share = float(np.bincount(orgs).max() / members.size)
        explained = list(views) if org_share >= params.org_explained_share else []
        score = 1.0 - float(np.prod([1.0 / lift[v] for v in views])) if views else 0.0
        if explained:
            reported = False
            reasons.append("members are one declared organisation")
        elif len(views) >= 2:
            reported = True
            reasons.append("independent views agree: " + ", ".join(views))
        elif (
            views
            and not carved
            and views[0] in SINGLE_VIEW_OK
            and lift[views[0]] >= params.single_view_lift
        ):
            reported = True
            reasons.append(f"{views[0]} alone, very strong")
        else:
            reported = False
            reasons.append(("only " + views[0] if views else "no view") + " supports it")
        scores.append(
            RingScore(
                community=int(community),
                members=members,
                lift=lift,
                similarity=mean,
                views=views,
                explained=explained,
                org_share=org_share,
                distinct_prompt_share=distinct,
                site_share=seen.site_share,
                score=score,
                reported=bool(reported and score >= params.min_score),
                reason="; ".join(reasons),
            )
        )
    return scores, kept


def _view_similarity(
    views: list[str],
    signatures: dict[str, np.ndarray],
    left: np.ndarray,
    right: np.ndarray,
    rng: np.random.Generator,
    k: int = 2000,
) -> tuple[np.ndarray, np.ndarray]:
    """Per view, the mean similarity of random pairs (one from each side) and its standard error."""
    a = left[rng.integers(0, left.size, k)]
    b = right[rng.integers(0, right.size, k)]
    keep = a != b
    if keep.sum() < 2:
        return np.zeros(len(views)), np.zeros(len(views))
    sims = [signature_similarity(signatures[v], a[keep], b[keep]) for v in views]
    mean = np.array([float(x.mean()) for x in sims])
    se = np.array([float(x.std(ddof=1)) / np.sqrt(x.size) for x in sims])
    return mean, se


def operator_groups(
    ring: RingScore,
    fragments: list[np.ndarray],
    signatures: dict[str, np.ndarray],
    params: ClusterParams,
) -> list[np.ndarray]:
    """Regroup a finer partition of a community into distinct operators.

    Halves of one ring are as alike across as within; two operators merged into one
    community are much less alike across than within in at least one view (two proxy
    pools, even when their curricula are alike). Each view where the community's lift
    reaches ``view_lift`` is measured in its own units: for a fragment f and a group G,
    ratio_v = s_v(f, G) / s_v(G, G), the mean similarity of 2,000 random pairs across over
    pairs within, counted only when the gap exceeds SPLIT_Z standard errors (weak views
    are noisy). The fragment's affinity to G is the smallest ratio_v: one view that the
    two do not share is enough to call them two operators, and a raw mean of similarities
    would let the view with the largest numbers (prompts) outvote a proxy pool. Timing is
    left out when prompts or infrastructure are there: one operator may run several
    schedules, while two operators rarely share both a curriculum and a proxy pool. Fragments
    are taken largest first; each joins the group of highest affinity unless that affinity
    is below ``split_ratio``, in which case it starts a new group. Fragments under
    ``min_ring_size`` always join a group (too few pairs to judge).
    """
    rng = np.random.default_rng(params.seed)
    views = sorted(v for v, x in ring.lift.items() if x >= params.view_lift) or ring.views
    # What identifies an operator is its curriculum and its infrastructure; one operator
    # can run several schedules (shifts, per-wave windows), so timing splits only a ring
    # that nothing else describes.
    views = [v for v in views if v not in OPERATOR_NEUTRAL] or views
    groups: list[np.ndarray] = []
    within: list[tuple[np.ndarray, np.ndarray]] = []
    for frag in sorted(fragments, key=lambda f: -f.size):
        best, best_ratio = -1, 0.0
        for g, members in enumerate(groups):
            across, se_across = _view_similarity(views, signatures, frag, members, rng)
            inside, se_inside = within[g]
            ratio = across / np.maximum(inside, 1e-9)
            # A view separates the two only when the gap is beyond sampling noise.
            noise = SPLIT_Z * np.sqrt(se_across**2 + se_inside**2)
            ratio = np.where(inside - across > noise, ratio, 1.0)
            affinity = float(ratio.min()) if ratio.size else 1.0
            if affinity > best_ratio:
                best, best_ratio = g, affinity
        if best >= 0 and (best_ratio >= params.split_ratio or frag.size < params.min_ring_size):
            groups[best] = np.concatenate([groups[best], frag])
            within[best] = _view_similarity(views, signatures, groups[best], groups[best], rng)
        else:
            groups.append(frag)
            within.append(_view_similarity(views, signatures, frag, frag, rng))
    return groups


def switch_evidence(
    events: pl.LazyFrame, index: pl.DataFrame, params: ClusterParams
) -> tuple[np.ndarray, ViewNull] | None:
    """A fleet-wide switch to a new model, as a one-entry signature per account.

    The newest model is the one whose first request in the logs is latest, among models
    with at least 1% of the requests, if it appears after the logs' first day (else the
    logs do not show a release and there is no switch to see): its release time R is
    that first request. An account active before R that first uses the model in the
    24-hour window w = floor((t - R) / 24 h) gets the value w; accounts that never use it
    or that start after R (onboarding, not switching) get the empty value and match no
    one. Two accounts "agree" when they switched in the same window, so the ring-level
    similarity is the share of member pairs that switched together, and the baseline is
    sum_w q_w^2, the chance that two random accounts did (q_w: the share of all accounts
    switching in window w). Honest users adopt a new model over weeks; a fleet moves on
    the operator's command. Only ring scoring reads it (never the graph: one switch day
    is shared by too many accounts to link them), as the ``behaviour`` view.
    """
    used = events.filter(pl.col("model").is_not_null())
    models = used.group_by("model").agg(pl.col("ts").min().alias("first"), pl.len().alias("n"))
    start = events.select(pl.col("ts").min()).collect().item()
    release = newest_release(models.collect(), start)
    if release is None:
        return None
    newest, released_at = release
    per = events.group_by("account_id").agg(
        pl.col("ts").min().alias("first_seen"),
        pl.col("ts").filter(pl.col("model") == newest).min().alias("first_use"),
    )
    return switch_signature(per.collect(), released_at, index, params)


def newest_release(models: pl.DataFrame, start: dt.datetime | None) -> tuple[str, Any] | None:
    """(model, release time) of ``switch_evidence``'s newest model, or None when none qualifies.

    ``models``: one row per model with its first request (``first``) and its requests
    (``n``); ``start``: the logs' first request. The aggregates are the engine's to compute
    (Polars here, Spark in ``forensics.spark``); the rule is this one.
    """
    if models.height == 0 or start is None:
        return None
    released = models.filter(
        (pl.col("n") >= 0.01 * pl.col("n").sum()) & (pl.col("first") > start + pl.duration(days=1))
    ).sort("first")
    if released.height == 0:
        return None
    newest, release = released.select("model", "first").row(-1)
    return newest, release


def switch_signature(
    per_account: pl.DataFrame, release: Any, index: pl.DataFrame, params: ClusterParams
) -> tuple[np.ndarray, ViewNull]:
    """``switch_evidence``'s signature and baseline from per-account first times.

    ``per_account``: account_id, ``first_seen`` (first request) and ``first_use`` (first
    request to the newest model, null if never), for every account.
    """
    per = per_account.filter(
        (pl.col("first_seen") < release) & pl.col("first_use").is_not_null()
    ).select(
        "account_id",
        ((pl.col("first_use") - pl.lit(release)).dt.total_hours() // SWITCH_WINDOW_HOURS)
        .cast(pl.UInt32)
        .alias("_w"),
    )
    n = index.height
    value = np.full(n, np.iinfo(np.uint32).max, dtype=np.uint32)
    rows = per.join(index, on="account_id")
    value[rows["idx"].to_numpy()] = rows["_w"].to_numpy()
    counts = np.bincount(rows["_w"].to_numpy().astype(np.int64)) if rows.height else np.zeros(1)
    share = counts / max(n, 1)
    null = ViewNull(
        view="behaviour",
        accounts=rows.height,
        concentration=0.0,
        sizes=(value != np.iinfo(np.uint32).max).astype(np.int64),
        factor=params.null_factor,
        floor=1.0,
        mean=float((share**2).sum()),
        universe=np.iinfo(np.int32).max,
        single_token=True,
        value_share=share,
    )
    return value.reshape(n, 1), null


def single_token_tail(members: np.ndarray, sig: np.ndarray, null: ViewNull) -> float:
    """P(Binomial(n, q_w) >= k): how likely chance puts k of n members on their modal value.

    w is the value most members share (the window most of the ring switched in), k the
    members holding it and q_w the share of all accounts holding it. A handful of
    accounts that all switched on a busy day is no surprise; 70 of 80 on a day when 1% of
    accounts switched is.
    """
    values = sig[members, 0]
    values = values[values != np.iinfo(sig.dtype).max]
    if values.size == 0 or null.value_share is None:
        return 1.0
    counts = np.bincount(values.astype(np.int64))
    w = int(counts.argmax())
    k, n = int(counts[w]), int(members.size)
    q = float(null.value_share[w]) if w < null.value_share.size else 0.0
    q = min(max(q, 1e-12), 1.0 - 1e-12)
    i = np.arange(k, n + 1)
    log_pmf = (
        np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) for j in i])
        + i * math.log(q)
        + (n - i) * math.log1p(-q)
    )
    return float(np.exp(log_pmf).sum())


def reassign_members(
    reported: list[RingScore],
    signatures: dict[str, np.ndarray],
    nulls: dict[str, ViewNull],
    params: ClusterParams,
    max_pairs: int = 2_000_000,
) -> tuple[list[RingScore], pl.DataFrame]:
    """Move members that are plainly more alike to another reported ring; return the moves.

    The partition draws a community's boundary from graph weight, and an account of one
    operator with a few heavy edges into another operator's ring can land there (its
    curriculum alike, its proxy pool not). Member m of ring A moves to ring B when, in
    every identifying view of A or B (curriculum and infrastructure, as in
    ``operator_groups``; at least two of them, holding the member), its mean similarity to
    ``k`` random members of B is not lower than its mean similarity to ``k`` random
    members of A by more than SPLIT_Z standard errors (k from 32 to 256, at most
    ``max_pairs`` pairs per view in all), and in at least one of them it is higher by
    more than that: B dominates A on the evidence, beyond noise.
    Returns the rings with their new members and the (account, community) moves.
    """
    moves = pl.DataFrame(schema={"account": pl.UInt32, "community": pl.UInt32})
    if len(reported) < 2:
        return reported, moves
    rng = np.random.default_rng(params.seed)
    members = np.concatenate([r.members for r in reported])
    home = np.repeat(np.arange(len(reported)), [r.members.size for r in reported])
    views = sorted({v for r in reported for v in r.views if v in signatures})
    views = [v for v in views if v not in OPERATOR_NEUTRAL] or views
    if not views:
        return reported, moves
    k = int(np.clip(max_pairs // (members.size * len(reported)), 32, 256))
    own = np.repeat(members, k)
    # mean and standard error of each member's similarity to each ring, per view
    mean = np.zeros((len(views), members.size, len(reported)))
    se = np.zeros_like(mean)
    for j, ring in enumerate(reported):
        other = ring.members[rng.integers(0, ring.members.size, own.size)]
        valid = (own != other).reshape(members.size, k)
        count = np.maximum(valid.sum(axis=1), 2)
        for i, view in enumerate(views):
            sim = signature_similarity(signatures[view], own, other).reshape(members.size, k)
            sim = np.where(valid, sim, 0.0)
            m = sim.sum(axis=1) / count
            var = (np.where(valid, (sim - m[:, None]) ** 2, 0.0).sum(axis=1)) / (count - 1)
            mean[i, :, j], se[i, :, j] = m, np.sqrt(var / count)
    rows = np.arange(members.size)
    # which views identify each ring; a pair of rings is compared on the union of theirs,
    # and only when that union holds two views (one view alone is too thin to overrule
    # the partition: proxy-only rings renting one commercial network overlap in it)
    uses = np.array([[v in r.views for v in views] for r in reported])  # ring x view
    # ... and a view says something about a member only if the member is in it
    present = np.array([nulls[v].sizes[members] > 0 for v in views]).T  # member x view
    best = np.full(members.size, -1)
    for j in range(len(reported)):
        pair = (uses[home] | uses[j]) & present  # member x view
        gap = mean[:, :, j] - mean[:, rows, home]
        noise = SPLIT_Z * np.sqrt(se[:, :, j] ** 2 + se[:, rows, home] ** 2)
        not_lower = ((gap >= -noise) | ~pair.T).all(axis=0)
        higher = ((gap > noise) & pair.T).any(axis=0)
        dominates = not_lower & higher & (pair.sum(axis=1) >= 2) & (home != j)
        best = np.where(dominates & (best < 0), j, best)
    move = best >= 0
    if not move.any():
        return reported, moves
    out = []
    for j, ring in enumerate(reported):
        keep = members[(home == j) & ~move]
        gained = members[move & (best == j)]
        out.append(dataclasses.replace(ring, members=np.sort(np.concatenate([keep, gained]))))
    moves = pl.DataFrame(
        {
            "account": members[move].astype(np.uint32),
            "community": np.array([reported[j].community for j in best[move]], dtype=np.uint32),
        }
    )
    return out, moves
