"""HTML report: one self-contained, offline, printable file with inline SVG charts.

Nothing is loaded from anywhere (no CDN, fonts, images or scripts), and a
Content-Security-Policy meta tag forbids scripts and every network load, as a second belt
behind the escaping: every piece of log text goes through ``escape.html_text``, and the
page is assembled by string building, never by a template engine with autoescape to forget.
"""

from __future__ import annotations

from typing import Any

from forensics.report import escape, fmt, svg
from forensics.report.model import GRAPH_NODES, Report, Ring

esc = escape.html_text

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
# Rings drawn in the "daily requests by ring" overview chart.
OVERVIEW_RINGS = 8
# Members listed open (not folded in <details>) in the overview.
OPEN_MEMBERS = 50
# Rings linked from the navigation line at the top.
NAV_RINGS = 20

STYLE = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1100px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: .2rem; margin-top: 2rem; }
h3 { margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .88rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.text { max-width: 38rem; overflow-wrap: anywhere; white-space: pre-wrap; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: .85em; }
.redacted { background: #fff4d6; border: 1px solid #e0b84a; padding: .5rem .8rem; font-weight: bold; }
.headline { font-size: 1.05rem; font-weight: 600; }
.norings { font-size: 1.1rem; font-weight: bold; padding: .8rem; background: #eef6ee; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
figure { margin: 0; }
figcaption { font-size: .8rem; color: #555; max-width: 540px; }
svg { max-width: 100%; height: auto; }
.muted { color: #666; font-size: .85rem; }
nav.toc { font-size: .85rem; margin: .5rem 0; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  section.ring { break-before: page; }
  details::details-content { content-visibility: visible; display: block; }
  details > summary { list-style: none; }
  figure, table, svg { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  nav.toc { display: none; }
  @page { margin: 14mm; }
}
"""


def _table(header: list[str], rows: list[list[tuple[str, str]]], caption: str = "") -> str:
    """A table; each cell is (css class, already-escaped HTML)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{cls}">{html}</td>' for cls, html in row) + "</tr>"
        for row in rows
    )
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    return f"<table>{cap}{thead}<tbody>{body}</tbody></table>"


def _num(value: str) -> tuple[str, str]:
    return ("num", esc(value))


def _text(value: Any) -> tuple[str, str]:
    return ("text", esc(value))


def _anchor(index: int) -> str:
    return f"ring-{index + 1}"


def render_html(report: Report) -> str:
    """The whole report as one HTML document."""
    s = report.summary
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(fmt.title(report))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<header><h1>{esc(fmt.title(report))}</h1>",
        f'<p class="muted">Generated {esc(report.fmt_ts(s.generated_at))} by forensics '
        f"{esc(s.tool_version)} from store <code>{esc(s.store)}</code>.</p>",
    ]
    if s.redacted:
        parts.append(f'<p class="redacted" id="redacted">{esc(fmt.REDACTION_NOTICE)}</p>')
    links = [("summary", "Summary"), ("rings", "Rings")]
    links += [(_anchor(i), f"Ring {r.ring_id}") for i, r in enumerate(report.rings[:NAV_RINGS])]
    links.append(("custody", "Chain of custody"))
    parts.append(
        '<nav class="toc">'
        + " · ".join(f'<a href="#{anchor}">{esc(text)}</a>' for anchor, text in links)
        + "</nav>"
    )
    parts.append("</header>")
    parts.append(_summary(report))
    parts.append(_overview(report))
    for i, ring in enumerate(report.rings):
        parts.append(_ring(report, ring, i))
    parts.append(_custody(report))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _summary(report: Report) -> str:
    rows = [[("", esc(label)), _text(value)] for label, value in fmt.summary_rows(report)]
    inputs = _table(
        ["Input", "sha256 (prefix)", "Rows ingested"],
        [
            [
                _text(i.get("path")),
                ("mono", esc(fmt.sha(i.get("sha256")))),
                _num(fmt.count(i.get("rows_ingested"))),
            ]
            for i in report.inputs
        ],
    )
    return (
        '<section id="summary"><h2>Summary</h2>'
        + _table(["", ""], rows)
        + "<h3>Inputs</h3>"
        + inputs
        + "</section>"
    )


def _overview(report: Report) -> str:
    s = report.summary
    out = ['<section id="rings"><h2>Rings</h2>']
    if not report.rings:
        message = fmt.NO_RINGS if not s.rings_found else "No ring was active in the window shown."
        out.append(f'<p class="norings" id="no-rings">{esc(message)}</p></section>')
        return "".join(out)
    out.append(
        _table(
            [
                "Ring",
                "Accounts",
                "Score",
                "Requests",
                "First seen",
                "Last seen",
                "Headline evidence",
            ],
            [
                [
                    ("", f'<a href="#{_anchor(i)}">{esc(r.ring_id)}</a>'),
                    _num(fmt.count(r.size)),
                    _num(fmt.score(r.score)),
                    _num(fmt.count(r.requests)),
                    _text(report.fmt_ts(r.first_seen)),
                    _text(report.fmt_ts(r.last_seen)),
                    _text(r.headline),
                ]
                for i, r in enumerate(report.rings)
            ],
        )
    )
    charts = []
    shown = report.rings[:OVERVIEW_RINGS]
    series = [
        (
            r.ring_id,
            svg.PALETTE[i % len(svg.PALETTE)],
            [(d.date, float(d.requests)) for d in r.daily],
        )
        for i, r in enumerate(shown)
    ]
    daily = svg.line_chart(series, "Daily requests by ring", "requests per day")
    if daily:
        more = len(report.rings) - len(shown)
        note = f" The {more} weaker rings are not drawn." if more > 0 else ""
        charts.append(
            f"<figure>{daily}<figcaption>Daily requests of each ring ({esc(s.tz)} days).{esc(note)}</figcaption></figure>"
        )
    scatter = svg.scatter(
        [(r.ring_id, float(r.size), r.score) for r in report.rings],
        "Ring size and score",
        "accounts (log scale)",
        "score",
    )
    if scatter:
        charts.append(
            f"<figure>{scatter}<figcaption>Each ring's size against its score.</figcaption></figure>"
        )
    out.append(f'<div class="charts">{"".join(charts)}</div></section>')
    return "".join(out)


def _ring(report: Report, ring: Ring, index: int) -> str:
    detail = report.summary.ring is not None
    out = [
        f'<section class="ring" id="{_anchor(index)}">',
        f"<h2>Ring {esc(ring.ring_id)}: {esc(fmt.count(ring.size))} accounts, score {esc(fmt.score(ring.score))}</h2>",
        f'<p class="headline">{esc(ring.headline)}</p>',
        f"<p>Active {esc(report.fmt_ts(ring.first_seen))} to {esc(report.fmt_ts(ring.last_seen))}; "
        f"{esc(fmt.count(ring.requests))} requests, {esc(fmt.count(ring.output_tokens))} output tokens; "
        f"held together by: {esc(', '.join(ring.views) or '-')}.</p>",
    ]
    findings = ring.findings
    if findings:
        out.append(
            "<h3>Findings</h3><ul>"
            + "".join(
                f'<li>{esc(f.get("text", ""))} <span class="muted">(strength {esc(fmt.score(_float(f.get("strength"))))})</span></li>'
                for f in findings
            )
            + "</ul>"
        )
    out.append(_ring_charts(report, ring))
    for label, items in fmt.shared_items(ring):
        out.append(f"<h3>Shared {esc(label)}</h3>")
        out.append(
            _table(
                ["Value", "Accounts", "Requests"],
                [
                    [
                        ("text mono", esc(i.get("value"))),
                        _num(fmt.number(i.get("accounts"))),
                        _num(fmt.number(i.get("requests"))),
                    ]
                    for i in items
                ],
            )
        )
    created = ring.evidence.get("created")
    if isinstance(created, dict) and created:
        out.append(
            f"<h3>Account creation</h3><p>{esc(fmt.number(created.get('accounts_with_records')))} accounts "
            f"with records, created {esc(report.fmt_ts(created.get('first')))} to "
            f"{esc(report.fmt_ts(created.get('last')))} (span {esc(fmt.number(created.get('span_hours')))} hours).</p>"
        )
    contrast = [c for c in ring.evidence.get("contrast", []) if isinstance(c, dict)]
    if contrast:
        out.append("<h3>Ring versus population</h3>")
        out.append(
            _table(
                ["Feature", "Ring median", "Population median", "Ring percentile", "z"],
                [
                    [
                        _text(c.get("label") or c.get("feature")),
                        _num(fmt.number(c.get("ring_median"))),
                        _num(fmt.number(c.get("population_median"))),
                        _num(fmt.number(c.get("ring_percentile"))),
                        _num(fmt.number(c.get("z"))),
                    ]
                    for c in contrast
                ],
            )
        )
    examples = ring.evidence.get("examples", [])
    if examples:
        out.append("<h3>Example requests</h3>")
        out.append(
            _table(
                ["Time", "Account", "Source IP", "User agent", "Model", "Prompt"],
                [
                    [
                        _text(report.fmt_ts(e.get("ts"))),
                        ("text mono", esc(e.get("account_id"))),
                        ("text mono", esc(e.get("src_ip"))),
                        _text(e.get("user_agent")),
                        _text(e.get("model")),
                        _text(e.get("prompt")),
                    ]
                    for e in examples
                ],
            )
        )
    members = _table(
        [
            "Account",
            "Membership",
            "Requests",
            "Output tokens",
            "First seen",
            "Last seen",
            "Created",
            "E-mail domain",
        ],
        [
            [
                ("text mono", esc(m.account_id)),
                _num(fmt.score(m.score)),
                _num(fmt.count(m.requests)),
                _num(fmt.count(m.output_tokens)),
                _text(report.fmt_ts(m.first_seen)),
                _text(report.fmt_ts(m.last_seen)),
                _text(report.fmt_ts(m.created_at)),
                _text(m.email_domain or "-"),
            ]
            for m in ring.members
        ],
    )
    is_open = " open" if detail or len(ring.members) <= OPEN_MEMBERS else ""
    out.append(
        f"<details{is_open}><summary><strong>Members ({esc(fmt.count(len(ring.members)))})</strong></summary>{members}</details>"
    )
    out.append("</section>")
    return "".join(out)


def _ring_charts(report: Report, ring: Ring) -> str:
    charts = []
    ring_total = sum(d.requests for d in ring.daily)
    pop_total = sum(d.requests for d in report.population_daily)
    if ring_total:
        series = [
            (ring.ring_id, svg.PALETTE[1], [(d.date, d.requests / ring_total) for d in ring.daily]),
        ]
        if pop_total:
            series.append(
                (
                    "unflagged accounts",
                    svg.POPULATION_COLOR,
                    [(d.date, d.requests / pop_total) for d in report.population_daily],
                )
            )
        chart = svg.line_chart(
            series,
            f"Daily activity of ring {ring.ring_id} against the population",
            "share of requests",
            percent=True,
        )
        charts.append(
            f"<figure>{chart}<figcaption>Share of each group's requests made on each day "
            f"({esc(report.summary.tz)} days): the ring against all unflagged accounts.</figcaption></figure>"
        )
    if ring.edges:
        graph = svg.similarity_graph(
            [m.account_id for m in ring.members[:GRAPH_NODES]],
            ring.edges,
            f"Similarity graph of ring {ring.ring_id}",
        )
        capped = len(ring.members) > GRAPH_NODES
        note = f" Only the {GRAPH_NODES} strongest members are drawn." if capped else ""
        charts.append(
            f"<figure>{graph}<figcaption>Accounts (dots) joined by the similarity edges that hold "
            f"the ring together, coloured by view; accounts with no drawn edge are lined up along "
            f"the bottom.{esc(note)}</figcaption></figure>"
        )
    distributions = [
        svg.distribution(
            values, report.population_features[name][1], report.population_features[name][0]
        )
        for name, values in ring.features.items()
        if name in report.population_features
    ]
    distributions = [d for d in distributions if d]
    if distributions:
        charts.append(
            '<figure><div class="charts">'
            + "".join(distributions)
            + "</div><figcaption>Ring members against all accounts: share of accounts per "
            "value bin for the features that set the ring apart most.</figcaption></figure>"
        )
    return f'<div class="charts">{"".join(charts)}</div>' if charts else ""


def _custody(report: Report) -> str:
    rows = [
        [("", esc(label)), ("text mono", esc(value))] for label, value in fmt.custody_rows(report)
    ]
    inputs = _table(
        ["Input", "sha256", "Rows ingested", "Ingested at"],
        [
            [
                _text(i.get("path")),
                ("mono", esc(i.get("sha256") or "-")),
                _num(fmt.count(i.get("rows_ingested"))),
                _text(i.get("ingested_at") or "-"),
            ]
            for i in report.inputs
        ],
    )
    return (
        f'<section id="custody"><h2>Chain of custody</h2>{_table(["", ""], rows)}{inputs}</section>'
    )


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
