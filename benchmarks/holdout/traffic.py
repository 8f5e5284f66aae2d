"""Traffic for the hold-out generator: one declarative `Group` spec -> accounts and events.

A group is a set of accounts that behave alike: ordinary users, a look-alike population
(a campus NAT, a prompt app, an enterprise org) or one ring. Its spec says how much each
account sends, when (human sessions in a local time zone, a scheduler's shared windows, a
cron table), from where (home IPs, a shared NAT, a rotating proxy pool), with which client,
which prompts and which models. `build` turns it into frames with NumPy/Polars only: the
loops run over groups, windows or languages, never over accounts or events.

Time is seconds since the world's start (a Monday, 00:00 UTC) until the final write.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

DAY = 86_400.0
HOUR = 3_600.0

# Relative request intensity by local hour of day.
CONSUMER = np.array(
    [2, 1.2, 0.8, 0.5, 0.4, 0.5, 1, 2, 3, 4, 4.5, 5, 5.5, 5, 5, 5, 5.5, 6, 6.5, 7, 7.5, 7, 5.5, 3.5]
)
# fmt: off
WORKER = np.array([0.3, 0.2, 0.2, 0.2, 0.2, 0.3, 0.8, 2, 5, 7, 7.5, 7, 5.5, 6.5, 7, 7, 6.5, 5, 3,
                   2, 1.5, 1.2, 0.8, 0.5])
# fmt: on
PROFILES = {"consumer": CONSUMER / CONSUMER.sum(), "worker": WORKER / WORKER.sum()}

# Time zones (UTC offset, hours), how common they are among users, and their countries.
ZONES = [
    (-8, 14, ["US", "CA"]),
    (-6, 6, ["US", "MX"]),
    (-5, 14, ["US", "CA"]),
    (-3, 6, ["BR", "AR"]),
    (0, 8, ["GB", "PT"]),
    (1, 16, ["DE", "FR", "ES", "NL", "PL"]),
    (2, 4, ["UA", "RO", "GR"]),
    (3, 3, ["TR", "KE"]),
    (5.5, 10, ["IN"]),
    (7, 5, ["VN", "TH", "ID"]),
    (8, 6, ["SG", "PH", "MY"]),
    (9, 6, ["JP", "KR"]),
    (10, 2, ["AU"]),
]
ZONE_OFFSETS = np.array([z[0] for z in ZONES], dtype=float)
ZONE_WEIGHTS = np.array([z[1] for z in ZONES], dtype=float) / sum(z[1] for z in ZONES)

FREEMAIL = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "proton.me",
    "hotmail.com",
    "gmx.de",
    "mail.ru",
    "qq.com",
    "yandex.ru",
]
FREEMAIL_W = np.array([45, 12, 6, 6, 3, 5, 2, 2, 3, 1], dtype=float)

# Residential ISP first octets, cloud/hosting /16s (the second list is where CI runners
# and cheap VPS fleets live).
ISP_OCTETS = np.array(
    [
        24,
        47,
        50,
        66,
        67,
        68,
        69,
        70,
        71,
        72,
        73,
        74,
        75,
        76,
        81,
        82,
        83,
        84,
        85,
        86,
        87,
        88,
        89,
        90,
        91,
        92,
        93,
        94,
        95,
        98,
        99,
        108,
        109,
        151,
        173,
        174,
        176,
        177,
        178,
        179,
        186,
        187,
        188,
        189,
        190,
        191,
        201,
    ]
)
CLOUD_16 = [
    "45.76",
    "104.248",
    "159.65",
    "167.99",
    "34.82",
    "35.190",
    "3.91",
    "52.14",
    "20.42",
    "40.84",
    "13.64",
    "18.206",
]


@dataclass
class World:
    """What all groups of one dataset share: the period, the models, the proxy networks."""

    days: int
    seed: int
    release_day: float  # a new model comes out on this day
    old_models: tuple[str, ...] = ("orion-2", "orion-2-mini")
    new_model: str = "orion-3"
    proxy_exits: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    ci_exits: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))


# ---------------------------------------------------------------- addresses and clients


def residential_ips(rng: np.random.Generator, n: int, ipv6_share: float = 0.0) -> np.ndarray:
    """n random home addresses (v4 in ISP ranges; a share as IPv6 /64 hosts)."""
    o = rng.integers(1, 255, size=(n, 3))
    first = rng.choice(ISP_OCTETS, size=n)
    v4 = (
        pl.select(
            pl.concat_str(
                [pl.lit(pl.Series(first)), *(pl.lit(pl.Series(o[:, i])) for i in range(3))],
                separator=".",
            )
        )
        .to_series()
        .to_numpy()
    )
    if ipv6_share <= 0:
        return v4.astype(object)
    h = rng.integers(0, 65536, size=(n, 4))
    hexes = [np.char.mod("%x", h[:, i]) for i in range(4)]
    v6 = np.char.add(np.char.add(np.char.add("2a02:", hexes[0]), ":"), hexes[1])
    v6 = np.char.add(np.char.add(np.char.add(v6, ":"), hexes[2]), "::")
    v6 = np.char.add(v6, hexes[3])
    return np.where(rng.random(n) < ipv6_share, v6.astype(object), v4.astype(object))


def subnet_ips(rng: np.random.Generator, prefixes: Sequence[str], n: int) -> np.ndarray:
    """n addresses inside the given /16 or /24 prefixes ("45.76" or "45.76.12")."""
    pre = rng.choice(np.array(prefixes, dtype=object), size=n)
    parts = np.array([p.count(".") for p in pre])
    a = rng.integers(1, 255, size=n).astype(str).astype(object)
    b = rng.integers(1, 255, size=n).astype(str).astype(object)
    return np.where(parts == 1, pre + "." + a + "." + b, pre + "." + a)


def user_agents(rng: np.random.Generator, n: int, api_share: float = 0.55) -> np.ndarray:
    """n realistic clients: browsers for chat-UI users, SDKs and HTTP libraries for builders."""
    chrome = np.char.add(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/",
        np.char.add(rng.integers(120, 132, n).astype(str), ".0.0.0 Safari/537.36"),
    )
    mac = np.char.add(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/17.",
        np.char.add(rng.integers(0, 7, n).astype(str), " Safari/605.1.15"),
    )
    firefox = np.char.add(
        "Mozilla/5.0 (X11; Linux x86_64; rv:12",
        np.char.add(rng.integers(0, 9, n).astype(str), ".0) Gecko/20100101 Firefox/12"),
    )
    firefox = np.char.add(firefox, rng.integers(0, 9, n).astype(str) + ".0")
    iphone = np.char.add(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_",
        np.char.add(
            rng.integers(0, 7, n).astype(str), " like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
        ),
    )
    py = np.char.add(
        "OpenAI/Python 1.",
        np.char.add(rng.integers(30, 60, n).astype(str), "." + rng.integers(0, 4, n).astype(str)),
    )
    js = np.char.add(
        "OpenAI/JS 4.",
        np.char.add(rng.integers(50, 80, n).astype(str), "." + rng.integers(0, 3, n).astype(str)),
    )
    req = np.char.add("python-requests/2.3", rng.integers(0, 3, n).astype(str) + ".0")
    curl = np.char.add("curl/8.", rng.integers(4, 10, n).astype(str) + ".0")
    gohttp = np.full(n, "Go-http-client/2.0")
    litellm = np.char.add("litellm/1.4", rng.integers(0, 10, n).astype(str) + ".2")
    browsers = np.stack([chrome, mac, firefox, iphone]).astype(object)
    sdks = np.stack([py, js, req, curl, gohttp, litellm]).astype(object)
    b = browsers[rng.choice(4, n, p=[0.55, 0.2, 0.1, 0.15]), np.arange(n)]
    s = sdks[rng.choice(6, n, p=[0.5, 0.22, 0.12, 0.06, 0.04, 0.06]), np.arange(n)]
    return np.where(rng.random(n) < api_share, s, b)


def hex_ids(rng: np.random.Generator, n: int, prefix: str) -> np.ndarray:
    """n random identifiers like pf_3f9a1c0b77d2 (collisions are negligible)."""
    digits = np.char.mod("%012x", rng.integers(0, 2**48, n, dtype=np.int64))
    return np.char.add(prefix, digits).astype(object)


# ---------------------------------------------------------------- the group spec


PromptFn = Callable[[np.random.Generator, int], pl.Series | None]


@dataclass
class Group:
    """One population of accounts that behave alike (see the module docstring)."""

    kind: str  # truth kind: "ring" or a benign kind
    n: int
    ring_id: str | None = None
    # volume: requests per active day ~ lognormal(median, sigma), or Pareto tail if alpha
    rate_median: float = 1.5
    rate_sigma: float = 1.0
    rate_alpha: float | None = None
    rate_cap: float = 400.0
    # active window: days [start, end); each account joins within join_spread days and
    # (benign) stays for a random part of the remaining window
    start_day: float = 0.0
    end_day: float | None = None
    join_spread: float | None = None  # None: accounts live anywhere in the window
    stay_share: tuple[float, float] = (0.05, 1.0)
    # timing: "sessions" (human), "windows" (shared scheduler), "cron", "uniform"
    timing: str = "sessions"
    tz: float | None = None  # None: each account its own zone
    profile: str = "consumer"
    session_len: float = 4.0  # mean requests per session
    gap_s: float = 90.0  # mean seconds between requests in a session
    windows_per_day: float = 3.0
    window_minutes: tuple[float, float] = (20.0, 150.0)
    cron_minutes: Sequence[int] = (0,)  # cron: minute of each hour a job starts
    slots: Sequence[tuple[float, float]] = ()  # slots: fixed (start_s, seconds) meetings
    # infrastructure: "home" (1-3 own IPs), "pool" (shared addresses), "proxy" (rotating
    # exits of a shared proxy network), "ci" (a cloud CI runner pool)
    ip: str = "home"
    ip_pool: np.ndarray | None = None
    pool_share: float = 1.0  # with ip="pool": share of requests from the pool (else home)
    ipv6_share: float = 0.12
    proxy_rotation_s: float = 1_800.0
    proxy_width: int = 200
    proxy_share: float = 1.0  # with ip="proxy": share of requests sent via the proxy
    # clients: per-account draws from the population, or a fixed list (per account)
    uas: Sequence[str] | None = None
    ua_rotate: bool = False  # pick a UA per request instead of per account
    api_share: float = 0.55
    # prompts for n events (None: no prompt text logged); cover_share of a ring's requests
    # are ordinary prompts mixed in to blend with normal traffic
    prompts: PromptFn | None = None
    cover_share: float = 0.0
    cover_prompts: PromptFn | None = None
    # models: "user" (own preference, slow adoption of the new model), "switch" (the
    # fleet moves `switch_share` of its traffic to the new model within a day of release)
    models: str = "user"
    switch_share: float = 0.5
    long_outputs: bool = False  # harvesting asks for long chain-of-thought answers
    error_share: float = 0.04
    # account records
    created: str = "spread"  # "spread", "burst", "aged", "batch"
    created_day: float | None = None
    email: Sequence[str] | None = None  # domains (None: free mail + company domains)
    payment: str = "unique"  # "unique", "shared:K" (K accounts per card), "org"
    org_id: str | None = None
    countries: Sequence[str] | None = None
    endpoint_mix: str = "benign"  # "benign" or "chat"


@dataclass
class Built:
    accounts: pl.DataFrame  # local acct index + account record columns
    events: pl.DataFrame  # acct, t, and event columns


# ---------------------------------------------------------------- timing


def _daily_rates(rng: np.random.Generator, g: Group) -> np.ndarray:
    if g.rate_alpha is not None:
        r = g.rate_median * (rng.pareto(g.rate_alpha, g.n) + 1.0) / 2 ** (1 / g.rate_alpha)
    else:
        r = g.rate_median * np.exp(g.rate_sigma * rng.standard_normal(g.n))
    return np.minimum(r, g.rate_cap)


def _spans(rng: np.random.Generator, g: Group, world: World) -> tuple[np.ndarray, np.ndarray]:
    """Per-account active window [lo, hi) in days."""
    end = world.days if g.end_day is None else g.end_day
    if g.join_spread is None:
        length = (end - g.start_day) * rng.uniform(*g.stay_share, g.n)
        lo = g.start_day + rng.random(g.n) * (end - g.start_day - length)
        return lo, lo + length
    lo = g.start_day + rng.random(g.n) * g.join_spread
    return lo, np.full(g.n, float(end))


def _human_times(rng, g, counts, tz, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Sessions at local diurnal hours; requests inside a session a few seconds/minutes apart.

    Each request opens a new session with probability 1/session_len; a session starts on a
    random day of the account's window (workers skip most weekends) at an hour drawn from
    the profile, shifted from local time to UTC; gaps inside a session are exponential.
    """
    acct = np.repeat(np.arange(g.n), counts)
    n = acct.size
    new = rng.random(n) < 1.0 / g.session_len
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[counts > 0]
    new[starts] = True
    sess = np.cumsum(new) - 1
    s_acct = acct[new]
    day = np.floor(lo[s_acct] + rng.random(s_acct.size) * (hi[s_acct] - lo[s_acct]))
    if g.profile == "worker":
        weekend = (day % 7) >= 5
        redo = weekend & (rng.random(day.size) < 0.8)
        day = np.where(redo, day - (day % 7) + rng.integers(0, 5, day.size), day)
    hour = rng.choice(24, size=s_acct.size, p=PROFILES[g.profile]) + rng.random(s_acct.size)
    s_start = day * DAY + (hour - tz[s_acct]) * HOUR
    gaps = rng.exponential(g.gap_s, n)
    gaps[new] = 0.0
    cs = np.cumsum(gaps)
    t = s_start[sess] + cs - cs[np.flatnonzero(new)][sess]
    return acct, t


def _window_times(rng, g, counts, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """A job scheduler: shared on/off windows; inside a window requests are dealt
    round-robin to the accounts that have joined by then (load balancing)."""
    first = int(np.floor(lo.min()))
    last = int(np.ceil(hi.max()))
    per_day = rng.poisson(g.windows_per_day, last - first) + 1
    w_day = np.repeat(np.arange(first, last), per_day)
    w_start = (w_day + rng.random(w_day.size)) * DAY
    w_len = rng.uniform(*g.window_minutes, w_day.size) * 60.0
    # The fleet's load grows with the accounts that have joined: a window's share of the
    # requests is its length times the accounts available when it opens.
    joined_lo = np.sort(lo)
    ready = np.searchsorted(joined_lo, w_start / DAY, side="right")
    weight = w_len * ready
    total = int(counts.sum())
    if total == 0 or weight.sum() == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    w = rng.choice(w_day.size, size=total, p=weight / weight.sum())
    t = w_start[w] + rng.random(total) * w_len[w]
    order = np.lexsort((t, w))
    w, t = w[order], t[order]
    rank = np.arange(total) - np.searchsorted(w, w)
    joined_order = np.argsort(lo, kind="stable")
    eligible = np.maximum(np.searchsorted(joined_lo, t / DAY, side="right"), 1)
    offset = rng.integers(0, 1 << 30, w_day.size)
    acct = joined_order[(offset[w] + rank) % eligible]
    return acct, t


def _cron_times(rng, g, counts, tz, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """Jobs that fire at fixed minutes past the hour (CI pipelines, nightly checks)."""
    acct = np.repeat(np.arange(g.n), counts)
    day = np.floor(lo[acct] + rng.random(acct.size) * (hi[acct] - lo[acct]))
    hour = rng.choice(24, size=acct.size, p=PROFILES[g.profile])
    minute = rng.choice(np.asarray(g.cron_minutes), size=acct.size)
    t = day * DAY + (hour - tz[acct]) * HOUR + minute * 60.0 + rng.exponential(40.0, acct.size)
    return acct, t


# ---------------------------------------------------------------- build


def build(rng: np.random.Generator, g: Group, world: World) -> Built:
    """Accounts and events of one group."""
    rates = _daily_rates(rng, g)
    lo, hi = _spans(rng, g, world)
    counts = rng.poisson(rates * np.maximum(hi - lo, 0.02))
    if g.tz is None:
        zone = rng.choice(len(ZONES), size=g.n, p=ZONE_WEIGHTS)
        tz = ZONE_OFFSETS[zone]
    else:
        zone = np.full(g.n, int(np.argmin(np.abs(ZONE_OFFSETS - g.tz))))
        tz = np.full(g.n, float(g.tz))

    if g.timing == "sessions":
        acct, t = _human_times(rng, g, counts, tz, lo, hi)
    elif g.timing == "windows":
        acct, t = _window_times(rng, g, counts, lo, hi)
    elif g.timing == "cron":
        acct, t = _cron_times(rng, g, counts, tz, lo, hi)
    elif g.timing == "slots":  # everyone in the same meetings (a class, a hackathon)
        acct = np.repeat(np.arange(g.n), counts)
        slots = np.asarray(g.slots, dtype=float)
        pick = rng.integers(0, len(slots), acct.size)
        t = slots[pick, 0] + rng.random(acct.size) * slots[pick, 1]
    elif g.timing == "uniform":
        acct = np.repeat(np.arange(g.n), counts)
        t = (lo[acct] + rng.random(acct.size) * (hi[acct] - lo[acct])) * DAY
    else:
        raise ValueError(f"unknown timing {g.timing!r}")
    keep = (t >= 0) & (t < world.days * DAY)
    acct, t = acct[keep], t[keep]
    n = acct.size

    src_ip = _addresses(rng, g, world, acct, t)
    ua = _clients(rng, g, acct)
    prompt = _prompts(rng, g, n)
    model = _models(rng, g, world, acct, t)
    columns = _request_shape(rng, g, n, prompt, model)
    # Listing models sends no message, names no model and uses no tokens.
    listing = pl.lit(columns["method"]) == "GET"
    prompt, model = (
        pl.select(pl.when(listing).then(None).otherwise(pl.lit(s))).to_series()
        for s in (prompt, model)
    )
    columns["input_tokens"] = np.where(
        columns["method"].to_numpy() == "GET", 0, columns["input_tokens"]
    )

    keys = hex_ids(rng, g.n * 2, "key_")
    key_pick = acct * 2 + (rng.random(n) < 0.15)
    events = pl.DataFrame(
        {
            "acct": acct,
            "t": t,
            "api_key_id": pl.Series(keys[key_pick], dtype=pl.String),
            "src_ip": pl.Series(src_ip, dtype=pl.String),
            "user_agent": pl.Series(ua, dtype=pl.String),
            "model": model,
            "prompt": prompt,
            **columns,
        }
    )
    accounts = _records(rng, g, world, zone, lo, events)
    return Built(accounts=accounts, events=events)


def _addresses(rng, g: Group, world: World, acct: np.ndarray, t: np.ndarray) -> np.ndarray:
    n = acct.size
    if g.ip == "home":
        homes = residential_ips(rng, g.n * 3, g.ipv6_share).reshape(g.n, 3)
        n_homes = rng.choice([1, 2, 3], size=g.n, p=[0.55, 0.33, 0.12])
        # mostly the main connection; sometimes a phone or office line
        which = np.minimum(rng.choice(3, size=n, p=[0.8, 0.14, 0.06]), n_homes[acct] - 1)
        return homes[acct, which]
    if g.ip == "pool":
        pool = g.ip_pool
        shared = pool[rng.integers(0, pool.size, n)]
        if g.pool_share >= 1.0:
            return shared
        own = residential_ips(rng, g.n, g.ipv6_share)[acct]
        return np.where(rng.random(n) < g.pool_share, shared, own)
    if g.ip in ("proxy", "ci"):
        pool = world.proxy_exits if g.ip == "proxy" else world.ci_exits
        # The network hands out `proxy_width` exits per rotation slot, walking through its
        # pool; a sticky session keeps one exit per account and slot. The same exit thus
        # serves several accounts within hours and is recycled to others later.
        slot = np.floor(t / g.proxy_rotation_s).astype(np.int64)
        salt = int(rng.integers(0, 1 << 20))
        sticky = (acct.astype(np.int64) * 2_654_435_761 + slot * 40_503 + salt) % g.proxy_width
        idx = (slot * (g.proxy_width // 3 + 1) + sticky) % pool.size
        via = pool[idx]
        if g.proxy_share >= 1.0:
            return via
        own = residential_ips(rng, g.n, 0.0)[acct]
        return np.where(rng.random(n) < g.proxy_share, via, own)
    raise ValueError(f"unknown ip mode {g.ip!r}")


def _clients(rng, g: Group, acct: np.ndarray) -> np.ndarray:
    if g.uas is None:
        per_account = user_agents(rng, g.n * 2, g.api_share).reshape(g.n, 2)
        second = rng.random(acct.size) < 0.1
        return per_account[acct, second.astype(int)]
    uas = np.asarray(g.uas, dtype=object)
    if g.ua_rotate:
        return uas[rng.integers(0, uas.size, acct.size)]
    return uas[rng.integers(0, uas.size, g.n)][acct]


def _prompts(rng, g: Group, n: int) -> pl.Series:
    if g.prompts is None:
        return pl.Series([None] * n, dtype=pl.String)
    main = g.prompts(rng, n)
    if g.cover_share <= 0 or g.cover_prompts is None:
        return main
    cover = rng.random(n) < g.cover_share
    k = int(cover.sum())
    return main.scatter(np.flatnonzero(cover), g.cover_prompts(rng, k)) if k else main


def _models(rng, g: Group, world: World, acct: np.ndarray, t: np.ndarray) -> pl.Series:
    n = acct.size
    old = np.asarray(world.old_models, dtype=object)
    release = world.release_day * DAY
    if g.models == "switch":
        main = old[0] if rng.random() < 0.7 else old[1]
        delay = rng.uniform(2, 20) * HOUR  # the fleet's operator reacts within a day
        new = (t > release + delay) & (rng.random(n) < g.switch_share)
        return pl.Series(np.where(new, world.new_model, main), dtype=pl.String)
    if g.models.startswith("fixed:"):
        return pl.Series(np.full(n, g.models[6:], dtype=object), dtype=pl.String)
    pref = rng.choice(2, size=g.n, p=[0.7, 0.3])
    pick = np.where(rng.random(n) < 0.9, pref[acct], 1 - pref[acct])
    # Ordinary users drift to a new model over a couple of weeks, each at their own pace.
    appetite = rng.beta(1.2, 3.0, g.n)[acct]
    ramp = 1.0 / (1.0 + np.exp(-(t - release - 5 * DAY) / (2.5 * DAY)))
    new = (t > release) & (rng.random(n) < appetite * ramp)
    return pl.Series(np.where(new, world.new_model, old[pick]), dtype=pl.String)


def _request_shape(rng, g: Group, n: int, prompt: pl.Series, model: pl.Series) -> dict:
    """Endpoint, method, status, tokens and latency of each request."""
    if g.endpoint_mix == "chat":
        ep_idx = rng.choice(2, size=n, p=[0.85, 0.15])
    else:
        ep_idx = rng.choice(4, size=n, p=[0.8, 0.1, 0.07, 0.03])
    endpoints = np.array(
        ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/models"], dtype=object
    )
    endpoint = endpoints[ep_idx]
    method = np.where(ep_idx == 3, "GET", "POST").astype(object)
    u = rng.random(n)
    e = g.error_share
    status = np.select(
        [u < e * 0.4, u < e * 0.75, u < e * 0.9, u < e], [429, 400, 500, 401], default=200
    ).astype(np.int16)
    chars = prompt.str.len_chars().fill_null(0).to_numpy().astype(float)
    context = rng.lognormal(np.log(60), 1.3, n) * (rng.random(n) < 0.5)
    in_tok = np.where(
        prompt.is_null().to_numpy(), rng.lognormal(np.log(300), 0.9, n), chars / 4 + context + 8
    )
    if g.long_outputs:
        out_tok = np.minimum(rng.lognormal(np.log(900), 0.5, n), 4096)
    else:
        out_tok = np.minimum(rng.lognormal(np.log(220), 0.9, n), 4096)
    out_tok = np.where((ep_idx >= 2) | (status != 200), 0, out_tok)
    mini = (model == "orion-2-mini").to_numpy()
    per_tok = np.where(mini, rng.uniform(6, 10, n), rng.uniform(14, 26, n))
    latency = np.where(
        status == 429, rng.uniform(5, 40, n), 250 + out_tok * per_tok + rng.exponential(150, n)
    )
    return {
        "method": pl.Series(method, dtype=pl.String),
        "endpoint": pl.Series(endpoint, dtype=pl.String),
        "status": status,
        "input_tokens": np.round(in_tok).astype(np.int64),
        "output_tokens": np.round(out_tok).astype(np.int64),
        "latency_ms": np.round(latency, 1),
    }


def _records(rng, g: Group, world: World, zone, lo, events: pl.DataFrame) -> pl.DataFrame:
    """Account records: creation time, e-mail domain, card, country, org."""
    first = events.group_by("acct").agg(pl.col("t").min()).sort("acct")
    first_t = np.full(g.n, lo * DAY)
    first_t[first["acct"].to_numpy()] = first["t"].to_numpy()
    if g.created == "spread":  # signed up anywhere from days to years before
        created = first_t - rng.exponential(200, g.n) * DAY - rng.random(g.n) * DAY
    elif g.created == "burst":  # scripted sign-ups in batches, hours apart, before use
        batch = rng.integers(0, max(1, g.n // 60), g.n)
        batch_t = (g.created_day if g.created_day is not None else g.start_day - 3) * DAY
        created = batch_t + batch * rng.uniform(2, 7) * HOUR + rng.random(g.n) * 1_800
        created = np.minimum(created, first_t - 60)
    elif g.created == "aged":  # bought or farmed accounts, dormant for months
        created = first_t - rng.uniform(90, 330, g.n) * DAY
    elif g.created == "batch":  # provisioned together (an org, a class)
        day = g.created_day if g.created_day is not None else g.start_day - 10
        created = np.minimum(day * DAY + rng.random(g.n) * 6 * HOUR, first_t - 60)
    else:
        raise ValueError(f"unknown created mode {g.created!r}")

    if g.email is None:
        free = rng.choice(len(FREEMAIL), size=g.n, p=FREEMAIL_W / FREEMAIL_W.sum())
        company = _company_domains(rng, g.n)
        email = np.where(rng.random(g.n) < 0.7, np.asarray(FREEMAIL, dtype=object)[free], company)
    else:
        email = np.asarray(g.email, dtype=object)[rng.integers(0, len(g.email), g.n)]

    if g.payment == "unique":
        card = hex_ids(rng, g.n, "pf_")
        household = rng.random(g.n) < 0.02  # a few share a family card with a neighbour
        card = np.where(household, np.roll(card, 1), card)
    elif g.payment == "org":
        card = np.full(g.n, hex_ids(rng, 1, "pf_")[0], dtype=object)
    elif g.payment.startswith("shared:"):
        per_card = int(g.payment.split(":")[1])
        cards = hex_ids(rng, max(1, g.n // per_card), "pf_")
        card = cards[rng.integers(0, cards.size, g.n)]
    else:
        raise ValueError(f"unknown payment mode {g.payment!r}")

    if g.countries is not None:
        country = np.asarray(g.countries, dtype=object)[rng.integers(0, len(g.countries), g.n)]
    else:
        table = np.array([[z[2][i % len(z[2])] for i in range(5)] for z in ZONES], dtype=object)
        country = table[zone, rng.integers(0, 5, g.n)]
    return pl.DataFrame(
        {
            "acct": np.arange(g.n),
            "created_t": created,
            "email_domain": pl.Series(email, dtype=pl.String),
            "payment_fingerprint": pl.Series(card, dtype=pl.String),
            "country": pl.Series(country, dtype=pl.String),
            "org_id": pl.Series([g.org_id] * g.n, dtype=pl.String),
        }
    )


def _company_domains(rng: np.random.Generator, n: int) -> np.ndarray:
    a = np.array(
        [
            "blue",
            "north",
            "acme",
            "delta",
            "bright",
            "atlas",
            "nova",
            "pine",
            "iron",
            "silver",
            "terra",
            "lumen",
            "apex",
            "harbor",
            "cedar",
            "quant",
        ],
        dtype=object,
    )
    b = np.array(
        [
            "labs",
            "works",
            "soft",
            "data",
            "health",
            "legal",
            "media",
            "bank",
            "logistics",
            "studio",
            "systems",
            "ventures",
        ],
        dtype=object,
    )
    tld = np.array([".com", ".io", ".co.uk", ".de", ".ai", ".net"], dtype=object)
    return (
        a[rng.integers(0, a.size, n)]
        + b[rng.integers(0, b.size, n)]
        + tld[rng.integers(0, tld.size, n)]
    )
