"""`forensics cluster`: features, views, signatures, LSH, graph, communities, scores, evidence.

Reads the store, writes ``features/accounts.parquet`` and ``rings/{members,rings,edges}.parquet``
and ``rings/run.json``, each atomically, under the store lock. Stages never call each
other's internals: every step is a function of the previous step's frames.
"""

from __future__ import annotations

import platform
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from forensics import __version__
from forensics.console import quiet_from_env, stderr
from forensics.errors import ForensicsError
from forensics.features.compute import account_features
from forensics.rings.candidates import candidate_pairs, pair_key, unique_pairs
from forensics.rings.communities import communities
from forensics.rings.evidence import RingFacts, build_rings_table
from forensics.rings.graph import ViewNull, combine, view_edges, view_null
from forensics.rings.params import ALL_VIEWS, DEFAULT_VIEWS, ClusterParams
from forensics.rings.prompt_sample import prompt_sample
from forensics.rings.scoring import (
    RingScore,
    community_lookup,
    operator_groups,
    reassign_members,
    score_communities,
    switch_evidence,
)
from forensics.rings.signatures import bulk_minhash, permutations
from forensics.rings.views import account_index, available_views, build_view, request_frame
from forensics.schema import RING_EDGE_SCHEMA, RING_MEMBER_SCHEMA
from forensics.store import Store, utc_now_iso, write_json_atomic, write_parquet_atomic

# Another engine's way to the events read after the view stage (see rings_from_views).
SwitchSource = Callable[[pl.DataFrame], "tuple[np.ndarray, ViewNull] | None"]
MemberEvents = Callable[[pl.Series], pl.LazyFrame]


@dataclass
class ClusterResult:
    """What a cluster run found, for the summary line and for notebooks."""

    rings: pl.DataFrame
    members: pl.DataFrame
    edges: pl.DataFrame
    run: dict[str, Any]
    scores: list[RingScore] = field(default_factory=list)


class _Clock:
    """Wall and CPU seconds (all threads) of each stage: ``{name}_s``, ``{name}_cpu_s``."""

    def __init__(self, quiet: bool) -> None:
        self.timings: dict[str, float] = {}
        self.quiet = quiet
        self._t = time.perf_counter()
        self._cpu = time.process_time()

    def lap(self, name: str, message: str = "") -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.timings[f"{name}_s"] = round(now - self._t, 3)
        self.timings[f"{name}_cpu_s"] = round(cpu - self._cpu, 3)
        self._t, self._cpu = now, cpu
        # the process's peak so far, to see which stage sets it (kilobytes; bytes on macOS)
        unit = 1 if sys.platform == "darwin" else 1024
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 1e9
        self.timings[f"{name}_peak_gb"] = round(peak, 2)
        if message and not self.quiet:
            wall, used = self.timings[f"{name}_s"], self.timings[f"{name}_cpu_s"]
            stderr.print(f"cluster: {message} ({wall:.1f}s, {used:.1f} cpu-s, peak {peak:.2f} GB)")


def parse_views(text: str | None) -> tuple[str, ...]:
    """``prompt,infra`` -> ("prompt", "infra"); a user error for an unknown view name."""
    if text is None or not text.strip():
        return DEFAULT_VIEWS
    views = tuple(dict.fromkeys(v.strip() for v in text.split(",") if v.strip()))
    unknown = [v for v in views if v not in ALL_VIEWS]
    if unknown:
        raise ForensicsError(
            f"unknown view(s) {', '.join(map(repr, unknown))}; choose from {', '.join(ALL_VIEWS)}"
        )
    return views


@dataclass
class ViewStage:
    """What the stages up to the candidate pairs found: the part another engine can compute.

    Everything after it (view baselines, view edges, graph, communities, scoring, evidence)
    is ``rings_from_views``, the same code whichever engine built the stage. Account numbers
    are ``views.account_index``'s, rows of ``signatures[v]`` and ``sizes[v]`` are indexed by
    them, and ``pairs`` are (a < b) in account order (``candidates.unique_pairs``).
    """

    index: pl.DataFrame  # account_id, idx (views.account_index)
    requests: pl.DataFrame  # views.request_frame (read by ring scoring)
    available: list[str]  # views the store supports
    used: list[str]  # views asked for and available, in params order
    signatures: dict[str, np.ndarray]  # view -> (accounts x num_perm) uint32
    sizes: dict[str, np.ndarray]  # view -> kept tokens per account
    token_dfs: dict[str, np.ndarray]  # view -> document frequency of each kept token
    view_stats: dict[str, dict[str, int]]  # accounts, tokens_kept, tokens_dropped, candidate_pairs
    pairs: pl.DataFrame  # every view's candidate pairs, each once (a, b: UInt32)


def find_rings(
    events: pl.LazyFrame,
    accounts: pl.LazyFrame | None,
    features: pl.DataFrame,
    params: ClusterParams,
    clock: _Clock | None = None,
    templates: pl.DataFrame | None = None,
) -> ClusterResult:
    """Rings from canonical events (and optional account records): the library entry point.

    ``templates`` (``AccountFeatures.templates``) saves the evidence a pass over the prompts.
    """
    clock = clock or _Clock(quiet=True)
    stage = view_stage(events, accounts, params, clock)
    return rings_from_views(stage, events, accounts, features, params, clock, templates)


def view_stage(
    events: pl.LazyFrame,
    accounts: pl.LazyFrame | None,
    params: ClusterParams,
    clock: _Clock | None = None,
) -> ViewStage:
    """Account index, request frame, and per view: tokens, signatures, LSH candidate pairs."""
    clock = clock or _Clock(quiet=True)
    index = account_index(events)
    n = index.height
    # per request: account, prompt hash, /24, timing token (read by the prompt sample, the
    # timing view and ring scoring, instead of three more scans of the events)
    requests = request_frame(events, index, params)
    clock.lap("requests", f"{requests.height} requests hashed")
    available = available_views(events, accounts)
    used = [v for v in params.views if v in available]
    perms = permutations(params.num_perm, params.seed)
    signatures: dict[str, np.ndarray] = {}
    sizes: dict[str, np.ndarray] = {}
    token_dfs: dict[str, np.ndarray] = {}
    view_stats: dict[str, dict[str, int]] = {}
    pairs: list[pl.DataFrame] = []
    for view in used:
        # the prompt view reads only the prompts it samples (bounded memory at any scale)
        source = prompt_sample(events, requests, index, params) if view == "prompt" else events
        vt = build_view(view, source, accounts, params, index, requests)
        rows = vt.tokens
        sig = bulk_minhash(rows["idx"].to_numpy(), rows["token"].to_numpy(), n, perms, threads=2)
        clock.lap(f"view_{view}", f"view {view}: {vt.accounts} accounts, {vt.tokens_kept} tokens")
        found = candidate_pairs(sig, params)
        clock.lap(f"lsh_{view}", f"view {view}: {found.height} candidate pairs")
        signatures[view] = sig
        sizes[view] = np.bincount(rows["idx"].to_numpy(), minlength=n)
        token_dfs[view] = vt.tokens.unique("token")["df"].to_numpy()
        pairs.append(found.select(pair_key(pl.col("a"), pl.col("b"))))
        view_stats[view] = {
            "accounts": vt.accounts,
            "tokens_kept": vt.tokens_kept,
            "tokens_dropped": vt.tokens_dropped,
            "candidate_pairs": found.height,
        }
        # a view's token frames are large (40M rows for the prompt view at full scale):
        # released before the next view is built, not after it
        del source, vt, rows, found
    return ViewStage(
        index=index,
        requests=requests,
        available=available,
        used=used,
        signatures=signatures,
        sizes=sizes,
        token_dfs=token_dfs,
        view_stats=view_stats,
        # every view's pairs, each once, in account order (view_edges reads them in that order)
        pairs=unique_pairs(pairs),
    )


def rings_from_views(
    stage: ViewStage,
    events: pl.LazyFrame | None,
    accounts: pl.LazyFrame | None,
    features: pl.DataFrame,
    params: ClusterParams,
    clock: _Clock | None = None,
    templates: pl.DataFrame | None = None,
    switch_from: SwitchSource | None = None,
    member_events: MemberEvents | None = None,
) -> ClusterResult:
    """Baselines, view edges, graph, communities, scores and evidence from a ``ViewStage``.

    The stage's pairs are released once the graph is built (the stage is consumed).
    ``events`` are read twice after the view stage: for the model-switch evidence (three
    aggregates over every event) and for the rings' evidence (the flagged accounts' events
    only). Another engine may serve both instead: ``switch_from(index)`` returns what
    ``scoring.switch_evidence`` would, and ``member_events(account_ids)`` a lazy frame
    holding at least those accounts' events (``events`` may then be None).
    """
    clock = clock or _Clock(quiet=True)
    index, requests, used = stage.index, stage.requests, stage.used
    available, view_stats = stage.available, stage.view_stats
    signatures, sizes, token_dfs = stage.signatures, stage.sizes, stage.token_dfs
    n = index.height
    all_pairs = stage.pairs
    rng = np.random.default_rng(params.seed)
    nulls: dict[str, ViewNull] = {
        v: view_null(v, signatures[v], sizes[v], token_dfs[v], params, rng) for v in used
    }
    clock.lap("pairs", f"{all_pairs.height} candidate pairs pooled; view baselines")
    edges = view_edges(all_pairs, signatures, nulls)
    clock.lap("edges", f"{edges.height} view edges (every pair measured in every view)")
    graph = combine(edges)
    clock.lap("graph", f"graph: {graph.height} edges from {all_pairs.height} candidate pairs")
    # measured: 37M candidate pairs at full scale, not needed again
    stage.pairs = all_pairs = all_pairs.clear()
    org_of = None
    if accounts is not None:
        orgs = (
            index.join(
                accounts.select("account_id", "org_id").collect(), on="account_id", how="left"
            )
            .sort("idx")
            .select((pl.col("org_id").rank("dense").cast(pl.Int64) - 1).fill_null(-1))
            .to_series()
            .to_numpy()
        )
        org_of = orgs
    # Ring scoring also weighs a fleet-wide model switch (not a graph view; see
    # scoring.switch_evidence), unless the behaviour view is in the graph already.
    if "behaviour" in used:
        switch = None
    elif switch_from is not None:
        switch = switch_from(index)
    else:
        assert events is not None, "events, or switch_from, are needed"
        switch = switch_evidence(events, index, params)
    ring_sigs = signatures if switch is None else {**signatures, "behaviour": switch[0]}
    ring_nulls = nulls if switch is None else {**nulls, "behaviour": switch[1]}
    scores, kept = _rings_at_resolutions(graph, requests, ring_sigs, ring_nulls, org_of, params)
    clock.lap("score", f"{len(scores)} communities scored")
    reported = sorted((s for s in scores if s.reported), key=lambda s: (-s.score, s.community))
    reported, moves = reassign_members(reported, signatures, nulls, params)
    if moves.height:  # members plainly more alike to another ring move there
        kept = kept.join(moves.rename({"community": "_to"}), on="account", how="left").select(
            "account", pl.coalesce("_to", "community").alias("community"), "affinity"
        )
    ring_of = {s.community: f"R{i + 1:03d}" for i, s in enumerate(reported)}
    chosen = pl.DataFrame(
        {
            "account": np.concatenate([s.members for s in reported]) if reported else [],
            "community": np.repeat(
                [s.community for s in reported], [s.members.size for s in reported]
            ).astype(np.uint32),
        },
        schema={"account": pl.UInt32, "community": pl.UInt32},
    )
    members = (
        chosen.join(kept, on=["account", "community"])
        .join(index, left_on="account", right_on="idx")
        .with_columns(
            pl.col("community").replace_strict(ring_of, return_dtype=pl.String).alias("ring_id"),
            pl.col("community")
            .replace_strict({s.community: s.score for s in reported}, return_dtype=pl.Float64)
            .alias("_ring_score"),
        )
        .select(
            "ring_id",
            "account_id",
            (pl.col("_ring_score") * pl.col("affinity")).round(4).alias("score"),
        )
        .sort("ring_id", "account_id")
    )
    members = members.select([pl.col(c).cast(t) for c, t in RING_MEMBER_SCHEMA.items()])
    ring_edges = _ring_edges(edges, graph, members, index)
    facts = [
        RingFacts(
            ring_id=ring_of[s.community],
            members=members.filter(pl.col("ring_id") == ring_of[s.community])[
                "account_id"
            ].to_list(),
            score=s.score,
            views=s.views,
            lift=s.lift,
            similarity=s.similarity,
        )
        for s in reported
    ]
    if member_events is not None and facts:
        events = member_events(members["account_id"].unique())
    assert events is not None or not facts, "events, or member_events, are needed"
    rings = build_rings_table(facts, events, accounts, features, templates)
    clock.lap("evidence", f"{rings.height} rings, {members.height} flagged accounts")
    run = {
        "parameters": params.to_json(),
        "seed": params.seed,
        "accounts": n,
        "views_available": available,
        "views_used": used,
        "model_switch_evidence": switch is not None,
        "views": {
            v: {
                **view_stats[v],
                "null_mean_similarity": round(nulls[v].mean, 5),
                "null_concentration": nulls[v].concentration,
                "null_edge_rate": round(nulls[v].above, 6),
            }
            for v in used
        },
        "communities": [
            {
                "ring_id": ring_of.get(s.community),
                "size": int(s.members.size),
                "score": round(s.score, 4),
                "lift": {v: round(x, 2) for v, x in s.lift.items()},
                "similarity": {v: round(x, 4) for v, x in s.similarity.items()},
                "distinct_prompt_share": s.distinct_prompt_share,
                "site_share": s.site_share,
                "views": s.views,
                "explained": s.explained,
                "org_share": round(s.org_share, 3),
                "reported": s.reported,
                "reason": s.reason,
            }
            for s in sorted(scores, key=lambda s: -s.members.size)[:200]
        ],
    }
    return ClusterResult(rings=rings, members=members, edges=ring_edges, run=run, scores=scores)


def _rings_at_resolutions(
    graph: pl.DataFrame,
    traffic_rows: pl.DataFrame,
    signatures: dict[str, np.ndarray],
    nulls: dict[str, ViewNull],
    org_of: np.ndarray | None,
    params: ClusterParams,
) -> tuple[list[RingScore], pl.DataFrame]:
    """Communities scored; those not reported are split at a doubled resolution and rescored.

    A small ring can sit inside a larger loose community (ordinary users weakly alike in one
    view) when the modularity gain of separating it is small next to the component's
    weight. Partitioning that community on its own, more finely, lets the ring stand out
    while rings already reported are left whole. Parts carved out this way need two
    independent views (scoring.score_communities).
    """
    scores: list[RingScore] = []
    kept_parts: list[pl.DataFrame] = []
    pending = communities(graph, params.resolution, params.min_ring_size, params.seed)
    resolution = params.resolution
    next_id = 0
    for depth in range(params.refine_depth + 1):
        if pending.height == 0:
            break
        pending = pending.with_columns(pl.col("community") + next_id)
        next_id = int(pending["community"].max()) + 1
        round_scores, kept = score_communities(
            pending, graph, signatures, nulls, org_of, traffic_rows, params, depth > 0
        )
        replaced: set[int] = set()
        if depth == 0:
            round_scores, kept, next_id, replaced = _split_merged(
                round_scores, kept, pending, graph, traffic_rows, signatures, nulls, org_of,
                params, next_id,
            )  # fmt: skip
        done = {s.community for s in round_scores if s.reported} | replaced
        last = depth == params.refine_depth
        scores += [s for s in round_scores if s.reported or last]
        kept_parts.append(kept.filter(pl.col("community").is_in(list(done)) | last))
        resolution *= 2.0
        unresolved = pending.filter(~pl.col("community").is_in(list(done)))
        big = (
            unresolved.group_by("community").len().filter(pl.col("len") >= 2 * params.min_ring_size)
        )
        parts = []
        inner = _edges_within(
            graph, unresolved.filter(pl.col("community").is_in(big["community"].implode()))
        )
        for sub in inner.values():
            split = communities(sub, resolution, params.min_ring_size, params.seed)
            if split["community"].n_unique() > 1:
                parts.append(split.with_columns(pl.col("community") + 1_000_000 * len(parts)))
        pending = (
            pl.concat(parts).with_columns(pl.col("community").rank("dense").cast(pl.UInt32) - 1)
            if parts
            else pending.clear()
        )
    kept_all = (
        pl.concat(kept_parts)
        if kept_parts
        else pl.DataFrame(
            schema={"account": pl.UInt32, "community": pl.UInt32, "affinity": pl.Float64}
        )
    )
    return scores, kept_all


def _edges_within(graph: pl.DataFrame, assignment: pl.DataFrame) -> dict[int, pl.DataFrame]:
    """The edges inside each community, by community (one pass over the edges, no joins)."""
    if assignment.height == 0 or graph.height == 0:
        return {}
    a, b = graph["a"].to_numpy(), graph["b"].to_numpy()
    size = int(max(assignment["account"].max(), a.max(), b.max())) + 1
    lookup = community_lookup(assignment, size)
    ca = lookup[a]
    inside = (ca == lookup[b]) & (ca >= 0)
    edges = graph.filter(pl.Series(inside)).with_columns(pl.Series("_c", ca[inside]))
    return {
        int(c): part.drop("_c") for (c,), part in edges.partition_by("_c", as_dict=True).items()
    }


def _split_merged(
    round_scores: list[RingScore],
    kept: pl.DataFrame,
    assignment: pl.DataFrame,
    graph: pl.DataFrame,
    traffic_rows: pl.DataFrame,
    signatures: dict[str, np.ndarray],
    nulls: dict[str, ViewNull],
    org_of: np.ndarray | None,
    params: ClusterParams,
    next_id: int,
) -> tuple[list[RingScore], pl.DataFrame, int, set[int]]:
    """Supported communities that are two operators merged, replaced by their parts.

    The whole community of each reported ring (every account Leiden put in it, not only
    the members that passed scoring: a second operator merged into the community may have
    been dropped for not sharing the first one's views) is partitioned at twice the
    resolution on its own edges, where modularity is no longer diluted by the rest of the
    component (the resolution limit), and the fragments are regrouped by similarity
    (scoring.operator_groups): one ring comes back whole, two operators come back as two
    groups, each then scored as a ring of its own.
    """
    split_rows: list[pl.DataFrame] = []
    replaced: set[int] = set()
    for ring in round_scores:
        # Any community that some view supports: two operators merged can dilute each
        # other's evidence below the bar, so the split must not wait for a report.
        if not (ring.reported or ring.views) or ring.members.size < 2 * params.min_ring_size:
            continue
        whole = assignment.filter(pl.col("community") == ring.community)["account"].to_numpy()
        inside = pl.Series(whole).implode()
        sub = graph.filter(pl.col("a").is_in(inside) & pl.col("b").is_in(inside))
        split = communities(sub, 2 * params.resolution, 2, params.seed)
        fragments = [
            g["account"].to_numpy() for _, g in split.group_by("community", maintain_order=True)
        ]
        placed = np.concatenate(fragments) if fragments else np.array([], dtype=np.uint32)
        rest = np.setdiff1d(whole, placed)
        if rest.size:  # members the finer partition left alone stay with the ring
            fragments.append(rest)
        groups = operator_groups(ring, fragments, signatures, params)
        if len(groups) > 1:
            replaced.add(ring.community)
            split_rows.append(
                pl.DataFrame(
                    {
                        "account": np.concatenate(groups).astype(np.uint32),
                        "community": np.repeat(
                            np.arange(next_id, next_id + len(groups)), [g.size for g in groups]
                        ).astype(np.uint32),
                    }
                )
            )
            next_id += len(groups)
    if not split_rows:
        return round_scores, kept, next_id, replaced
    assignment = pl.concat(split_rows)
    part_scores, part_kept = score_communities(
        assignment, graph, signatures, nulls, org_of, traffic_rows, params
    )
    scores = [s for s in round_scores if s.community not in replaced] + part_scores
    kept = pl.concat([kept.filter(~pl.col("community").is_in(list(replaced))), part_kept])
    return scores, kept, next_id, replaced


def _ring_edges(
    edges: pl.DataFrame, graph: pl.DataFrame, members: pl.DataFrame, index: pl.DataFrame
) -> pl.DataFrame:
    """Edges inside reported rings, per view and combined, by account id (a < b)."""
    ring_of = members.join(index, on="account_id").select("idx", "ring_id")
    per_view = edges.select("a", "b", "view", "similarity")
    combined = graph.select(
        "a",
        "b",
        pl.lit("combined").alias("view"),
        (pl.col("weight") / 4.0).clip(0, 1).alias("similarity"),
    )
    both = pl.concat([per_view, combined])
    inside = (
        both.join(ring_of.rename({"idx": "a", "ring_id": "ra"}), on="a")
        .join(ring_of.rename({"idx": "b", "ring_id": "rb"}), on="b")
        .filter(pl.col("ra") == pl.col("rb"))
        .join(index.rename({"idx": "a", "account_id": "id_a"}), on="a")
        .join(index.rename({"idx": "b", "account_id": "id_b"}), on="b")
        .select(
            pl.min_horizontal("id_a", "id_b").alias("account_a"),
            pl.max_horizontal("id_a", "id_b").alias("account_b"),
            pl.col("similarity").round(4),
            "view",
        )
        .sort("account_a", "account_b", "view")
    )
    return inside.select([pl.col(c).cast(t) for c, t in RING_EDGE_SCHEMA.items()])


def cluster_store(store: Store, params: ClusterParams, quiet: bool | None = None) -> ClusterResult:
    """Run `forensics cluster` on a store: compute, then write every output atomically."""
    quiet = quiet_from_env() if quiet is None else quiet
    store.require()
    started = utc_now_iso()
    # Every collect runs on Polars' streaming engine unless it says otherwise: same results,
    # and scans, joins and group-bys over the events then hold batches, not whole columns
    # (the prompt view peaked at 9-12 GB on 36M events with the in-memory engine).
    with store.lock(), pl.Config(engine_affinity="streaming"):
        clock = _Clock(quiet)
        events = store.scan_events()
        accounts = store.scan_accounts()
        n_events = events.select(pl.len()).collect().item()
        if n_events == 0:
            raise ForensicsError(f"store {store.root} holds no events; ingest some logs first")
        computed = account_features(events, accounts)
        features = computed.table
        write_parquet_atomic(store.features_path, features)
        clock.lap("features", f"features: {features.height} accounts, {n_events} events")
        result = find_rings(events, accounts, features, params, clock, computed.templates)
        write_cluster_outputs(store, result, params, clock, started, n_events, "local")
    return result


def write_cluster_outputs(
    store: Store,
    result: ClusterResult,
    params: ClusterParams,
    clock: _Clock,
    started: str,
    n_events: int,
    engine: str,
    environment: dict[str, str] | None = None,
) -> None:
    """Write rings/{members,edges,rings}.parquet and run.json (the caller holds the lock).

    ``environment`` adds to run.json's versions (the Spark engine's version and master).
    """
    manifest = store.read_manifest()
    write_parquet_atomic(store.ring_members_path, result.members)
    write_parquet_atomic(store.ring_edges_path, result.edges)
    write_parquet_atomic(store.rings_path, result.rings)
    run = {
        "tool_version": __version__,
        "engine": engine,
        "started_at": started,
        "finished_at": utc_now_iso(),
        "parameters": result.run.pop("parameters"),
        "seed": params.seed,
        "inputs": [
            {"path": rec.get("path"), "sha256": rec.get("sha256")}
            for rec in manifest.get("inputs", [])
        ],
        "events": n_events,
        **result.run,
        "rings": result.rings.height,
        "flagged_accounts": result.members.height,
        "timings": clock.timings,
        "environment": {
            "python": platform.python_version(),
            "polars": pl.__version__,
            "numpy": np.__version__,
            **(environment or {}),
        },
    }
    write_json_atomic(store.run_path, run)
    result.run = run
