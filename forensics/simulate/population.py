"""The population: one row per account, with every parameter its traffic is drawn from.

Built once per run (vectorised over accounts); `events.py` then draws each day's requests
from these arrays. Ring accounts, benign users and look-alikes live in the same arrays and
differ only in their parameters, so no field of the output gives the label away.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from forensics.simulate import prompts
from forensics.simulate.scenarios import Scenario
from forensics.simulate.vocab import (
    COMPANY_SUFFIX,
    COMPANY_WORDS,
    COUNTRIES,
    DISPOSABLE_MAIL,
    FREE_MAIL,
    FREE_MAIL_W,
    PATTERN_TLDS,
    PUBLIC_FIRST_OCTETS,
    TLDS,
    ua_table,
)

KINDS = ["benign", "shared_nat", "prompt_app", "enterprise", "heavy_user", "ring"]
BENIGN, NAT, APP, ENTERPRISE, HEAVY, RING = range(6)
# Category ids: the benign banks, then the per-account "special" block (app, enterprise,
# personal chain-of-thought habit, or ring curriculum).
N_BENIGN_CAT = len(prompts.BENIGN_CATEGORIES)
# IP modes.
HOME, MOBILE, SHARED, PROXY = range(4)
_ALPHABET = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)


def codes(values: np.ndarray, width: int) -> pl.Series:
    """Base-36 strings of ``width`` characters for non-negative integers (vectorised)."""
    values = np.asarray(values, dtype=np.uint64)
    powers = np.uint64(36) ** np.arange(width - 1, -1, -1, dtype=np.uint64)
    digits = (values[:, None] // powers[None, :]) % np.uint64(36)
    chars = _ALPHABET[digits.astype(np.int64)]
    return pl.Series(np.ascontiguousarray(chars).view(f"S{width}").ravel()).cast(pl.String)


def unique_ints(rng: np.random.Generator, n: int, high: int) -> np.ndarray:
    """``n`` distinct random integers below ``high``, in random order."""
    out = np.unique(rng.integers(0, high, size=int(n * 1.2) + 16))
    while len(out) < n:
        out = np.unique(np.r_[out, rng.integers(0, high, size=n)])
    return rng.permutation(out)[:n]


def hex_groups(groups: np.ndarray) -> pl.Series:
    """IPv6 text (eight lower-case hex groups, no leading zeros) from an (n, 8) int array."""
    n = groups.shape[0]
    hexes = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    digits = (groups.astype(np.int64)[:, :, None] >> np.array([12, 8, 4, 0])) & 0xF
    chars = np.ascontiguousarray(hexes[digits]).reshape(n * 8, 4)
    text = pl.Series(chars.view("S4").ravel()).cast(pl.String)
    text = text.str.strip_chars_start("0").replace("", "0")
    frame = pl.DataFrame({f"g{i}": text.gather_every(8, offset=i) for i in range(8)})
    return frame.select(
        pl.concat_str([pl.col(f"g{i}") for i in range(8)], separator=":")
    ).to_series()


def ipv4_strings(ips: np.ndarray) -> pl.Series:
    """Dotted quads for uint32 addresses."""
    ips = pl.Series(np.asarray(ips, dtype=np.int64))
    frame = pl.DataFrame({"ip": ips})
    return frame.select(
        pl.concat_str(
            [((pl.col("ip") // (1 << s)) % 256).cast(pl.String) for s in (24, 16, 8, 0)],
            separator=".",
        )
    ).to_series()


def random_slash16(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct public /16 prefixes as uint32 base addresses."""
    first = PUBLIC_FIRST_OCTETS[rng.integers(0, len(PUBLIC_FIRST_OCTETS), size=n * 2 + 8)]
    second = rng.integers(0, 256, size=len(first))
    bases = np.unique((first << 24) | (second << 16))
    return rng.permutation(bases)[:n].astype(np.int64)


def hosts_in(rng: np.random.Generator, bases: np.ndarray, n: int) -> np.ndarray:
    """``n`` host addresses spread over the given /16 bases."""
    base = bases[rng.integers(0, len(bases), size=n)]
    return base | (rng.integers(0, 256, size=n) << 8) | rng.integers(1, 255, size=n)


@dataclass
class Population:
    """Per-account parameter arrays (index = account row) plus ring and group tables."""

    n: int
    kind: np.ndarray
    ring: np.ndarray  # ring number or -1
    group: np.ndarray  # look-alike group number or -1
    account_id: pl.Series
    api_key: pl.Series
    api_key2: pl.Series
    key2_share: np.ndarray
    tz: np.ndarray
    rate: np.ndarray
    p_active: np.ndarray
    weekend: np.ndarray  # multiplier of p_active on Saturday/Sunday
    start_day: np.ndarray
    end_day: np.ndarray
    peak1: np.ndarray
    sd1: np.ndarray
    peak2: np.ndarray
    sd2: np.ndarray
    w2: np.ndarray
    session_min: np.ndarray
    ua_main: np.ndarray
    ua_alt: np.ndarray
    alt_share: np.ndarray
    ip_mode: np.ndarray
    home_ips: np.ndarray  # (n, 3)
    home_w: np.ndarray  # (n, 3) cumulative
    carrier: np.ndarray  # index into carrier /16 table
    carrier_v6: np.ndarray  # (carriers, 2) the carrier's IPv6 /32
    ipv6: np.ndarray  # account reaches the API over IPv6 (home or mobile)
    v6_home: np.ndarray  # (n, 4) the home line's /64
    shared_ips: np.ndarray  # (n, 3) NAT / enterprise egress addresses
    vpn_share: np.ndarray
    cat_cum: np.ndarray  # (n, N_BENIGN_CAT) cumulative category probabilities
    special_off: np.ndarray  # first template of the account's special block
    special_len: np.ndarray
    special_share: np.ndarray
    cot_open: pl.Series  # bound slots of the personal chain-of-thought template
    cot_close: pl.Series
    special_skew: np.ndarray  # >1 favours the first templates of the block (Zipf-like)
    main_model: np.ndarray
    second_model: np.ndarray
    second_share: np.ndarray
    adopt_hour: np.ndarray  # hours since scenario start when the account starts using NEW
    adopt_share: np.ndarray
    embed_share: np.ndarray
    p429: np.ndarray
    center: np.ndarray  # ring accounts: position of their daily bump in the ring window
    spread: np.ndarray
    pacing_flat: np.ndarray
    exits_per_day: np.ndarray  # ring accounts: mean sticky proxy sessions (exits) a day
    # Tables.
    templates: list[str]
    template_cat: np.ndarray  # output-token class per template
    ua_strings: np.ndarray
    ua_anthropic: np.ndarray
    carriers: np.ndarray  # /16 bases of mobile carriers, (n_carriers, 3)
    ring_pool_off: np.ndarray
    ring_pool_len: np.ndarray
    ring_pool: np.ndarray  # concatenated exits of every ring
    vpn_pool: np.ndarray
    win_start: np.ndarray  # (rings, days) hour of day (UTC) the scheduler starts
    win_len: np.ndarray  # (rings, days) hours on
    ring_off: np.ndarray  # (rings, days) bool: fleet paused
    gap_start: np.ndarray  # (rings, days) start of an in-window pause, as a share of the window
    gap_len: np.ndarray  # (rings, days) its length (0: no pause)
    accounts: pl.DataFrame  # accounts.csv
    truth: pl.DataFrame  # truth.csv


# Output-token classes (log-normal median tokens) by category.
OUT_CLASS_MEDIAN = np.array([380, 420, 90, 260, 130, 650, 300, 350, 70, 650, 820], dtype=float)
APP_CLASS, ENT_CLASS, PERSONAL_CLASS, RING_CLASS = 7, 8, 9, 10


def build(sc: Scenario, rng: np.random.Generator, start_ts: float) -> Population:
    """Draw every account of the scenario (``start_ts``: scenario start, epoch seconds)."""
    days = sc.days
    ring_sizes = [r.accounts for r in sc.rings]
    sizes = {
        BENIGN: sc.benign,
        NAT: sum(sc.nat_groups),
        APP: sum(sc.app_groups),
        ENTERPRISE: sum(sc.enterprises),
        HEAVY: sc.heavy_users,
        RING: sum(ring_sizes),
    }
    kind = np.concatenate([np.full(v, k, dtype=np.int8) for k, v in sizes.items()])
    n = len(kind)
    ring = np.full(n, -1, dtype=np.int64)
    ring[kind == RING] = np.repeat(np.arange(len(ring_sizes)), ring_sizes)
    group = np.full(n, -1, dtype=np.int64)
    for k, groups in ((NAT, sc.nat_groups), (APP, sc.app_groups), (ENTERPRISE, sc.enterprises)):
        group[kind == k] = np.repeat(np.arange(len(groups)), groups)
    is_ring = kind == RING
    ring_idx = np.flatnonzero(is_ring)

    def ring_param(name: str) -> np.ndarray:
        return np.array([getattr(s, name) for s in sc.rings], dtype=float)[ring[ring_idx]]

    def ring_param_all(name: str) -> np.ndarray:
        """The ring knob for every account (0 for accounts outside rings)."""
        values = np.r_[np.array([getattr(s, name) for s in sc.rings], dtype=float), 0.0]
        return values[ring]  # ring == -1 picks the trailing 0

    ids = unique_ints(rng, n, 36**12)
    account_id = "u_" + codes(ids, 12)
    api_key = "key_" + codes(rng.integers(0, 36**10, size=n), 10)
    api_key2 = "key_" + codes(rng.integers(0, 36**10, size=n), 10)
    key2_share = np.where(rng.random(n) < 0.2, rng.uniform(0.1, 0.5, n), 0.0)
    key2_share[is_ring] = 0.0

    # Geography: each benign user lives in a time zone; NAT/enterprise groups share one.
    cw = np.array([c[2] for c in COUNTRIES])
    home_country = rng.choice(len(COUNTRIES), size=n, p=cw / cw.sum())
    for k, g_sizes in ((NAT, sc.nat_groups), (ENTERPRISE, sc.enterprises)):
        g_country = rng.choice(len(COUNTRIES), size=len(g_sizes), p=cw / cw.sum())
        mask = kind == k
        home_country[mask] = g_country[group[mask]]
    tz = np.array([c[1] for c in COUNTRIES], dtype=float)[home_country]
    country = np.array([c[0] for c in COUNTRIES], dtype=object)[home_country]

    # Activity: power law. Most users are light and occasional, a few are heavy.
    rate = np.minimum((rng.pareto(1.6, n) + 1.0) * 1.5, 150.0) * sc.benign_rate
    p_active = np.clip(rng.beta(0.9, 2.2, n) + 0.05, 0.03, 1.0)
    weekend = np.clip(rng.lognormal(-0.5, 0.5, n), 0.05, 2.0)
    heavy = kind == HEAVY
    rate[heavy] = np.minimum(rng.lognormal(np.log(220), 0.6, heavy.sum()), 1500)
    p_active[heavy] = rng.uniform(0.75, 1.0, heavy.sum())
    ent = kind == ENTERPRISE
    rate[ent] = rng.uniform(20, 80, ent.sum())
    p_active[ent] = rng.uniform(0.85, 1.0, ent.sum())
    weekend[ent] = rng.uniform(0.6, 1.0, ent.sum())
    rate[is_ring] = ring_param("rate") * rng.lognormal(0, 1, len(ring_idx)) ** ring_param(
        "rate_sigma"
    )
    rate[is_ring] /= np.exp(ring_param("rate_sigma") ** 2 / 2)  # keep the mean at `rate`
    p_active[is_ring] = ring_param("p_active")
    weekend[is_ring] = 1.0

    # Lifetime: benign accounts mostly pre-date the scenario; some sign up during it.
    created = start_ts - rng.exponential(400 * 86400, n)
    new_benign = (~is_ring) & (rng.random(n) < 0.07)
    created[new_benign] = start_ts + rng.uniform(0, days * 86400, new_benign.sum())
    start_day = np.ceil(np.maximum(0.0, (created - start_ts) / 86400)).astype(np.int64)
    end_day = np.full(n, days - 1, dtype=np.int64)
    # Rings: creation waves, a share of aged accounts, staggered starts, churn.
    for r, spec in enumerate(sc.rings):
        members = np.flatnonzero(ring == r)
        m = len(members)
        waves = (
            start_ts
            + rng.uniform(-20, days * spec.start_spread_days + 0.5, spec.creation_waves) * 86400
        )
        wave = rng.integers(0, spec.creation_waves, m)
        c = waves[wave] + rng.exponential(spec.wave_spread_hours * 3600 / 3, m)
        aged = rng.random(m) < spec.aged_share
        c[aged] = start_ts - rng.uniform(60, 900, aged.sum()) * 86400
        created[members] = c
        first = np.maximum(c, start_ts) + rng.exponential(6 * 3600, m) * (
            spec.start_spread_days > 0
        )
        start_day[members] = np.ceil((first - start_ts) / 86400).astype(np.int64)
        churned = rng.random(m) < spec.churn
        end_day[members[churned]] = start_day[members[churned]] + rng.integers(
            3, max(4, days), churned.sum()
        )
    end_day = np.minimum(end_day, days - 1)

    # Diurnal profile in local time: a main peak and a second one (evening / late night).
    peak1 = rng.normal(14.0, 2.5, n)
    sd1 = rng.uniform(1.5, 3.5, n)
    peak2 = rng.normal(21.0, 1.5, n)
    sd2 = rng.uniform(1.0, 2.5, n)
    w2 = rng.beta(2, 4, n)
    owls = rng.random(n) < 0.1
    peak1[owls] += 8
    peak1[ent], sd1[ent] = rng.normal(2.5, 0.3, ent.sum()), 0.6  # nightly batch jobs
    peak2[ent], sd2[ent], w2[ent] = 13.0, 2.5, 0.45  # and office hours
    session_min = rng.uniform(8, 60, n)
    session_min[heavy] = rng.uniform(60, 240, heavy.sum())
    session_min[ent] = 90

    # User agents: one main client, sometimes a second (browser, curl while debugging).
    ua_strings, ua_w, ua_anthropic = ua_table()
    ua_main = rng.choice(len(ua_strings), size=n, p=ua_w)
    ua_alt = rng.choice(len(ua_strings), size=n, p=ua_w)
    alt_share = np.where(rng.random(n) < 0.25, rng.uniform(0.02, 0.3, n), 0.0)
    for g in range(len(sc.app_groups)):
        # The app's backend calls the API with its own client string, once per user account.
        mask = (kind == APP) & (group == g)
        app_ua = np.array(
            [
                f"{['Quillify', 'StudyBuddy'][g % 2]}/{3 + g}.{g * 3 % 10}.1 (+https://app.example/{g}) OpenAI/JS 4.69.0"
            ],
            dtype=object,
        )
        ua_strings = np.r_[ua_strings, app_ua]
        ua_anthropic = np.r_[ua_anthropic, False]
        ua_main[mask] = len(ua_strings) - 1
        alt_share[mask] = 0.0
    for g in range(len(sc.enterprises)):
        mask = (kind == ENTERPRISE) & (group == g)
        ent_ua = np.array(
            [f"{COMPANY_WORDS[g % len(COMPANY_WORDS)]}-batch/2.{g}.4 python-httpx/0.27.0"],
            dtype=object,
        )
        ua_strings = np.r_[ua_strings, ent_ua]
        ua_anthropic = np.r_[ua_anthropic, False]
        ua_main[mask] = len(ua_strings) - 1
        alt_share[mask] = 0.0
    # Rings: mimic the benign client distribution, or (knob off) one tool per ring.
    mimic = rng.random(len(ring_idx)) < ring_param("ua_mimicry")
    ring_tool = len(ua_strings) + ring[ring_idx]
    tools = np.array(
        [f"python-requests/2.{31 - r % 3}.0" for r in range(len(sc.rings))], dtype=object
    )
    ua_strings = np.r_[ua_strings, tools]
    ua_anthropic = np.r_[ua_anthropic, np.zeros(len(tools), dtype=bool)]
    ua_main[ring_idx] = np.where(mimic, ua_main[ring_idx], ring_tool)
    alt_share[ring_idx] = 0.0

    # Addresses.
    n_res16 = max(60, n // 40)
    residential = random_slash16(rng, n_res16 + 60 + 80)
    res16, carrier16, dc16 = (
        residential[:n_res16],
        residential[n_res16 : n_res16 + 60],
        residential[n_res16 + 60 :],
    )
    carriers = carrier16.reshape(20, 3)
    proxy_network = hosts_in(rng, res16, max(2000, int(sum(ring_sizes) * 1.2)))
    vpn_pool = hosts_in(rng, dc16[:20], 400)

    ip_mode = np.where(rng.random(n) < 0.22, MOBILE, HOME).astype(np.int8)
    ip_mode[(kind == NAT) | ent] = SHARED
    ip_mode[is_ring] = PROXY
    home_ips = hosts_in(rng, res16, n * 3).reshape(n, 3)
    on_proxy = (~is_ring) & (rng.random(n) < sc.benign_on_proxy_share)
    home_ips[on_proxy, 0] = proxy_network[rng.integers(0, len(proxy_network), on_proxy.sum())]
    n_homes = rng.choice([1, 2, 3], size=n, p=[0.55, 0.33, 0.12])
    hw = np.array([[1.0, 0, 0], [0.75, 0.25, 0], [0.6, 0.25, 0.15]])[n_homes - 1]
    home_w = np.cumsum(hw, axis=1)
    # Static residential (ISP) proxies: one dedicated exit per account for its whole life,
    # indistinguishable from a home line; the ring then shares no address at all.
    static = is_ring & (ring_param_all("static_exit") > 0)
    ip_mode[static] = HOME
    home_w[static] = 1.0
    carrier = rng.integers(0, len(carriers), n)
    # IPv6: many mobile carriers and some home ISPs hand out IPv6 (a /64 per line, a new
    # interface id per session); VPNs and proxies here are IPv4.
    v6_firsts = np.array(
        [0x2A02, 0x2A01, 0x2600, 0x2607, 0x2001, 0x2A00, 0x2409, 0x2401, 0x2804, 0x2405]
    )
    carrier_v6 = np.c_[
        v6_firsts[rng.integers(0, len(v6_firsts), len(carriers))],
        rng.integers(0, 1 << 16, len(carriers)),
    ]
    ipv6 = ((ip_mode == MOBILE) & (rng.random(n) < 0.35)) | (
        (ip_mode == HOME) & (rng.random(n) < 0.12)
    )
    ipv6[is_ring] = False
    v6_home = np.c_[v6_firsts[rng.integers(0, len(v6_firsts), n)], rng.integers(0, 1 << 16, (n, 3))]
    shared_ips = np.zeros((n, 3), dtype=np.int64)
    for k, g_sizes, pool in ((NAT, sc.nat_groups, res16), (ENTERPRISE, sc.enterprises, dc16[20:])):
        for g in range(len(g_sizes)):
            mask = (kind == k) & (group == g)
            slash24 = hosts_in(rng, pool, 1)[0] & ~0xFF
            shared_ips[mask] = slash24 | rng.integers(1, 255, 3)
    vpn_share = np.where(rng.random(n) < sc.vpn_share, rng.uniform(0.05, 0.6, n), 0.0)
    vpn_share[is_ring | ent] = 0.0

    pools, offs, lens = [], [], []
    off = 0
    for r, spec in enumerate(sc.rings):
        size = max(4, int(round(spec.accounts * spec.pool_per_account)))
        n_dc = int(round(size * spec.datacenter_share))
        n_res = size - n_dc
        n_shared = int(round(n_res * spec.shared_exit_share))
        own16 = dc16[20 + 10 + (r * 7) % 40 : 20 + 10 + (r * 7) % 40 + max(1, 2 + r % 3)]
        # Datacenter exits: a few /24s inside the ring's hosting ranges (plus a shared VPN range).
        dc = hosts_in(rng, own16, n_dc)
        # Some datacenter exits are a commercial VPN's, which benign users also connect from.
        from_vpn = rng.random(n_dc) < 0.2
        dc[from_vpn] = vpn_pool[rng.integers(0, len(vpn_pool), int(from_vpn.sum()))]
        res = np.r_[
            proxy_network[rng.integers(0, len(proxy_network), n_shared)],
            hosts_in(rng, res16, n_res - n_shared),
        ]
        pool = np.r_[dc, res]
        pools.append(pool)
        offs.append(off)
        lens.append(len(pool))
        off += len(pool)
    ring_pool = np.concatenate(pools) if pools else np.zeros(0, dtype=np.int64)

    # Content.
    templates: list[str] = []
    template_cat: list[int] = []
    for c, name in enumerate(prompts.BENIGN_CATEGORIES):
        templates += prompts.BENIGN[name]
        template_cat += [c] * len(prompts.BENIGN[name])
    cat_probs = rng.dirichlet([1.6, 1.0, 0.5, 1.2, 0.8, 0.2, 0.25], size=n)
    special_off = np.zeros(n, dtype=np.int64)
    special_len = np.ones(n, dtype=np.int64)
    special_share = np.zeros(n)
    special_skew = np.ones(n)
    cot_users = (kind == BENIGN) & (rng.random(n) < sc.cot_share)
    cat_probs[cot_users] = rng.dirichlet([0.5, 0.2, 0.1, 0.5, 0.1, 6.0, 0.2], size=cot_users.sum())
    # Their personal habit is one shared template whose wording slots are bound per account.
    cot_open, cot_close = prompts.personal_cot_phrases(rng, n)
    special_off[cot_users] = len(templates)
    special_share[cot_users] = rng.uniform(0.3, 0.8, cot_users.sum())
    templates.append(prompts.PERSONAL_COT_TEMPLATE)
    template_cat.append(PERSONAL_CLASS)
    heavy_agents = heavy & (rng.random(n) < 0.6)
    cat_probs[heavy_agents] = rng.dirichlet(
        [2, 0.2, 0.1, 0.5, 0.1, 0.5, 6.0], size=heavy_agents.sum()
    )
    for g in range(len(sc.app_groups)):
        mask = (kind == APP) & (group == g)
        block = [
            prompts.APP_PREFIXES[g % len(prompts.APP_PREFIXES)] + b for b in prompts.APP_BODIES
        ]
        special_off[mask], special_len[mask], special_share[mask] = len(templates), len(block), 0.92
        templates += block
        template_cat += [APP_CLASS] * len(block)
    for g in range(len(sc.enterprises)):
        mask = (kind == ENTERPRISE) & (group == g)
        k = int(rng.integers(2, len(prompts.ENTERPRISE_BODIES) + 1))
        block = [
            prompts.ENTERPRISE_BODIES[i]
            for i in rng.choice(len(prompts.ENTERPRISE_BODIES), k, replace=False)
        ]
        special_off[mask], special_len[mask], special_share[mask] = len(templates), len(block), 0.97
        templates += block
        template_cat += [ENT_CLASS] * len(block)
    for r, spec in enumerate(sc.rings):
        mask = ring == r
        fam = np.array(spec.families, dtype=float)
        bank = prompts.ring_bank(rng, spec.bank_size, fam / fam.sum())
        special_off[mask], special_len[mask] = len(templates), len(bank)
        special_share[mask] = 1.0 - spec.camouflage
        special_skew[mask] = 1.6
        templates += bank
        template_cat += [RING_CLASS] * len(bank)
    cat_cum = np.cumsum(cat_probs, axis=1)

    # Models: a main and a second model; the new model is adopted gradually by benign users
    # and by each ring's fleet within a day of release.
    main_model = rng.choice(3, size=n, p=[0.45, 0.38, 0.17])
    second_model = rng.choice(3, size=n, p=[0.4, 0.4, 0.2])
    second_share = rng.uniform(0.0, 0.35, n)
    main_model[is_ring] = rng.choice(3, size=len(ring_idx), p=[0.05, 0.25, 0.7])
    release_h = sc.release_day * 24.0
    adopters = rng.random(n) < 0.45
    adopt_hour = np.where(
        adopters, release_h + rng.exponential(8 * 24, n) + rng.uniform(0, 24, n), np.inf
    )
    adopt_share = rng.uniform(0.2, 0.8, n)
    for r, spec in enumerate(sc.rings):
        mask = ring == r
        adopt_hour[mask] = release_h + rng.uniform(*spec.switch_delay_hours)
        adopt_share[mask] = spec.switch_share
    embed_share = np.where(rng.random(n) < 0.15, rng.uniform(0.05, 0.4, n), 0.0)
    embed_share[is_ring | (kind == APP)] = 0.0
    p429 = rng.uniform(0.002, 0.02, n)
    p429[heavy] = rng.uniform(0.03, 0.1, heavy.sum())
    p429[is_ring] = rng.uniform(0.001, 0.01, len(ring_idx))

    center = rng.uniform(0.1, 0.9, n)
    spread = rng.uniform(0.08, 0.25, n)
    pacing_flat = np.zeros(n, dtype=bool)
    pacing_flat[ring_idx] = np.array([s.pacing == "flat" for s in sc.rings])[ring[ring_idx]]
    exits_per_day = np.zeros(n)
    exits_per_day[ring_idx] = ring_param("sticky_exits")

    # Scheduler windows per ring and day.
    n_rings = len(sc.rings)
    win_start = np.zeros((n_rings, days))
    win_len = np.zeros((n_rings, days))
    ring_off = np.zeros((n_rings, days), dtype=bool)
    gap_start = np.zeros((n_rings, days))
    gap_len = np.zeros((n_rings, days))
    for r, spec in enumerate(sc.rings):
        base = rng.uniform(0, 24)
        win_start[r] = (
            base + rng.normal(0, spec.window_drift, days) if spec.window_drift else base
        ) % 24
        win_len[r] = rng.uniform(*spec.window_hours, days)
        ring_off[r] = rng.random(days) < spec.off_day_prob
        # An off period inside the window on some days (maintenance, account rotation).
        has_gap = rng.random(days) < spec.gap_prob
        gap_start[r] = np.where(has_gap, rng.uniform(0.2, 0.7, days), 2.0)
        gap_len[r] = np.where(has_gap, rng.uniform(0.05, 0.2, days), 0.0)

    accounts, truth = _records(sc, rng, kind, ring, group, account_id, created, country, n)
    return Population(
        n=n, kind=kind, ring=ring, group=group, account_id=account_id, api_key=api_key,
        api_key2=api_key2, key2_share=key2_share, tz=tz, rate=rate, p_active=p_active,
        weekend=weekend, start_day=start_day, end_day=end_day, peak1=peak1, sd1=sd1,
        peak2=peak2, sd2=sd2, w2=w2, session_min=session_min, ua_main=ua_main, ua_alt=ua_alt,
        alt_share=alt_share, ip_mode=ip_mode, home_ips=home_ips, home_w=home_w,
        carrier=carrier, carrier_v6=carrier_v6, ipv6=ipv6, v6_home=v6_home, shared_ips=shared_ips, vpn_share=vpn_share, cat_cum=cat_cum,
        special_off=special_off, special_len=special_len, special_share=special_share,
        special_skew=special_skew, cot_open=cot_open, cot_close=cot_close, main_model=main_model, second_model=second_model,
        second_share=second_share, adopt_hour=adopt_hour, adopt_share=adopt_share,
        embed_share=embed_share, p429=p429, center=center, spread=spread,
        pacing_flat=pacing_flat, exits_per_day=exits_per_day, templates=templates, template_cat=np.array(template_cat),
        ua_strings=ua_strings, ua_anthropic=ua_anthropic, carriers=carriers,
        ring_pool_off=np.array(offs, dtype=np.int64), ring_pool_len=np.array(lens, dtype=np.int64),
        ring_pool=ring_pool, vpn_pool=vpn_pool, win_start=win_start, win_len=win_len,
        ring_off=ring_off, gap_start=gap_start, gap_len=gap_len, accounts=accounts, truth=truth,
    )  # fmt: skip


def _records(
    sc: Scenario,
    rng: np.random.Generator,
    kind: np.ndarray,
    ring: np.ndarray,
    group: np.ndarray,
    account_id: pl.Series,
    created: np.ndarray,
    country: np.ndarray,
    n: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """accounts.csv (e-mail domain, card, country, org) and truth.csv."""
    is_ring = kind == RING
    fm = np.array(FREE_MAIL, dtype=object)
    email = fm[rng.choice(len(FREE_MAIL), size=n, p=np.array(FREE_MAIL_W) / sum(FREE_MAIL_W))]
    companies = np.array(
        [f"{a}{b}.{t}" for a in COMPANY_WORDS for b in COMPANY_SUFFIX for t in TLDS[:6]],
        dtype=object,
    )
    corporate = (kind == BENIGN) & (rng.random(n) < 0.3)
    email[corporate] = companies[rng.integers(0, len(companies), corporate.sum())]
    heavy = kind == HEAVY
    email[heavy] = companies[rng.integers(0, len(companies), heavy.sum())]
    for g in range(len(sc.nat_groups)):
        mask = (kind == NAT) & (group == g)
        campus = rng.random(n) < 0.7
        email[mask & campus] = f"{COMPANY_WORDS[(g * 5 + 3) % len(COMPANY_WORDS)]}-university.edu"
    for g in range(len(sc.enterprises)):
        email[(kind == ENTERPRISE) & (group == g)] = companies[(g * 97 + 11) % len(companies)]

    card = "pf_" + codes(rng.integers(0, 36**12, size=n), 12)
    card = card.to_numpy().astype(object)
    no_card = (~is_ring) & (rng.random(n) < 0.25)
    card[no_card] = None
    # Households and small teams share a card, too.
    family = np.flatnonzero((kind == BENIGN) & ~no_card & (rng.random(n) < 0.04))
    if len(family) > 1:
        card[family[1::2]] = card[family[0::2][: len(family[1::2])]]
    org = ("org_" + codes(rng.integers(0, 36**10, size=n), 10)).to_numpy().astype(object)
    org[(rng.random(n) < 0.35) & (kind != ENTERPRISE)] = None
    for g in range(len(sc.enterprises)):
        mask = (kind == ENTERPRISE) & (group == g)
        idx = np.flatnonzero(mask)
        card[idx] = card[idx[0]]
        org[idx] = org[idx[0]] or f"org_enterprise{g}"

    for r, spec in enumerate(sc.rings):
        idx = np.flatnonzero(ring == r)
        m = len(idx)
        mix = np.array(spec.email_mix, dtype=float)
        choice = rng.choice(3, size=m, p=mix / mix.sum())
        patterns = np.array(
            [
                f"{COMPANY_WORDS[(r * 7 + i) % len(COMPANY_WORDS)][:3]}mail{i}.{PATTERN_TLDS[(r + i) % len(PATTERN_TLDS)]}"
                for i in range(1, 40)
            ],
            dtype=object,
        )
        disposable = np.array(DISPOSABLE_MAIL, dtype=object)[
            rng.permutation(len(DISPOSABLE_MAIL))[:4]
        ]
        email[idx[choice == 0]] = disposable[rng.integers(0, len(disposable), (choice == 0).sum())]
        email[idx[choice == 1]] = patterns[rng.integers(0, len(patterns), (choice == 1).sum())]
        # Cards: shared in small groups; some accounts have their own.
        order = rng.permutation(idx)
        lo, hi = spec.payment_group
        ends = np.cumsum(rng.integers(lo, hi + 1, size=m))
        starts = np.r_[0, ends[:-1]]
        first_of_group = starts[np.searchsorted(ends, np.arange(m), side="right")]
        card[order] = card[order[first_of_group]]
        unique = idx[rng.random(m) < spec.payment_unique_share]
        card[unique] = ("pf_" + codes(rng.integers(0, 36**12, size=len(unique)), 12)).to_numpy()
        proxies = np.array(
            ["US", "DE", "GB", "BR", "IN", "FR", "CA", "JP", "SG", "NL"], dtype=object
        )
        country[idx] = proxies[rng.integers(0, len(proxies), m)]

    created_ts = pl.Series("created_at", (created * 1e6).astype(np.int64)).cast(
        pl.Datetime("us", "UTC")
    )
    accounts = pl.DataFrame(
        {
            "account_id": account_id,
            "created_at": created_ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "email_domain": pl.Series(email.tolist(), dtype=pl.String),
            "payment_fingerprint": pl.Series(card.tolist(), dtype=pl.String),
            "country": pl.Series(country.tolist(), dtype=pl.String),
            "org_id": pl.Series(org.tolist(), dtype=pl.String),
        }
    ).sort("account_id")
    ring_label = pl.Series("ring_id", ring + 1).cast(pl.String)
    ring_label = pl.select(
        pl.when(ring_label != "0").then(pl.lit("ring-") + ring_label)
    ).to_series()
    truth = pl.DataFrame(
        {
            "account_id": account_id,
            "ring_id": ring_label,
            "kind": pl.Series(np.array(KINDS, dtype=object)[kind], dtype=pl.String),
        }
    ).sort("account_id")
    return accounts, truth
