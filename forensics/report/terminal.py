"""Terminal report (Rich): summary, inputs, rings by score with headline evidence.

Log text is cleaned by ``escape.terminal`` (no ANSI escapes or control characters) and is
always wrapped in ``rich.text.Text``: a plain ``str`` given to Rich is parsed as markup,
so a prompt such as ``[link=...]`` would otherwise be interpreted.
"""

from __future__ import annotations

from typing import IO, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from forensics.report import escape, fmt
from forensics.report.model import Report, Ring


def t(value: Any, style: str = "") -> Text:
    """Log text (or any value) as inert, cleaned Rich text."""
    return Text(escape.terminal(value), style=style)


def _table(title: str, columns: list[str], **kwargs: Any) -> Table:
    table = Table(title=t(title), title_justify="left", box=box.SIMPLE_HEAD, **kwargs)
    for column in columns:
        # fold, never truncate: a sha256 or an account id cut short is no evidence
        table.add_column(t(column), overflow="fold")
    return table


def renderables(report: Report) -> list[RenderableType]:
    """The report as a list of Rich renderables."""
    s = report.summary
    parts: list[RenderableType] = [t(fmt.title(report), "bold")]
    if s.redacted:
        parts.append(Panel(t(fmt.REDACTION_NOTICE, "bold yellow"), box=box.ASCII))
    summary = Table.grid(padding=(0, 2))
    summary.add_column(style="bold", no_wrap=True)
    summary.add_column(overflow="fold")
    for label, value in fmt.summary_rows(report):
        summary.add_row(t(label), t(value))
    parts.append(summary)

    inputs = _table("Inputs", ["input", "sha256", "rows ingested"])
    for i in report.inputs:
        inputs.add_row(
            t(i.get("path")), t(fmt.sha(i.get("sha256"))), t(fmt.count(i.get("rows_ingested")))
        )
    parts.append(inputs)

    if not report.rings:
        message = fmt.NO_RINGS if not s.rings_found else "No ring was active in the window shown."
        parts.append(t(message, "bold"))
    else:
        rings = _table(
            "Rings (by score)", ["ring", "accounts", "score", "requests", "first seen", "last seen"]
        )
        for r in report.rings:
            rings.add_row(
                t(r.ring_id, "bold"),
                t(fmt.count(r.size)),
                t(fmt.score(r.score)),
                t(fmt.count(r.requests)),
                t(report.fmt_day(r.first_seen)),
                t(report.fmt_day(r.last_seen)),
            )
        parts.append(rings)
        for r in report.rings:
            parts.append(_findings(report, r))
        if s.ring:
            parts += _ring_detail(report, report.rings[0])
    parts.append(t(""))
    parts.append(t("Chain of custody", "bold"))
    for label, value in fmt.custody_rows(report):
        line = t(f"{label}: ", "bold")
        line.append_text(t(value))
        parts.append(line)
    for i in report.inputs:
        line = t("Input: ", "bold")
        line.append_text(t(i.get("path")))
        parts.append(line)
        parts.append(t(f"  sha256 {escape.terminal(i.get('sha256') or '-')}"))
    return parts


def _findings(report: Report, ring: Ring) -> Text:
    """A ring's headline evidence, then its strongest findings (all of them with --ring)."""
    text = t(f"{ring.ring_id} ({fmt.score(ring.score)}): ", "bold")
    text.append_text(t(ring.headline, "bold"))
    for f in fmt.ring_findings(report, ring):
        if f.get("text") and f.get("text") != ring.headline:
            text.append("\n  - ")
            text.append_text(t(f.get("text")))
    return text


def _ring_detail(report: Report, ring: Ring) -> list[RenderableType]:
    parts: list[RenderableType] = []
    for label, items in fmt.shared_items(ring):
        table = _table(f"Shared {label}", ["value", "accounts", "requests"])
        for i in items:
            table.add_row(
                t(i.get("value")),
                t(fmt.number(i.get("accounts"))),
                t(fmt.number(i.get("requests"))),
            )
        parts.append(table)
    created = ring.evidence.get("created")
    if isinstance(created, dict) and created:
        parts.append(
            t(
                f"Account creation: {fmt.number(created.get('accounts_with_records'))} accounts with records, "
                f"created {report.fmt_ts(created.get('first'))} to {report.fmt_ts(created.get('last'))} "
                f"(span {fmt.number(created.get('span_hours'))} hours)"
            )
        )
    contrast = [c for c in ring.evidence.get("contrast", []) if isinstance(c, dict)]
    if contrast:
        table = _table(
            "Ring versus population",
            ["feature", "ring median", "population median", "ring percentile", "z"],
        )
        for c in contrast:
            table.add_row(
                t(c.get("label") or c.get("feature")),
                t(fmt.number(c.get("ring_median"))),
                t(fmt.number(c.get("population_median"))),
                t(fmt.number(c.get("ring_percentile"))),
                t(fmt.number(c.get("z"))),
            )
        parts.append(table)
    if ring.daily:
        table = _table(
            f"Daily activity ({report.summary.tz} days)", ["date", "requests", "active accounts"]
        )
        for d in ring.daily:
            table.add_row(t(d.date.isoformat()), t(fmt.count(d.requests)), t(fmt.count(d.accounts)))
        parts.append(table)
    examples = ring.evidence.get("examples", [])
    if examples:
        table = _table(
            "Example requests", ["time", "account", "source IP", "user agent", "model", "prompt"]
        )
        for e in examples:
            table.add_row(
                t(report.fmt_ts(e.get("ts"))),
                t(e.get("account_id")),
                t(e.get("src_ip")),
                t(e.get("user_agent")),
                t(e.get("model")),
                t(e.get("prompt")),
            )
        parts.append(table)
    members = _table(
        f"Members of {escape.terminal(ring.ring_id)}",
        [
            "account",
            "membership",
            "requests",
            "output tokens",
            "first seen",
            "last seen",
            "created",
            "e-mail domain",
        ],
    )
    for m in ring.members:
        members.add_row(
            t(m.account_id),
            t(fmt.score(m.score)),
            t(fmt.count(m.requests)),
            t(fmt.count(m.output_tokens)),
            t(report.fmt_ts(m.first_seen)),
            t(report.fmt_ts(m.last_seen)),
            t(report.fmt_ts(m.created_at)),
            t(m.email_domain or "-"),
        )
    parts.append(members)
    return parts


def render_terminal(report: Report, console: Console) -> None:
    """Print the report on a Rich console."""
    console.print(Group(*renderables(report)))


def terminal_text(report: Report, file: IO[str], width: int = 140) -> None:
    """Write the report as plain text (no colours) to a file, e.g. for ``--output``."""
    console = Console(file=file, width=width, color_system=None, highlight=False, emoji=False)
    render_terminal(report, console)
