"""Scenario definitions: who is in the population and how hard each ring tries to hide.

Every evasion is a knob on ``RingSpec``; every look-alike is a group size on ``Scenario``.
``--scale`` multiplies every account count (benign, look-alike groups, rings).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from forensics.errors import ForensicsError


@dataclass(frozen=True)
class RingSpec:
    """One operator's fleet. Defaults are the careful operator of the `evasive` scenario."""

    accounts: int
    rate: float = 26.0  # mean requests per account per active day
    rate_sigma: float = 0.45  # log-normal spread of per-account volume
    p_active: float = 0.93  # share of days an account runs
    # Infrastructure.
    pool_per_account: float = 1.5  # proxy exits in the ring's pool per account
    datacenter_share: float = 0.25  # share of the pool that is datacenter exits
    shared_exit_share: float = (
        0.15  # share of residential exits drawn from the global proxy network
    )
    static_exit: bool = False  # one dedicated static residential exit per account (no pool)
    sticky_exits: float = 5.0  # mean exits an account uses a day (time-contiguous sticky sessions)
    ua_mimicry: float = 1.0  # share of accounts with a benign-distributed SDK user agent
    # Timing.
    pacing: str = "human"  # "flat" (uniform in the window) or "human" (per-account daily bump)
    window_hours: tuple[float, float] = (14.0, 20.0)  # scheduler on-window length per day
    window_drift: float = 2.5  # hours the window start wanders day to day
    off_day_prob: float = 0.04  # whole-fleet pauses
    gap_prob: float = 0.4  # days with an off period inside the window
    # Content.
    camouflage: float = 0.15  # share of an account's requests that are ordinary benign prompts
    bank_size: int = 40  # templates in the ring's curriculum
    families: tuple[float, float, float, float, float] = (0.35, 0.2, 0.2, 0.15, 0.1)
    # Accounts.
    creation_waves: int = 6
    wave_spread_hours: float = 60.0
    aged_share: float = 0.15  # bought / aged accounts created long before the campaign
    payment_group: tuple[int, int] = (2, 6)  # accounts sharing one card
    payment_unique_share: float = 0.3  # accounts with a card of their own
    email_mix: tuple[float, float, float] = (0.35, 0.35, 0.3)  # disposable, patterned, free-mail
    # Models.
    switch_share: float = 0.5  # share of traffic moved to the new model
    switch_delay_hours: tuple[float, float] = (3.0, 22.0)
    churn: float = 0.1  # accounts retired (banned/abandoned) before the end
    start_spread_days: float = 0.3  # accounts join over this share of the scenario


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    days: int
    benign: int
    rings: tuple[RingSpec, ...]
    nat_groups: tuple[int, ...] = ()  # users behind each campus/company NAT
    app_groups: tuple[int, ...] = ()  # users of each popular prompt app
    enterprises: tuple[int, ...] = ()  # service accounts of each legitimate enterprise
    heavy_users: int = 0
    cot_share: float = 0.05  # benign users who ask step-by-step questions all day
    benign_rate: float = 1.0  # scales benign volume
    benign_on_proxy_share: float = 0.02  # benign homes that are also residential proxy exits
    vpn_share: float = 0.08  # benign users who sometimes use a commercial VPN
    release_day: int = 7  # day the new model is released
    incidents: int = 2  # provider outages (5xx spikes that hit every account at once)
    extra: dict = field(default_factory=dict)


def _blatant(accounts: int) -> RingSpec:
    return RingSpec(
        accounts=accounts,
        rate=40.0,
        rate_sigma=0.1,
        p_active=1.0,
        pool_per_account=0.1,
        datacenter_share=1.0,
        shared_exit_share=0.0,
        sticky_exits=1,
        ua_mimicry=0.0,
        pacing="flat",
        window_hours=(8.0, 8.0),
        window_drift=0.0,
        off_day_prob=0.0,
        gap_prob=0.0,
        camouflage=0.0,
        bank_size=6,
        creation_waves=1,
        wave_spread_hours=1.0,
        aged_share=0.0,
        payment_group=(5, 10),
        payment_unique_share=0.0,
        email_mix=(1.0, 0.0, 0.0),
        switch_share=0.9,
        switch_delay_hours=(1.0, 2.0),
        churn=0.0,
        start_spread_days=0.0,
    )


# The reported campaign: ~26 requests per account per day over all 44 days (28.8M requests
# from 25,000 accounts), so its fleets run nearly every day from the start.
FULL_TIME = {"rate": 30.0, "p_active": 0.95, "start_spread_days": 0.05, "churn": 0.03}

SCENARIOS: dict[str, Scenario] = {
    "smoke": Scenario(
        name="smoke",
        description="Small and blatant: two rings on one datacenter range, one tool UA, no camouflage.",
        days=5,
        benign=300,
        rings=(_blatant(40), _blatant(20)),
        nat_groups=(15,),
        app_groups=(15,),
        enterprises=(8,),
        heavy_users=3,
        release_day=2,
        incidents=0,
    ),
    "evasive": Scenario(
        name="evasive",
        description="Careful operators: every evasion knob on at a realistic level, some look-alikes.",
        days=14,
        benign=2400,
        rings=(
            RingSpec(accounts=300),
            RingSpec(accounts=150, families=(0.1, 0.45, 0.3, 0.1, 0.05), bank_size=30),
            RingSpec(
                accounts=80,
                families=(0.2, 0.1, 0.1, 0.3, 0.3),
                pacing="flat",
                window_hours=(20.0, 24.0),
            ),
            RingSpec(
                accounts=25, families=(0.5, 0.0, 0.3, 0.2, 0.0), bank_size=20, creation_waves=2
            ),
        ),
        nat_groups=(40, 25),
        app_groups=(60,),
        enterprises=(30,),
        heavy_users=8,
    ),
    "traps": Scenario(
        name="traps",
        description="Benign look-alikes heavy: NATs, prompt apps, enterprises, heavy and step-by-step users; two modest rings.",
        days=14,
        benign=1800,
        rings=(RingSpec(accounts=120), RingSpec(accounts=40, families=(0.1, 0.4, 0.4, 0.1, 0.0))),
        nat_groups=(120, 80, 40, 20),
        app_groups=(200, 120),
        enterprises=(60, 25, 10),
        heavy_users=25,
        cot_share=0.12,
        vpn_share=0.15,
        benign_on_proxy_share=0.05,
    ),
    "camouflage": Scenario(
        name="camouflage",
        description="Rings that hide in plain sight: half their traffic benign-looking, exits shared with other rings and with benign homes; one ring on static residential exits (no shared address) with aged, free-mail accounts.",
        days=14,
        benign=2400,
        rings=(
            RingSpec(accounts=250, camouflage=0.5, shared_exit_share=0.6, pool_per_account=3.0),
            RingSpec(
                accounts=120,
                camouflage=0.45,
                shared_exit_share=0.6,
                families=(0.15, 0.4, 0.3, 0.15, 0.0),
            ),
            RingSpec(
                accounts=60,
                camouflage=0.55,
                shared_exit_share=0.7,
                families=(0.3, 0.0, 0.2, 0.2, 0.3),
            ),
            RingSpec(
                accounts=80,
                camouflage=0.3,
                static_exit=True,
                aged_share=0.6,
                email_mix=(0.0, 0.2, 0.8),
                payment_unique_share=0.8,
                families=(0.4, 0.2, 0.2, 0.2, 0.0),
            ),
        ),
        nat_groups=(40,),
        app_groups=(60,),
        enterprises=(20,),
        heavy_users=10,
        vpn_share=0.15,
        benign_on_proxy_share=0.08,
    ),
    "campaign": Scenario(
        name="campaign",
        description="Full scale: 25,000 ring accounts in five rings (one 'hydra' of 20,000) and 200,000 benign accounts over 44 days.",
        days=44,
        benign=200_000,
        rings=(
            RingSpec(accounts=20_000, **FULL_TIME, pool_per_account=0.8, creation_waves=12),
            RingSpec(accounts=2_500, **FULL_TIME, families=(0.1, 0.45, 0.3, 0.1, 0.05)),
            RingSpec(
                accounts=1_500,
                **FULL_TIME,
                families=(0.25, 0.1, 0.15, 0.2, 0.3),
                pacing="flat",
                window_hours=(20.0, 24.0),
            ),
            RingSpec(
                accounts=700, **FULL_TIME, camouflage=0.35, families=(0.5, 0.0, 0.3, 0.2, 0.0)
            ),
            RingSpec(
                accounts=300, **FULL_TIME, families=(0.2, 0.3, 0.3, 0.1, 0.1), creation_waves=3
            ),
        ),
        nat_groups=(400, 250, 150, 80, 60, 40),
        app_groups=(1500, 800, 300),
        enterprises=(200, 80, 40, 20),
        heavy_users=150,
        release_day=21,
        incidents=4,
        benign_rate=0.5,
    ),
}


def get_scenario(name: str, scale: float) -> Scenario:
    """The named scenario with every account count multiplied by ``scale``."""
    if name not in SCENARIOS:
        raise ForensicsError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}")
    if not scale > 0:
        raise ForensicsError("--scale must be positive")
    base = SCENARIOS[name]

    def n(x: int, lo: int = 1) -> int:
        return max(lo, round(x * scale))

    return dataclasses.replace(
        base,
        benign=n(base.benign, 10),
        rings=tuple(dataclasses.replace(r, accounts=n(r.accounts, 5)) for r in base.rings),
        nat_groups=tuple(n(g, 3) for g in base.nat_groups),
        app_groups=tuple(n(g, 3) for g in base.app_groups),
        enterprises=tuple(n(g, 3) for g in base.enterprises),
        heavy_users=n(base.heavy_users) if base.heavy_users else 0,
    )
