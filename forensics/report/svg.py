"""Inline SVG charts for the HTML report, generated here (no chart library, no scripts).

Every label that may come from the logs (account ids in node tooltips, ring ids, feature
labels) goes through ``escape.html_text``; coordinates are numbers the code computed.
The similarity graph is laid out with a few iterations of Fruchterman-Reingold in NumPy:
each pair of nodes repels with force k^2/d and each edge attracts with force w*d^2/k
(k = sqrt(area/n)), a weak pull towards the centre holds unlinked nodes in, starting from a circle in a fixed order nudged by a fixed-seed jitter,
so the drawing is deterministic for a given ring.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np

from forensics.report.escape import html_text as esc

PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
)
POPULATION_COLOR = "#7f7f7f"
VIEW_COLORS = {
    "prompt": "#1f77b4",
    "infra": "#d62728",
    "timing": "#2ca02c",
    "behaviour": "#ff7f0e",
    "combined": "#555555",
}
LAYOUT_ITERATIONS = 60
GRAVITY = 2.0

_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}" {_FONT}>'
        f"<title>{esc(label)}</title>" + "".join(body) + "</svg>"
    )


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _fmt(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:g}M"
    if value >= 1e3:
        return f"{value / 1e3:g}k"
    return f"{value:g}"


def line_chart(
    series: Sequence[tuple[str, str, Sequence[tuple[dt.date, float]]]],
    label: str,
    y_label: str,
    width: int = 540,
    height: int = 240,
    percent: bool = False,
) -> str:
    """Daily lines: ``series`` is (name, colour, [(date, value)]); missing days count 0."""
    dates = sorted({d for _n, _c, points in series for d, _v in points})
    if not dates:
        return ""
    left, right, top, bottom = 56, 150, 14, 34
    pw, ph = width - left - right, height - top - bottom
    first, last = dates[0].toordinal(), dates[-1].toordinal()
    span = max(last - first, 1)
    y_max = _nice_max(max((v for _n, _c, p in series for _d, v in p), default=0.0))

    def x(day: dt.date) -> float:
        return left + pw * (day.toordinal() - first) / span

    def y(value: float) -> float:
        return top + ph * (1 - value / y_max)

    body = [f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>']
    for frac in (0, 0.5, 1):
        value = y_max * frac
        text = f"{100 * value:g}%" if percent else _fmt(value)
        body.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#e3e3e3"/>'
            f'<text x="{left - 4}" y="{y(value) + 4:.1f}" text-anchor="end">{esc(text)}</text>'
        )
    # at most one date label per 80 px, spread evenly over the whole span
    slots = max(min(span + 1, pw // 80), 2)
    ticks = sorted(
        {dt.date.fromordinal(first + round(i * span / (slots - 1))) for i in range(slots)}
    )
    for day in ticks:
        body.append(
            f'<text x="{x(day):.1f}" y="{top + ph + 16}" text-anchor="middle">{day.isoformat()}</text>'
        )
    body.append(
        f'<text x="12" y="{top + ph / 2:.1f}" transform="rotate(-90 12 {top + ph / 2:.1f})" '
        f'text-anchor="middle">{esc(y_label)}</text>'
    )
    all_days = [dt.date.fromordinal(o) for o in range(first, last + 1)]
    for i, (name, colour, points) in enumerate(series):
        values = dict(points)
        coords = " ".join(f"{x(d):.1f},{y(values.get(d, 0.0)):.1f}" for d in all_days)
        if len(all_days) == 1:
            body.append(
                f'<circle cx="{x(all_days[0]):.1f}" cy="{y(values.get(all_days[0], 0.0)):.1f}" r="3" fill="{colour}"/>'
            )
        else:
            body.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.8"/>'
            )
        ly = top + 10 + 16 * i
        body.append(
            f'<rect x="{left + pw + 10}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + pw + 24}" y="{ly + 1}">{esc(name)}</text>'
        )
    return _svg(width, height, body, label)


def scatter(
    points: Sequence[tuple[str, float, float]],
    label: str,
    x_label: str,
    y_label: str,
    width: int = 460,
    height: int = 240,
) -> str:
    """Labelled points (name, x, y); x is on a log scale (ring sizes span decades), y in 0..1."""
    if not points:
        return ""
    left, right, top, bottom = 50, 20, 14, 40
    pw, ph = width - left - right, height - top - bottom
    xs = [max(p[1], 1.0) for p in points]
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    lo, hi = math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1)

    def x(value: float) -> float:
        return left + pw * (math.log10(max(value, 1.0)) - lo) / (hi - lo)

    def y(value: float) -> float:
        value = 0.0 if math.isnan(value) else min(max(value, 0.0), 1.0)
        return top + ph * (1 - value)

    body = [f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>']
    for value in (0, 0.5, 1):
        body.append(
            f'<text x="{left - 4}" y="{y(value) + 4:.1f}" text-anchor="end">{value:g}</text>'
        )
    for exp in range(lo, hi + 1):
        body.append(
            f'<text x="{x(10**exp):.1f}" y="{top + ph + 16}" text-anchor="middle">{_fmt(10**exp)}</text>'
        )
    body.append(
        f'<text x="{left + pw / 2:.1f}" y="{height - 4}" text-anchor="middle">{esc(x_label)}</text>'
    )
    body.append(
        f'<text x="12" y="{top + ph / 2:.1f}" transform="rotate(-90 12 {top + ph / 2:.1f})" '
        f'text-anchor="middle">{esc(y_label)}</text>'
    )
    # boxes (x0, x1, text baseline) of the dots and of labels already drawn
    placed = [(x(xv) - 6, x(xv) + 6, y(yv) + 4) for _n, xv, yv in points]
    for i, (name, xv, yv) in enumerate(points):
        colour = PALETTE[i % len(PALETTE)]
        cx, cy = x(xv), y(yv)
        # move a label down until it no longer overlaps one already drawn
        lx, ly, lw = cx + 7, cy + 4, 6.5 * len(name)
        while any(lx < b1 and a0 < lx + lw and abs(ly - base) < 11 for a0, b1, base in placed):
            ly += 11
        placed.append((lx, lx + lw, ly))
        body.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour}" fill-opacity="0.8">'
            f"<title>{esc(name)}</title></circle>"
            f'<text x="{lx:.1f}" y="{ly:.1f}" fill="{colour}">{esc(name)}</text>'
        )
    return _svg(width, height, body, label)


def force_layout(
    n: int, edges: np.ndarray, weights: np.ndarray, iterations: int = LAYOUT_ITERATIONS
) -> np.ndarray:
    """Fruchterman-Reingold positions in [0, 1]^2 for ``n`` nodes (edges: (m, 2) indices).

    The displacement of node i is sum_j c_ij (p_i - p_j) with c_ij = f_ij / d_ij, computed
    as p_i * sum_j c_ij - (C @ P)_i: two matrix products per iteration, no (n, n, 2) array.
    """
    if n <= 1:
        return np.full((n, 2), 0.5)
    angle = 2 * np.pi * np.arange(n) / n
    pos = 0.5 + 0.45 * np.column_stack([np.cos(angle), np.sin(angle)])
    # a fixed-seed nudge breaks the circle's symmetry, where forces would cancel out
    pos += np.random.default_rng(0).uniform(-0.02, 0.02, pos.shape)
    adjacency = np.zeros((n, n))
    if len(edges):
        adjacency[edges[:, 0], edges[:, 1]] = weights
        adjacency[edges[:, 1], edges[:, 0]] = weights
    k = math.sqrt(1.0 / n)
    temperature = 0.1
    for step in range(iterations):
        squared = (pos * pos).sum(axis=1)
        d2 = np.maximum(squared[:, None] + squared[None, :] - 2 * pos @ pos.T, 1e-8)
        dist = np.sqrt(d2)
        # repulsion k^2/d and attraction w d^2/k, both divided by d (the unit vector's norm)
        coef = k * k / d2 - adjacency * dist / k
        np.fill_diagonal(coef, 0.0)
        displacement = pos * coef.sum(axis=1)[:, None] - coef @ pos
        # gravity towards the centre keeps nodes without drawn edges from flying off
        displacement -= GRAVITY * k * (pos - 0.5)
        length = np.maximum(np.linalg.norm(displacement, axis=1), 1e-9)
        cooled = temperature * (1 - step / iterations)
        pos += displacement / length[:, None] * np.minimum(length, cooled)[:, None]
    pos -= pos.min(axis=0)
    scale = pos.max(axis=0)
    scale[scale == 0] = 1.0
    return pos / scale


def similarity_graph(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str, float, str]],
    label: str,
    width: int = 500,
    height: int = 380,
) -> str:
    """The ring's evidence graph: one dot per account, one line per similar pair.

    ``nodes`` are the accounts to draw (the model caps them at its GRAPH_NODES strongest
    members) and ``edges`` (a, b, similarity, view) the pairs among them, one per pair.
    """
    nodes = list(nodes)
    if not nodes:
        return ""
    index = {name: i for i, name in enumerate(nodes)}
    pairs = [
        ((index[a], index[b]), (sim, view))
        for a, b, sim, view in edges
        if a in index and b in index and a != b
    ]
    edge_index = np.array([p for p, _ in pairs], dtype=int).reshape(-1, 2)
    weights = np.array([max(s, 0.0) for _, (s, _v) in pairs], dtype=float)
    # Accounts with a drawn edge are laid out; the others are lined up along the bottom
    # (in the layout they would only be pushed to the edges and squash the picture).
    linked = np.zeros(len(nodes), dtype=bool)
    linked[edge_index.ravel()] = True
    lone = np.flatnonzero(~linked)
    margin = 24
    strip = 16 if lone.size else 0
    px = np.zeros(len(nodes))
    py = np.zeros(len(nodes))
    if linked.any():
        renumber = np.cumsum(linked) - 1
        pos = force_layout(int(linked.sum()), renumber[edge_index], weights)
        px[linked] = margin + pos[:, 0] * (width - 2 * margin - 110)
        py[linked] = margin + pos[:, 1] * (height - 2 * margin - strip)
    if lone.size:
        px[lone] = margin + np.arange(lone.size) * (width - 2 * margin) / max(lone.size, 1)
        py[lone] = height - margin / 2
    body = [f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff" stroke="#ccc"/>']
    for (i, j), (sim, view) in pairs:
        colour = VIEW_COLORS.get(view, "#999")
        body.append(
            f'<line x1="{px[i]:.1f}" y1="{py[i]:.1f}" x2="{px[j]:.1f}" y2="{py[j]:.1f}" '
            f'stroke="{colour}" stroke-opacity="{0.15 + 0.6 * min(max(sim, 0), 1):.2f}" stroke-width="1"/>'
        )
    show_labels = len(nodes) <= 30
    for i, name in enumerate(nodes):
        body.append(
            f'<circle cx="{px[i]:.1f}" cy="{py[i]:.1f}" r="4" fill="#333"><title>{esc(name)}</title></circle>'
        )
        if show_labels:
            body.append(
                f'<text x="{px[i] + 6:.1f}" y="{py[i] + 3:.1f}" font-size="9">{esc(name)}</text>'
            )
    drawn_views = sorted({v for _p, (_s, v) in pairs})
    for k, view in enumerate(drawn_views):
        ly = 18 + 16 * k
        body.append(
            f'<line x1="{width - 100}" x2="{width - 84}" y1="{ly}" y2="{ly}" stroke="{VIEW_COLORS.get(view, "#999")}" stroke-width="3"/>'
            f'<text x="{width - 80}" y="{ly + 4}">{esc(view)}</text>'
        )
    return _svg(width, height, body, label)


def distribution(
    ring_values: np.ndarray,
    population_values: np.ndarray,
    label: str,
    width: int = 320,
    height: int = 160,
    colour: str = PALETTE[1],
) -> str:
    """Overlaid histograms (share of accounts per bin) of one feature, ring vs population.

    Bins span the population's 1st-99th percentiles widened to include the ring, so that a
    few extreme accounts do not squash the picture.
    """
    if population_values.size == 0 and ring_values.size == 0:
        return ""
    both = np.concatenate([population_values, ring_values])
    lo = min(
        np.percentile(both if population_values.size == 0 else population_values, 1),
        ring_values.min(initial=np.inf),
    )
    hi = max(
        np.percentile(both if population_values.size == 0 else population_values, 99),
        ring_values.max(initial=-np.inf),
    )
    if not np.isfinite(lo) or not np.isfinite(hi):
        return ""
    if hi <= lo:
        hi = lo + 1.0
    bins = np.linspace(lo, hi, 25)
    left, right, top, bottom = 10, 10, 18, 30
    pw, ph = width - left - right, height - top - bottom

    def shares(values: np.ndarray) -> np.ndarray:
        counts, _ = np.histogram(np.clip(values, lo, hi), bins=bins)
        total = counts.sum()
        return counts / total if total else counts.astype(float)

    pop, ring = shares(population_values), shares(ring_values)
    top_share = max(pop.max(initial=0), ring.max(initial=0)) or 1.0
    bar = pw / (len(bins) - 1)
    body = [f'<text x="{left}" y="12" font-weight="bold">{esc(label)}</text>']
    for values, fill, opacity in ((pop, POPULATION_COLOR, 0.5), (ring, colour, 0.6)):
        for i, share in enumerate(values):
            if share <= 0:
                continue
            h = ph * share / top_share
            body.append(
                f'<rect x="{left + i * bar:.1f}" y="{top + ph - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{fill}" fill-opacity="{opacity}"/>'
            )
    body.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" stroke="#999"/>'
    )
    body.append(f'<text x="{left}" y="{height - 12}">{esc(f"{lo:.3g}")}</text>')
    body.append(
        f'<text x="{left + pw}" y="{height - 12}" text-anchor="end">{esc(f"{hi:.3g}")}</text>'
    )
    body.append(
        f'<rect x="{left + pw / 2 - 70:.1f}" y="{height - 10}" width="8" height="8" fill="{colour}"/>'
        f'<text x="{left + pw / 2 - 58:.1f}" y="{height - 2}">ring</text>'
        f'<rect x="{left + pw / 2 - 20:.1f}" y="{height - 10}" width="8" height="8" fill="{POPULATION_COLOR}"/>'
        f'<text x="{left + pw / 2 - 8:.1f}" y="{height - 2}">all accounts</text>'
    )
    return _svg(width, height, body, label)
