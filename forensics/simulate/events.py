"""One UTC day of requests for the whole population, drawn with NumPy and shaped with Polars.

Timing. Benign users (and look-alikes) open a few *sessions* a day whose start hours follow
their own two-peak diurnal profile in their local time zone; requests fall inside a session
at exponential gaps, so they come in bursts. Ring accounts run inside their ring's scheduler
window for the day (a start hour that drifts from day to day, a length, whole-fleet pauses);
with "human" pacing each account concentrates its requests around its own position in that
window, so that alone it looks like a person with a daily rhythm.

Everything else is per request: the client (main or occasional second user agent), the
address (home lines, mobile carrier /24 per session, shared NAT/enterprise egress, VPN, or a
ring's sticky proxy exits), the prompt (benign category or the account's special block:
app, enterprise batch, personal chain-of-thought habit, ring curriculum), the model (new model
adopted after the account's adoption hour), tokens, status and latency.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from forensics.schema import MAPPABLE_EVENT_FIELDS
from forensics.simulate import prompts
from forensics.simulate.population import (
    HOME,
    MOBILE,
    OUT_CLASS_MEDIAN,
    PROXY,
    SHARED,
    Population,
    hex_groups,
    ipv4_strings,
)
from forensics.simulate.vocab import ALL_MODELS, EMBED_MODEL, NEW_MODEL

NEW_MODEL_ID = ALL_MODELS.index(NEW_MODEL)
EMBED_MODEL_ID = ALL_MODELS.index(EMBED_MODEL)
DAY_S = 86400.0


def _pick_cum(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Column index of the first cumulative weight above ``u`` (row-wise)."""
    return np.minimum((u[:, None] > cum).sum(axis=1), cum.shape[1] - 1)


def day_events(
    pop: Population,
    day: int,
    rng: np.random.Generator,
    start_ts: float,
    outages: np.ndarray,
) -> pl.DataFrame:
    """All requests of ``day`` (0-based), sorted by time; ts as UTC microseconds."""
    day_ts = start_ts + day * DAY_S
    weekday = int((day_ts // DAY_S + 3) % 7)  # 1970-01-01 was a Thursday
    weekend = weekday >= 5
    is_ring = pop.ring >= 0
    ring0 = np.maximum(pop.ring, 0)

    live = (pop.start_day <= day) & (pop.end_day >= day)
    p = pop.p_active * np.where(weekend, pop.weekend, 1.0)
    active = live & (rng.random(pop.n) < p)
    if pop.win_start.shape[0]:
        active &= ~(is_ring & pop.ring_off[ring0, day])
    counts = np.where(active, rng.poisson(pop.rate), 0)
    acc = np.repeat(np.arange(pop.n), counts)
    n = len(acc)
    if n == 0:
        return pl.DataFrame()

    # ---------------------------------------------------------------- timing
    # Sessions for everyone (rings use them only for sticky exits).
    n_sess = np.where(counts > 0, 1 + np.minimum(rng.poisson(counts / 6.0), 8), 0)
    ring_sess = 1 + rng.poisson(np.maximum(pop.exits_per_day - 1.0, 0.0))
    n_sess = np.where(is_ring & (counts > 0), np.minimum(ring_sess, np.maximum(counts, 1)), n_sess)
    sess_first = np.r_[0, np.cumsum(n_sess)[:-1]]
    sess_acc = np.repeat(np.arange(pop.n), n_sess)
    n_s = len(sess_acc)
    second = rng.random(n_s) < pop.w2[sess_acc]
    local_h = np.where(
        second,
        rng.normal(pop.peak2[sess_acc], pop.sd2[sess_acc]),
        rng.normal(pop.peak1[sess_acc], pop.sd1[sess_acc]),
    )
    sess_start = ((local_h - pop.tz[sess_acc]) % 24.0) * 3600.0
    ev_sess = sess_first[acc] + np.floor(rng.random(n) * n_sess[acc]).astype(np.int64)
    t = sess_start[ev_sess] + rng.exponential(pop.session_min[acc] * 30.0)

    ring_ev = is_ring[acc]
    if ring_ev.any():
        r = pop.ring[acc[ring_ev]]
        a = acc[ring_ev]
        m = int(ring_ev.sum())
        flat = pop.pacing_flat[a]
        pos = np.where(
            flat,
            rng.random(m),
            (pop.center[a] + pop.spread[a] * rng.normal(0, 1, m)) % 1.0,
        )
        # Off period inside the window: requests that would fall there wait until it ends.
        g0, gl = pop.gap_start[r, day], pop.gap_len[r, day]
        in_gap = (pos >= g0) & (pos < g0 + gl)
        pos = np.where(in_gap, np.minimum(g0 + gl + (pos - g0), 1.0), pos)
        t[ring_ev] = (pop.win_start[r, day] + pop.win_len[r, day] * pos) * 3600.0 + rng.normal(
            0, 90, m
        )
        # Sticky proxy sessions are contiguous in time: split the account's day into sessions.
        ns = n_sess[a]
        ev_sess[ring_ev] = sess_first[a] + np.minimum((pos * ns).astype(np.int64), ns - 1)
    t = t % DAY_S
    ts_us = ((day_ts + t) * 1e6).astype(np.int64) // 1000 * 1000

    # ---------------------------------------------------------------- addresses
    mode = pop.ip_mode[acc]
    ip = pop.home_ips[acc, _pick_cum(pop.home_w[acc], rng.random(n))]
    mobile = mode == MOBILE
    if mobile.any():
        # One address per session, in a random /24 of the carrier's /16s.
        sess_ip = (
            pop.carriers[pop.carrier[sess_acc], rng.integers(0, 3, n_s)]
            | (rng.integers(0, 256, n_s) << 8)
            | rng.integers(1, 255, n_s)
        )
        ip[mobile] = sess_ip[ev_sess[mobile]]
    shared = mode == SHARED
    ip[shared] = pop.shared_ips[acc[shared], rng.integers(0, 3, int(shared.sum()))]
    vpn = rng.random(n) < pop.vpn_share[acc]
    ip[vpn] = pop.vpn_pool[rng.integers(0, len(pop.vpn_pool), int(vpn.sum()))]
    proxy = mode == PROXY
    if proxy.any():
        # Sticky proxy sessions: each session holds one exit from the ring's pool, so an
        # account touches a handful of exits a day and the pool is recycled across accounts.
        s_ring = ring0[sess_acc]
        sess_exit = pop.ring_pool_off[s_ring] + np.floor(
            rng.random(n_s) * pop.ring_pool_len[s_ring]
        ).astype(np.int64)
        exit_ip = pop.ring_pool[np.minimum(sess_exit, max(len(pop.ring_pool) - 1, 0))]
        ip[proxy] = exit_ip[ev_sess[proxy]]

    v6 = pop.ipv6[acc] & ~vpn & ((mode == MOBILE) | (mode == HOME))
    src_ip = ipv4_strings(ip)
    if v6.any():
        a6 = acc[v6]
        s6 = ev_sess[v6]
        sess_net = rng.integers(0, 1 << 16, (n_s, 2))  # mobile: a new /64 per session
        sess_iid = rng.integers(0, 1 << 16, (n_s, 4))  # privacy-extension interface id
        net = np.where(
            (mode[v6] == MOBILE)[:, None],
            np.c_[pop.carrier_v6[pop.carrier[a6]], sess_net[s6]],
            pop.v6_home[a6],
        )
        src_ip = src_ip.scatter(np.flatnonzero(v6), hex_groups(np.c_[net, sess_iid[s6]]))

    # ---------------------------------------------------------------- client and content
    ua = np.where(rng.random(n) < pop.alt_share[acc], pop.ua_alt[acc], pop.ua_main[acc])
    anthropic = pop.ua_anthropic[ua]
    special = rng.random(n) < pop.special_share[acc]
    cat = _pick_cum(pop.cat_cum[acc], rng.random(n))
    cat_off = np.r_[0, np.cumsum([len(prompts.BENIGN[c]) for c in prompts.BENIGN_CATEGORIES])]
    cat_len = np.diff(cat_off)
    benign_tpl = cat_off[cat] + np.floor(rng.random(n) * cat_len[cat]).astype(np.int64)
    skew = pop.special_skew[acc]
    special_tpl = pop.special_off[acc] + np.floor(
        rng.random(n) ** skew * pop.special_len[acc]
    ).astype(np.int64)
    tpl = np.where(special, special_tpl, benign_tpl)
    embed = rng.random(n) < pop.embed_share[acc]
    models_call = rng.random(n) < 0.004  # GET /v1/models from SDK start-up checks
    models_call[is_ring[acc]] = False
    acc_idx = pl.Series(acc, dtype=pl.UInt32)
    bound = {"cot_open": pop.cot_open.gather(acc_idx), "cot_close": pop.cot_close.gather(acc_idx)}
    prompt = prompts.fill(pop.templates, tpl, rng, bound)

    hour = (ts_us / 1e6 - start_ts) / 3600.0
    model = np.where(
        rng.random(n) < pop.second_share[acc], pop.second_model[acc], pop.main_model[acc]
    )
    adopt = (hour >= pop.adopt_hour[acc]) & (rng.random(n) < pop.adopt_share[acc])
    model = np.where(adopt, NEW_MODEL_ID, model)
    model = np.where(embed, EMBED_MODEL_ID, model)

    # ---------------------------------------------------------------- outcome
    u = rng.random(n)
    in_outage = np.zeros(n, dtype=bool)
    for lo, hi in outages:
        in_outage |= (hour >= lo) & (hour < hi)
    p5xx = np.where(in_outage, 0.25, 0.006)
    status = np.full(n, 200, dtype=np.int16)
    status[u < pop.p429[acc]] = 429
    err_u = rng.random(n)
    status[(status == 200) & (err_u < p5xx)] = 500
    status[(status == 200) & (err_u > 1 - 0.004)] = 400
    status[(status == 200) & (err_u > 1 - 0.0006)] = 401
    status[in_outage & (status == 500) & (rng.random(n) < 0.6)] = 529  # overloaded
    ok = status == 200

    prompt_chars = prompt.str.len_chars().to_numpy()
    context = np.where(is_ring[acc], rng.integers(0, 80, n), rng.lognormal(4.5, 1.3, n)).astype(
        np.int64
    )
    input_tokens = np.ceil(prompt_chars / 3.7).astype(np.int64) + context
    median = OUT_CLASS_MEDIAN[pop.template_cat[tpl]]
    output_tokens = np.round(rng.lognormal(np.log(median), 0.7)).astype(np.int64) + 1
    output_tokens = np.where(embed | ~ok, 0, output_tokens)
    speed = np.where(model == 2, 28.0, np.where(model == NEW_MODEL_ID, 32.0, 12.0))
    latency = np.where(
        ok,
        (250 + output_tokens * speed * rng.lognormal(0, 0.25, n)),
        np.where(status == 429, rng.uniform(8, 60, n), rng.uniform(200, 30000, n)),
    ).round(1)

    endpoint = np.where(anthropic, 1, 0)
    endpoint = np.where(embed, 2, endpoint)
    endpoint = np.where(models_call, 3, endpoint)
    use_key2 = rng.random(n) < pop.key2_share[acc]
    req_hi = rng.integers(0, 36**12, n)
    req_lo = rng.integers(0, 36**12, n)

    frame = pl.DataFrame(
        {
            "ts": pl.Series(ts_us).cast(pl.Datetime("us", "UTC")),
            "account_id": pop.account_id.gather(pl.Series(acc, dtype=pl.UInt32)),
            "api_key_id": pl.select(
                pl.when(pl.Series(use_key2))
                .then(pop.api_key2.gather(pl.Series(acc, dtype=pl.UInt32)))
                .otherwise(pop.api_key.gather(pl.Series(acc, dtype=pl.UInt32)))
            ).to_series(),
            "_rh": pl.Series(req_hi),
            "_rl": pl.Series(req_lo),
            "src_ip": src_ip,
            "user_agent": pl.Series(pop.ua_strings.tolist(), dtype=pl.String).gather(
                pl.Series(ua, dtype=pl.UInt32)
            ),
            "_endpoint": pl.Series(endpoint, dtype=pl.Int8),
            "status": pl.Series(status, dtype=pl.Int16),
            "_model": pl.Series(model, dtype=pl.Int8),
            "input_tokens": pl.Series(np.where(models_call, 0, input_tokens)),
            "output_tokens": pl.Series(np.where(models_call, 0, output_tokens)),
            "latency_ms": pl.Series(
                np.where(models_call, rng.uniform(20, 90, n).round(1), latency)
            ),
            "prompt": prompt,
        }
    )
    endpoints = dict(
        enumerate(["/v1/chat/completions", "/v1/messages", "/v1/embeddings", "/v1/models"])
    )
    models = dict(enumerate(ALL_MODELS))
    return (
        frame.with_columns(
            request_id=pl.concat_str(
                pl.lit("req_"),
                pl.col("_rh").cast(pl.String).str.zfill(19),
                pl.col("_rl").cast(pl.String).str.zfill(19),
            ),
            method=pl.when(pl.col("_endpoint") == 3).then(pl.lit("GET")).otherwise(pl.lit("POST")),
            endpoint=pl.col("_endpoint").replace_strict(endpoints, return_dtype=pl.String),
            model=pl.when(pl.col("_endpoint") == 3)
            .then(None)
            .otherwise(pl.col("_model").replace_strict(models, return_dtype=pl.String)),
            prompt=pl.when(pl.col("_endpoint") == 3).then(None).otherwise(pl.col("prompt")),
        )
        .sort(["ts", "request_id"])
        # Every canonical field but provenance (source_file/line), which ingest sets.
        .select(MAPPABLE_EVENT_FIELDS)
    )
