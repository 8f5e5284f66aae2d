"""Markdown report: the terminal report's content, fit for a ticket or a letter.

Every piece of log text goes through ``escape.markdown`` (or ``escape.markdown_code``), which
makes Markdown syntax and raw HTML inert; only text the tool wrote itself is left as is.
"""

from __future__ import annotations

from typing import Any

from forensics.report import escape, fmt
from forensics.report.model import Report, Ring

md = escape.markdown


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return lines + [""]


def render_markdown(report: Report) -> str:
    """The whole report as one Markdown document."""
    s = report.summary
    out: list[str] = [f"# {fmt.title(report)}", ""]
    if s.redacted:
        out += [f"> **{fmt.REDACTION_NOTICE}**", ""]
    out += ["## Summary", ""]
    out += _table(["", "Value"], [[label, md(value)] for label, value in fmt.summary_rows(report)])
    out += ["## Inputs", ""]
    out += _table(
        ["Input", "sha256", "Rows ingested"],
        [
            [md(i.get("path")), f"`{fmt.sha(i.get('sha256'))}`", fmt.count(i.get("rows_ingested"))]
            for i in report.inputs
        ],
    )
    out += ["## Rings", ""]
    if not report.rings:
        out += [
            f"**{fmt.NO_RINGS}**"
            if not s.rings_found
            else "No ring was active in the window shown.",
            "",
        ]
    else:
        out += _table(
            ["Ring", "Accounts", "Score", "Requests", "First seen", "Last seen", "Headline"],
            [
                [
                    md(r.ring_id),
                    fmt.count(r.size),
                    fmt.score(r.score),
                    fmt.count(r.requests),
                    report.fmt_ts(r.first_seen),
                    report.fmt_ts(r.last_seen),
                    md(r.headline),
                ]
                for r in report.rings
            ],
        )
        for ring in report.rings:
            out += _ring(report, ring)
    out += _custody(report)
    return "\n".join(out).rstrip() + "\n"


def _ring(report: Report, ring: Ring) -> list[str]:
    out = [
        f"### Ring {md(ring.ring_id)}: {fmt.count(ring.size)} accounts, score {fmt.score(ring.score)}",
        "",
        f"**{md(ring.headline)}**",
        "",
        f"Active {report.fmt_ts(ring.first_seen)} to {report.fmt_ts(ring.last_seen)}; "
        f"{fmt.count(ring.requests)} requests, {fmt.count(ring.output_tokens)} output tokens; "
        f"held together by: {md(', '.join(ring.views) or '-')}.",
        "",
    ]
    findings = fmt.ring_findings(report, ring)
    if findings:
        out += ["Findings:", ""]
        out += [
            f"- {md(f.get('text', ''))} (strength {fmt.score(_float(f.get('strength')))})"
            for f in findings
        ]
        out += [""]
    if not report.summary.ring:
        return out
    for label, items in fmt.shared_items(ring):
        out += [f"#### Shared {label}", ""]
        out += _table(
            ["Value", "Accounts", "Requests"],
            [
                [
                    escape.markdown_code(i.get("value")).replace("|", "\\|"),
                    fmt.number(i.get("accounts")),
                    fmt.number(i.get("requests")),
                ]
                for i in items
            ],
        )
    created = ring.evidence.get("created")
    if isinstance(created, dict) and created:
        out += [
            "#### Account creation",
            "",
            f"{fmt.number(created.get('accounts_with_records'))} accounts with records, created "
            f"{report.fmt_ts(created.get('first'))} to {report.fmt_ts(created.get('last'))} "
            f"(span {fmt.number(created.get('span_hours'))} hours).",
            "",
        ]
    contrast = [c for c in ring.evidence.get("contrast", []) if isinstance(c, dict)]
    if contrast:
        out += ["#### Ring versus population", ""]
        out += _table(
            ["Feature", "Ring median", "Population median", "Ring percentile", "z"],
            [
                [
                    md(c.get("label") or c.get("feature")),
                    fmt.number(c.get("ring_median")),
                    fmt.number(c.get("population_median")),
                    fmt.number(c.get("ring_percentile")),
                    fmt.number(c.get("z")),
                ]
                for c in contrast
            ],
        )
    if ring.daily:
        out += [f"#### Daily activity ({md(report.summary.tz)} days)", ""]
        out += _table(
            ["Date", "Requests", "Active accounts"],
            [
                [d.date.isoformat(), fmt.count(d.requests), fmt.count(d.accounts)]
                for d in ring.daily
            ],
        )
    examples = ring.evidence.get("examples", [])
    if examples:
        out += ["#### Example requests", ""]
        out += _table(
            ["Time", "Account", "Source IP", "User agent", "Model", "Prompt"],
            [
                [
                    report.fmt_ts(e.get("ts")),
                    md(e.get("account_id")),
                    md(e.get("src_ip")),
                    md(e.get("user_agent")),
                    md(e.get("model")),
                    md(e.get("prompt")),
                ]
                for e in examples
            ],
        )
    out += ["#### Members", ""]
    out += _table(
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
                md(m.account_id),
                fmt.score(m.score),
                fmt.count(m.requests),
                fmt.count(m.output_tokens),
                report.fmt_ts(m.first_seen),
                report.fmt_ts(m.last_seen),
                report.fmt_ts(m.created_at),
                md(m.email_domain or "-"),
            ]
            for m in ring.members
        ],
    )
    return out


def _custody(report: Report) -> list[str]:
    out = ["## Chain of custody", ""]
    out += [f"- {label}: {md(value)}" for label, value in fmt.custody_rows(report)]
    out += ["", "Inputs (full sha256):", ""]
    out += [f"- `{i.get('sha256') or '-'}` {md(i.get('path'))}" for i in report.inputs]
    return out + [""]


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
