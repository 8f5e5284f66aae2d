"""Scoring against the population: edge floors, operator splits, support, the model switch."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import polars as pl

from forensics.evaluate import evaluate, evaluate_members, read_truth
from forensics.rings.graph import noise_floor, view_null
from forensics.rings.params import ClusterParams
from forensics.rings.scoring import (
    RingScore,
    _lifts,
    _supporting,
    operator_groups,
    reassign_members,
    score_communities,
    single_token_tail,
    switch_evidence,
)
from forensics.rings.signatures import bulk_minhash, permutations

PARAMS = ClusterParams()


def _signatures(sets: list[np.ndarray]) -> np.ndarray:
    idx = np.concatenate([np.full(s.size, i) for i, s in enumerate(sets)])
    tokens = np.concatenate(sets).astype(np.uint64)
    return bulk_minhash(idx, tokens, len(sets), permutations(PARAMS.num_perm, 1), threads=1)


def _binomial_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


def test_noise_floor_is_the_least_agreement_noise_rarely_reaches():
    for p0 in (0.0005, 0.02):
        k = round(noise_floor(p0, 128, 1e-6) * 128)
        assert _binomial_tail(k, 128, p0) <= 1e-6 < _binomial_tail(k - 1, 128, p0)
    # where unrelated accounts share almost nothing a few agreements are evidence; where
    # they share common phrases many more are needed
    assert noise_floor(0.0005, 128, 1e-6) < 0.05 < 0.1 < noise_floor(0.02, 128, 1e-6)


def _two_operators_one_curriculum(rng: np.random.Generator):
    """Accounts 0-39 and 40-79: one shared curriculum, two separate proxy pools.

    Prompt pairs are far more alike (Jaccard about 0.25) than infrastructure pairs (about
    0.05), so an average of raw similarities would see one operator.
    """
    curriculum = np.arange(1, 101)
    pool_a, pool_b = np.arange(1001, 1201), np.arange(2001, 2201)
    prompt = [rng.choice(curriculum, 40, replace=False) for _ in range(80)]
    infra = [rng.choice(pool_a if i < 40 else pool_b, 20, replace=False) for i in range(80)]
    return {"prompt": _signatures(prompt), "infra": _signatures(infra)}


def _ring(members: np.ndarray) -> RingScore:
    lift = {"prompt": 10.0, "infra": 10.0}
    return RingScore(0, members, lift, {"prompt": 0.1, "infra": 0.1}, ["infra", "prompt"])


def test_two_operators_with_one_curriculum_but_two_proxy_pools_are_split():
    rng = np.random.default_rng(0)
    signatures = _two_operators_one_curriculum(rng)
    fragments = [np.arange(0, 20), np.arange(40, 60), np.arange(20, 40), np.arange(60, 80)]
    groups = operator_groups(_ring(np.arange(80)), fragments, signatures, PARAMS)
    assert sorted(sorted(g.tolist()) for g in groups) == [
        list(range(0, 40)),
        list(range(40, 80)),
    ]


def test_pieces_of_one_operator_come_back_as_one_ring():
    rng = np.random.default_rng(1)
    signatures = _two_operators_one_curriculum(rng)
    fragments = [np.arange(0, 15), np.arange(15, 30), np.arange(30, 40)]
    groups = operator_groups(_ring(np.arange(40)), fragments, signatures, PARAMS)
    assert len(groups) == 1 and sorted(groups[0].tolist()) == list(range(40))


def test_a_view_needs_shared_tokens_not_only_a_high_jaccard():
    rng = np.random.default_rng(2)
    # tiny accounts: three tokens each, pairs share one (Jaccard 0.2, a busy hour)
    tiny = [np.array([1, 100 + 2 * i, 101 + 2 * i]) for i in range(10)]
    # real sharing: 30 tokens each from a common set of 60
    shared = [rng.choice(np.arange(1000, 1060), 30, replace=False) for _ in range(10)]
    background = [rng.choice(np.arange(5000, 50000), 30, replace=False) for _ in range(200)]
    sets = tiny + shared + background
    sig = _signatures(sets)
    sizes = np.array([s.size for s in sets])
    df = np.unique(np.concatenate(sets), return_counts=True)[1]
    null = view_null("timing", sig, sizes, df, PARAMS, np.random.default_rng(0))
    signatures, nulls = {"timing": sig}, {"timing": null}
    for members, supported in ((np.arange(10), False), (np.arange(10, 20), True)):
        i, j = np.triu_indices(members.size, 1)
        lift, mean, shared_tokens = _lifts(members[i], members[j], signatures, nulls)
        assert lift["timing"] >= PARAMS.view_lift  # both far above chance by Jaccard ...
        assert (_supporting(lift, mean, shared_tokens, PARAMS, nulls) == ["timing"]) is supported


def _switch_events() -> pl.LazyFrame:
    """Model b released on day 5: a fleet switches within hours, others over days or never."""
    start = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    rows = []
    for i in range(40):
        acc = f"fleet{i}" if i < 10 else f"user{i}"
        for day in range(10):
            ts = start + dt.timedelta(days=day, hours=10)
            switched = day >= 5 if i < 10 else (i % 3 == 0 and day >= 6 + i % 4)
            rows.append((ts, acc, "model-b" if switched else "model-a"))
    # an account that starts after the release is onboarding, not switching
    rows += [(start + dt.timedelta(days=6, hours=h), "late", "model-b") for h in range(3)]
    return pl.DataFrame(rows, schema=["ts", "account_id", "model"], orient="row").lazy()


def _switch_index() -> tuple[pl.LazyFrame, pl.Series, pl.DataFrame]:
    """The switch events, their sorted account ids and the (account_id, idx) index."""
    events = _switch_events()
    ids = events.select(pl.col("account_id").unique().sort()).collect().to_series()
    index = pl.DataFrame(
        {"account_id": ids, "idx": pl.arange(0, ids.len(), dtype=pl.UInt32, eager=True)}
    )
    return events, ids, index


def test_fleet_switch_matches_accounts_that_moved_in_the_same_day_after_release():
    events, ids, index = _switch_index()
    value, null = switch_evidence(events, index, PARAMS)
    at = dict(zip(ids.to_list(), value[:, 0].tolist(), strict=True))
    empty = np.iinfo(np.uint32).max
    assert {at[f"fleet{i}"] for i in range(10)} == {0}
    assert at["late"] == empty and at["user11"] == empty  # onboarding; never switched
    assert at["user12"] not in (0, empty)  # switched, days later
    windows = value[value[:, 0] != empty, 0]
    share = np.bincount(windows.astype(np.int64)) / ids.len()
    assert null.single_token and math.isclose(null.mean, float((share**2).sum()))


def test_logs_without_a_release_have_no_switch_evidence():
    events = _switch_events().with_columns(pl.lit("model-a").alias("model"))
    ids = events.select(pl.col("account_id").unique().sort()).collect().to_series()
    index = pl.DataFrame(
        {"account_id": ids, "idx": pl.arange(0, ids.len(), dtype=pl.UInt32, eager=True)}
    )
    assert switch_evidence(events, index, PARAMS) is None


def test_evaluate_members_equals_evaluate_on_the_store(clustered, tmp_path):
    store, result = clustered
    truth = tmp_path / "truth.csv"
    ids = pl.read_parquet(store.features_path)["account_id"]
    pl.DataFrame(
        {
            "account_id": ids,
            "ring_id": ids.str.extract(r"^(ra|rb)\d"),
            "kind": "benign",
        }
    ).write_csv(truth)
    assert evaluate_members(result.members, read_truth(truth)) == evaluate(store.root, truth)


def test_members_plainly_of_another_ring_move_there_and_one_view_is_not_enough():
    rng = np.random.default_rng(3)
    signatures = _two_operators_one_curriculum(rng)
    sizes = np.full(80, 1)
    nulls = {v: view_null(v, s, sizes, np.ones(1), PARAMS, rng) for v, s in signatures.items()}
    # accounts 0-39 are operator A, 40-79 operator B; three of B's sit in A's ring
    strays = np.array([45, 50, 55])
    ring_a = RingScore(0, np.append(np.arange(0, 40), strays), {}, {}, ["infra", "prompt"])
    ring_b = RingScore(1, np.setdiff1d(np.arange(40, 80), strays), {}, {}, ["infra", "prompt"])
    rings, moves = reassign_members([ring_a, ring_b], signatures, nulls, PARAMS)
    # the rule is conservative (no view may say "less alike" beyond noise), so not every
    # stray need move; those that move go to B, and A's own accounts stay
    assert moves.height >= 1
    assert set(moves["account"].to_list()) <= set(strays.tolist())
    assert set(moves["community"].to_list()) == {1}
    assert set(range(40)) <= set(rings[0].members.tolist())
    # on the curriculum alone (shared by both operators) nothing moves
    only_prompt = [dataclasses.replace(r, views=["prompt"]) for r in (ring_a, ring_b)]
    assert reassign_members(only_prompt, signatures, nulls, PARAMS)[1].height == 0


def _community_of_alike_accounts(n: int):
    """n accounts alike in prompts and infrastructure, one community, many distinct prompts
    from many networks, among 200 unrelated accounts (the population baseline)."""
    rng = np.random.default_rng(4)
    prompt = [rng.choice(np.arange(1, 101), 40, replace=False) for _ in range(n)]
    infra = [rng.choice(np.arange(1001, 1101), 30, replace=False) for _ in range(n)]
    prompt += [rng.choice(np.arange(10_000, 90_000), 40, replace=False) for _ in range(200)]
    infra += [rng.choice(np.arange(100_000, 190_000), 30, replace=False) for _ in range(200)]
    signatures = {"prompt": _signatures(prompt), "infra": _signatures(infra)}
    sizes = np.array([40] * (n + 200)), np.array([30] * (n + 200))
    nulls = {
        v: view_null(v, signatures[v], size, np.ones(1000), PARAMS, np.random.default_rng(0))
        for v, size in zip(("prompt", "infra"), sizes, strict=True)
    }
    a, b = np.triu_indices(n, 1)
    graph = pl.DataFrame({"a": a, "b": b, "weight": 1.0}).with_columns(
        pl.col("a", "b").cast(pl.UInt32)
    )
    assignment = pl.DataFrame({"account": np.arange(n, dtype=np.uint32), "community": 0})
    assignment = assignment.with_columns(pl.col("community").cast(pl.UInt32))
    requests = np.repeat(np.arange(n), 30)
    traffic = pl.DataFrame(
        {
            "account": requests.astype(np.uint32),
            "_ph": np.arange(requests.size, dtype=np.uint64),  # every prompt new
            "_has": True,
            "_net": (np.arange(requests.size) % 97).astype(np.uint64),  # many networks
            "_has_net": True,
        }
    )
    return assignment, graph, signatures, nulls, traffic


def test_a_declared_team_caught_in_a_ring_is_left_out_and_a_ring_of_one_org_is_not_reported():
    assignment, graph, signatures, nulls, traffic = _community_of_alike_accounts(40)
    org_of = np.full(240, -1)
    org_of[34:40] = 0  # six accounts of one declared organisation among 34 others
    scores, _ = score_communities(assignment, graph, signatures, nulls, org_of, traffic, PARAMS)
    assert scores[0].reported and set(scores[0].members.tolist()) == set(range(34))
    org_of[:30] = 0  # most of the ring declares the organisation: it is that customer
    scores, _ = score_communities(assignment, graph, signatures, nulls, org_of, traffic, PARAMS)
    assert not scores[0].reported and "declared organisation" in scores[0].reason


def test_a_few_accounts_switching_on_a_busy_day_are_no_surprise_but_a_fleet_is():
    events, ids, index = _switch_index()
    value, null = switch_evidence(events, index, PARAMS)
    fleet = index.filter(pl.col("account_id").str.starts_with("fleet"))["idx"].to_numpy()
    # 10 of 41 accounts switched on release day (q = 0.24): three of them together are
    # likely by chance, all ten are not
    assert single_token_tail(fleet[:3], value, null) > 1e-3
    assert single_token_tail(fleet, value, null) < 1e-5
