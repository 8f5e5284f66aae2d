"""Generate a hold-out dataset: distillation rings and benign look-alikes, with ground truth.

Independent of `forensics simulate`: written from the public threat description only (see
README.md). Writes DIR/events.jsonl (canonical events), DIR/accounts.csv and DIR/truth.csv.

    python benchmarks/holdout/generate.py --out /tmp/h --seed 1 --family mixed --scale 1
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import prompts as P
from traffic import DAY, HOUR, Built, Group, World, build, residential_ips, subnet_ips

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
FAMILIES = ("diverse_ops", "prompt_only", "infra_only", "slow_burn", "lookalikes", "mixed")


# ---------------------------------------------------------------- prompt sources


def ordinary(rng: np.random.Generator, n: int) -> pl.Series:
    """Ordinary users' prompts (5% ask for step-by-step reasoning)."""
    return P.benign_prompts(rng, n, cot_share=0.05)


def curriculum(
    rng: np.random.Generator,
    domains: list[str],
    size: int,
    paraphrase: bool,
    languages: tuple[str, ...] = ("en",),
) -> Callable[[np.random.Generator, int], pl.Series]:
    """A ring's prompt source: its own task dataset (drawn now) behind its wrappers."""
    items = P.dataset_items(rng, domains, size)
    k = int(rng.integers(2, 4))
    return lambda r, n: P.ring_prompts(r, domains, items, n, paraphrase, languages, k)


def eval_harness(items: pl.Series, rng: np.random.Generator, n: int) -> pl.Series:
    """A lab's evaluation harness: one benchmark, its own few-shot CoT format."""
    item = items.gather(rng.integers(0, len(items), n))
    return P.fill(P.pick(rng, P.HARNESS_TEMPLATES, n), {"ITEM": item})


def fixed_prompts(pool: list[str]) -> Callable[[np.random.Generator, int], pl.Series]:
    """The same few prompts, verbatim, again and again."""
    return lambda r, n: pl.Series(pool, dtype=pl.String).gather(r.integers(0, len(pool), n))


# ---------------------------------------------------------------- benign populations


def benign_groups(
    rng: np.random.Generator, world: World, scale: float, heavy: bool, with_prompts: bool = True
) -> list[Group | tuple[Group, Group]]:
    """Ordinary users plus look-alikes; `heavy` makes the look-alikes the bulk of it.

    A tuple is one population seen through two groups (the same accounts' personal traffic
    and their shared activity), merged by `generate`.
    """
    m = 3.0 if heavy else 1.0
    s = scale
    days = world.days
    pr = ordinary if with_prompts else None

    def n(x: float) -> int:
        return max(3, int(round(x * s)))

    groups: list = [
        Group(
            "benign",
            n(1800 if not heavy else 900),
            rate_median=1.2,
            rate_alpha=1.4,
            rate_cap=150,
            prompts=pr,
        )
    ]
    # Power users: researchers and students asking for step-by-step reasoning all day.
    groups.append(
        Group(
            "heavy_user",
            n(20 * m),
            rate_median=50,
            rate_sigma=0.5,
            profile="worker",
            session_len=25,
            gap_s=45,
            stay_share=(0.5, 1.0),
            api_share=0.9,
            long_outputs=True,
            prompts=(lambda r, k: P.benign_prompts(r, k, cot_share=0.7)) if with_prompts else None,
        )
    )
    # A campus NAT: many students behind a handful of addresses, one time zone.
    for _ in range(int(m)):
        nat = residential_ips(rng, int(rng.integers(2, 5)))
        groups.append(
            Group(
                "shared_nat",
                n(140),
                rate_median=1.5,
                rate_alpha=1.5,
                tz=float(rng.choice([-5, 1, 9])),
                ip="pool",
                ip_pool=nat,
                pool_share=0.9,
                api_share=0.2,
                prompts=pr,
                email=[
                    "gmail.com",
                    "outlook.com",
                    "student.univ-" + str(rng.integers(10, 99)) + ".edu",
                ],
            )
        )
    # A popular browser extension wrapping each user's own text in its fixed template.
    app_ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0.0.0 WordsmithExt/3.4.1"
    groups.append(
        Group(
            "prompt_app",
            n(220 * m),
            rate_median=2.0,
            rate_alpha=1.5,
            uas=[app_ua],
            endpoint_mix="chat",
            cover_share=0.2,
            cover_prompts=pr,
            prompts=(lambda r, k: P.template_prompts(r, P.APP_TEMPLATES, k))
            if with_prompts
            else None,
        )
    )
    # Enterprises: service accounts of one org behind its egress, on its product's template.
    for i in range(int(m)):
        egress = subnet_ips(rng, [f"52.14.{rng.integers(1, 250)}"], 4)
        groups.append(
            Group(
                "enterprise",
                n(45),
                rate_median=12,
                rate_sigma=0.6,
                profile="worker",
                tz=float(rng.choice([-5, 0, 1])),
                session_len=12,
                gap_s=20,
                join_spread=3,
                start_day=float(rng.uniform(0, 4)),
                ip="pool",
                ip_pool=egress,
                uas=["OpenAI/Python 1.45.0"],
                payment="org",
                org_id=f"org_ent{i}{rng.integers(99)}",
                created="batch",
                created_day=-40.0,
                email=[f"corp{rng.integers(100, 999)}.com"],
                models="fixed:orion-2-mini",
                endpoint_mix="chat",
                prompts=(lambda r, k: P.template_prompts(r, P.ENTERPRISE_TEMPLATES, k))
                if with_prompts
                else None,
            )
        )
    # One developer's CI jobs: a few accounts, one card, cron times, rotating cloud runners,
    # the same test prompts again and again.
    for _ in range(int(2 * m)):
        groups.append(
            Group(
                "ci_bots",
                n(4),
                rate_median=25,
                rate_sigma=0.3,
                timing="cron",
                cron_minutes=(0, 15, 30, 45),
                profile="worker",
                tz=float(rng.choice([-8, 1, 5.5])),
                join_spread=2,
                ip="ci",
                proxy_rotation_s=600,
                proxy_width=400,
                payment="org",
                uas=[f"python-requests/2.3{rng.integers(0, 3)}.0"],
                prompts=fixed_prompts(P.CI_PROMPTS) if with_prompts else None,
            )
        )
    # Consumers behind a commercial VPN: their exits are the same proxy network rings rent.
    groups.append(
        Group(
            "vpn_user",
            n(90 * m),
            rate_median=1.5,
            rate_alpha=1.5,
            ip="proxy",
            proxy_share=0.85,
            proxy_width=300,
            prompts=pr,
        )
    )
    # A research lab running an eval harness on one benchmark from several accounts.
    for i in range(int(m)):
        lab = subnet_ips(rng, [f"128.{rng.integers(2, 250)}.{rng.integers(1, 250)}"], 3)
        benchmark = P.dataset_items(rng, ["cot_math"], 400)
        harness = partial(eval_harness, benchmark)
        groups.append(
            Group(
                "research_lab",
                n(10),
                rate_median=45,
                rate_sigma=0.7,
                profile="worker",
                tz=float(rng.choice([-5, 0, 8])),
                session_len=40,
                gap_s=6,
                ip="pool",
                ip_pool=lab,
                api_share=1.0,
                payment="org",
                org_id=f"org_lab{i}{rng.integers(99)}",
                email=[f"cs.univ-{rng.integers(10, 99)}.edu"],
                created="batch",
                created_day=-200,
                long_outputs=True,
                cover_share=0.3,
                cover_prompts=pr,
                prompts=harness if with_prompts else None,
            )
        )
    # A class: signed up together, and every student pastes the same homework in class.
    for _ in range(int(m)):
        tz = float(rng.choice([-5, 1, 9]))
        campus = residential_ips(rng, 3)
        homework = [
            f"Homework {rng.integers(1, 9)}, question {q}: {text}"
            for q, text in enumerate(P.dataset_items(rng, ["cot_science"], 6).to_list(), 1)
        ]
        meet = [((d + 10 / 24 - tz / 24) * DAY, 1.5 * HOUR) for d in range(1, days, 7)] + [
            ((d + 14 / 24 - tz / 24) * DAY, 1.5 * HOUR) for d in range(3, days, 7)
        ]
        base = Group(
            "classroom",
            n(35),
            rate_median=1.0,
            rate_alpha=1.5,
            tz=tz,
            ip="pool",
            ip_pool=campus,
            pool_share=0.3,
            created="batch",
            created_day=-5,
            email=[f"student.univ-{rng.integers(10, 99)}.edu"],
            prompts=pr,
        )
        in_class = replace(
            base,
            timing="slots",
            slots=meet,
            rate_median=1.2,
            rate_sigma=0.4,
            rate_alpha=None,
            pool_share=1.0,
            prompts=(
                lambda r, k, hw=homework: (
                    fixed_prompts(hw)(r, k)
                    + pl.Series(np.where(r.random(k) < 0.5, "", " i dont get it"))
                )
            )
            if with_prompts
            else None,
        )
        groups.append((base, in_class))
    # A hackathon: seventy sign-ups in one morning, one venue network, 36 busy hours.
    for _ in range(int(m)):
        day = float(rng.integers(2, days - 3))
        venue = residential_ips(rng, 3)
        groups.append(
            Group(
                "hackathon",
                n(70),
                rate_median=30,
                rate_sigma=0.8,
                start_day=day,
                end_day=day + 1.5,
                join_spread=0.2,
                tz=float(rng.choice([-8, 1])),
                ip="pool",
                ip_pool=venue,
                pool_share=0.8,
                api_share=0.8,
                created="batch",
                created_day=day - 0.3,
                prompts=pr,
            )
        )
    return groups


# ---------------------------------------------------------------- rings


def _ring(rid: str, n: int, **kw) -> Group:
    defaults = dict(
        kind="ring",
        ring_id=rid,
        n=n,
        rate_sigma=0.35,
        long_outputs=True,
        endpoint_mix="chat",
        error_share=0.015,
        created="burst",
        email=["gmail.com", "outlook.com", "proton.me", "hotmail.com"],
    )
    defaults.update(kw)
    return Group(**defaults)


def diverse_ops(rng: np.random.Generator, world: World, s: float, tag: str = "D") -> list[Group]:
    """Six operators of very different size, each with its own tactics."""
    d = world.days
    sdk = ["OpenAI/Python 1.40.0", "OpenAI/Python 1.41.1", "OpenAI/Python 1.39.0"]

    def n(x: float) -> int:
        return max(5, int(round(x * s)))

    return [
        # A boutique scraper: five accounts, one card, two VPS addresses, 24/7.
        _ring(
            f"{tag}1",
            n(5),
            rate_median=55,
            timing="uniform",
            start_day=2,
            join_spread=1,
            ip="pool",
            ip_pool=subnet_ips(rng, ["167.99.41"], 2),
            uas=sdk[:1],
            payment="shared:5",
            email=[f"mx{rng.integers(100, 999)}.xyz"],
            prompts=curriculum(rng, ["cot_math"], 800, False),
        ),
        # An office team working the accounts by hand in office hours, grading answers.
        _ring(
            f"{tag}2",
            n(14),
            rate_median=35,
            profile="worker",
            tz=8.0,
            session_len=15,
            gap_s=30,
            start_day=d * 0.2,
            join_spread=2,
            ip="pool",
            ip_pool=residential_ips(rng, 5),
            payment="shared:7",
            models="switch",
            api_share=0.2,
            prompts=curriculum(rng, ["rubric_grading"], 1500, False),
        ),
        # A scheduler behind rotating residential proxies, coding-agent and tool-use data.
        _ring(
            f"{tag}3",
            n(40),
            rate_median=26,
            timing="windows",
            windows_per_day=4,
            start_day=d * 0.3,
            join_spread=3,
            ip="proxy",
            proxy_width=60,
            uas=sdk,
            ua_rotate=True,
            cover_share=0.15,
            cover_prompts=ordinary,
            models="switch",
            prompts=curriculum(rng, ["agentic_coding", "tool_use"], 3000, False),
        ),
        # Aged accounts shaped like people: own zones, sticky home-like exits, paraphrases.
        _ring(
            f"{tag}4",
            n(120),
            rate_median=18,
            rate_sigma=0.6,
            start_day=d * 0.25,
            join_spread=4,
            created="aged",
            cover_share=0.2,
            cover_prompts=ordinary,
            prompts=curriculum(rng, ["cot_science", "cot_math"], 4000, True, ("en", "es")),
        ),
        # A VPS fleet on one SDK, batch jobs in shared windows, shared cards.
        _ring(
            f"{tag}5",
            n(300),
            rate_median=10,
            timing="windows",
            windows_per_day=2,
            window_minutes=(60, 240),
            start_day=d * 0.4,
            join_spread=2,
            ip="pool",
            ip_pool=subnet_ips(rng, ["159.65", "104.248"], 120),
            uas=sdk[:1],
            payment="shared:20",
            models="switch",
            prompts=curriculum(rng, ["cot_math", "rubric_grading"], 6000, False),
        ),
        # The hydra: hundreds of accounts through a commercial proxy network, human-paced
        # in the operator's zone, clients copied from the population, mixed traffic.
        _ring(
            f"{tag}6",
            n(600),
            rate_median=7,
            rate_sigma=0.5,
            tz=8.0,
            session_len=6,
            gap_s=120,
            start_day=d * 0.3,
            join_spread=5,
            ip="proxy",
            proxy_width=250,
            proxy_share=0.95,
            cover_share=0.1,
            cover_prompts=ordinary,
            models="switch",
            prompts=curriculum(
                rng, ["cot_math", "agentic_coding", "tool_use", "rubric_grading"], 8000, False
            ),
        ),
    ]


def prompt_only(rng: np.random.Generator, world: World, s: float, tag: str = "P") -> list[Group]:
    """Rings that share only a curriculum: every account its own home IP, zone, client and
    card, paraphrased multilingual prompts, human pacing."""
    out = []
    plan = [
        (25, ["cot_math"], ("en", "zh")),
        (80, ["rubric_grading", "cot_science"], ("en", "es", "de")),
        (250, ["agentic_coding", "tool_use"], ("en", "fr", "zh")),
    ]
    for i, (size, domains, langs) in enumerate(plan, 1):
        out.append(
            _ring(
                f"{tag}{i}",
                max(5, int(round(size * s))),
                rate_median=20,
                rate_sigma=0.5,
                start_day=float(rng.uniform(0, world.days * 0.3)),
                join_spread=6,
                created="spread",
                email=None,
                api_share=0.6,
                session_len=5,
                gap_s=100,
                cover_share=0.1,
                cover_prompts=ordinary,
                prompts=curriculum(rng, domains, 2500 * (i + 1), True, langs),
            )
        )
    return out


def infra_only(rng: np.random.Generator, world: World, s: float, tag: str = "I") -> list[Group]:
    """Rings seen through infrastructure and timing only (no prompt text is logged)."""
    sizes = [30, 150, 400]
    out = []
    for i, size in enumerate(sizes, 1):
        out.append(
            _ring(
                f"{tag}{i}",
                max(5, int(round(size * s))),
                rate_median=14,
                timing="windows",
                windows_per_day=float(rng.uniform(2, 5)),
                window_minutes=(30, 180),
                start_day=float(rng.uniform(0, world.days * 0.3)),
                join_spread=4,
                ip="proxy",
                proxy_width=int(40 + size // 3),
                created="aged" if i % 2 else "spread",
                models="switch" if i != 1 else "user",
                prompts=None,
            )
        )
    return out


def slow_burn(rng: np.random.Generator, world: World, s: float, tag: str = "S") -> list[Group]:
    """A few requests per account per day over weeks, from accounts aged for months."""
    d = world.days
    return [
        _ring(
            f"{tag}1",
            max(5, int(round(40 * s))),
            rate_median=4,
            rate_sigma=0.3,
            join_spread=d * 0.3,
            created="aged",
            tz=-5.0,
            session_len=2,
            ip="proxy",
            proxy_width=80,
            prompts=curriculum(rng, ["cot_math"], 3000, False),
        ),
        _ring(
            f"{tag}2",
            max(5, int(round(150 * s))),
            rate_median=5,
            rate_sigma=0.4,
            join_spread=d * 0.3,
            created="aged",
            timing="windows",
            windows_per_day=1,
            window_minutes=(60, 120),
            ip="proxy",
            proxy_width=120,
            models="switch",
            prompts=curriculum(rng, ["rubric_grading", "cot_science"], 5000, True, ("en", "de")),
        ),
        _ring(
            f"{tag}3",
            max(5, int(round(400 * s))),
            rate_median=3.5,
            rate_sigma=0.5,
            join_spread=d * 0.4,
            created="aged",
            session_len=3,
            cover_share=0.15,
            cover_prompts=ordinary,
            prompts=curriculum(rng, ["agentic_coding", "cot_math"], 8000, True, ("en", "fr")),
        ),
    ]


def family_groups(rng: np.random.Generator, family: str, scale: float, world: World) -> list:
    if family == "diverse_ops":
        return diverse_ops(rng, world, scale) + benign_groups(rng, world, scale, False)
    if family == "prompt_only":
        return prompt_only(rng, world, scale) + benign_groups(rng, world, scale, False)
    if family == "infra_only":
        return infra_only(rng, world, scale) + benign_groups(rng, world, scale, False, False)
    if family == "slow_burn":
        return slow_burn(rng, world, scale) + benign_groups(rng, world, scale * 0.6, False)
    if family == "lookalikes":
        return benign_groups(rng, world, scale, True)
    if family == "mixed":
        part = scale * 0.4  # every family's rings, smaller, in one population
        return (
            diverse_ops(rng, world, part)
            + prompt_only(rng, world, part)
            + infra_only(rng, world, part)
            + slow_burn(rng, world, part)
            + benign_groups(rng, world, scale * 0.75, True)
        )
    raise SystemExit(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")


def make_world(rng: np.random.Generator, family: str, seed: int) -> World:
    days = 70 if family == "slow_burn" else 28
    return World(
        days=days,
        seed=seed,
        release_day=float(round(days * 0.6)) + 0.7,
        proxy_exits=residential_ips(rng, 3000, 0.0),
        ci_exits=subnet_ips(rng, ["20.42", "40.84", "13.64", "4.148"], 800),
    )


# ---------------------------------------------------------------- assembly and output


def assemble(
    rng: np.random.Generator, built: list[tuple[Group, Built]]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Global random account ids, events in time order, accounts and truth frames."""
    accounts, events, truth = [], [], []
    offset = 0
    for g, b in built:
        accounts.append(b.accounts.with_columns(pl.col("acct") + offset))
        events.append(b.events.with_columns(pl.col("acct") + offset))
        truth.append(
            pl.DataFrame(
                {
                    "acct": np.arange(g.n) + offset,
                    "ring_id": [g.ring_id] * g.n,
                    "kind": [g.kind] * g.n,
                },
                schema={"acct": pl.Int64, "ring_id": pl.String, "kind": pl.String},
            )
        )
        offset += g.n
    acc = pl.concat(accounts, how="vertical_relaxed")
    ev = pl.concat(events, how="vertical_relaxed")
    tr = pl.concat(truth)
    # Ids reveal nothing: random, and assigned in a shuffled order.
    ids = pl.Series(
        np.char.add("acct_", np.char.mod("%010x", rng.choice(2**40, size=offset, replace=False)))
    )
    lookup = pl.DataFrame({"acct": np.arange(offset), "account_id": ids})
    seen = ev.select(pl.col("acct").unique())
    acc = acc.join(seen, on="acct").join(lookup, on="acct")
    tr = tr.join(seen, on="acct").join(lookup, on="acct")
    start_us = int(START.timestamp() * 1_000_000)
    ev = (
        ev.join(lookup, on="acct")
        .sort("t")
        .with_columns(
            pl.from_epoch(pl.col("t").mul(1e6).cast(pl.Int64) + start_us, time_unit="us")
            .dt.replace_time_zone("UTC")
            .alias("ts"),
            pl.concat_str(
                [
                    pl.lit("req_"),
                    pl.Series(
                        np.char.mod("%016x", rng.integers(0, 2**62, ev.height, dtype=np.int64))
                    ),
                ]
            ).alias("request_id"),
        )
    )
    acc = acc.with_columns(
        pl.from_epoch(pl.col("created_t").mul(1e6).cast(pl.Int64) + start_us, time_unit="us")
        .dt.replace_time_zone("UTC")
        .alias("created_at")
    )
    return ev, acc, tr


def write(out: Path, ev: pl.DataFrame, acc: pl.DataFrame, tr: pl.DataFrame) -> None:
    out.mkdir(parents=True, exist_ok=True)
    iso = "%Y-%m-%dT%H:%M:%S%.3fZ"
    ev.select(
        pl.col("ts").dt.strftime(iso),
        "account_id",
        "api_key_id",
        "request_id",
        "src_ip",
        "user_agent",
        "method",
        "endpoint",
        "status",
        "model",
        "input_tokens",
        "output_tokens",
        "latency_ms",
        "prompt",
    ).write_ndjson(out / "events.jsonl")
    acc.sort("account_id").select(
        pl.col("account_id"),
        pl.col("created_at").dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "email_domain",
        "payment_fingerprint",
        "country",
        "org_id",
    ).write_csv(out / "accounts.csv")
    tr.sort("account_id").select("account_id", "ring_id", "kind").write_csv(out / "truth.csv")


def generate(out: Path, seed: int, family: str = "mixed", scale: float = 1.0) -> dict:
    """Write one dataset; return a summary (accounts, events, rings, seconds)."""
    t0 = time.perf_counter()
    rng = np.random.default_rng([seed, FAMILIES.index(family) if family in FAMILIES else 99])
    world = make_world(rng, family, seed)
    built = []
    for item in family_groups(rng, family, scale, world):
        if isinstance(item, tuple):  # one population, two behaviours: merge the events
            base, extra = item
            a, b = build(rng, base, world), build(rng, extra, world)
            built.append((base, Built(a.accounts, pl.concat([a.events, b.events]))))
        else:
            built.append((item, build(rng, item, world)))
    ev, acc, tr = assemble(rng, built)
    write(out, ev, acc, tr)
    rings = tr.filter(pl.col("kind") == "ring")
    return {
        "family": family,
        "seed": seed,
        "scale": scale,
        "accounts": tr.height,
        "events": ev.height,
        "ring_accounts": rings.height,
        "rings": rings["ring_id"].n_unique(),
        "seconds": round(time.perf_counter() - t0, 2),
        "kinds": dict(tr.group_by("kind").len().sort("kind").iter_rows()),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--family", default="mixed", choices=FAMILIES)
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies account counts")
    args = ap.parse_args(argv)
    summary = generate(args.out, args.seed, args.family, args.scale)
    print(summary, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
