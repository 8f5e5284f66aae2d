"""Number and label formatting shared by the human-readable writers (no escaping here)."""

from __future__ import annotations

import json
import math
from typing import Any

from forensics.report.model import SHARED_KINDS, Report, Ring

SHA_PREFIX = 12
# Findings shown per ring in the overview (all of them with --ring).
HEADLINE_FINDINGS = 3
REDACTION_NOTICE = (
    "REDACTED: account ids, API keys, IP addresses, subnets, e-mail domains, payment "
    "fingerprints and org ids are replaced by keyed HMAC pseudonyms (consistent within "
    "this report)."
)
NO_RINGS = "No rings found: the cluster run found no coordinated group of accounts in this store."


def count(n: Any) -> str:
    if n is None:
        return "-"
    return f"{n:,}" if isinstance(n, int) else str(n)


def pct(share: float | None) -> str:
    return "-" if share is None or math.isnan(share) else f"{100 * share:.1f}%"


def score(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.2f}"


def number(value: Any) -> str:
    """A measured value as found in the evidence (int, float or text)."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def sha(value: str | None) -> str:
    return (value or "-")[:SHA_PREFIX]


def title(report: Report) -> str:
    if report.summary.ring:
        return f"Distillation ring {report.summary.ring}"
    return "Distillation-campaign report"


def time_span(report: Report) -> str:
    s = report.summary
    return f"{report.fmt_ts(s.first_event)} to {report.fmt_ts(s.last_event)}"


def window(report: Report) -> str:
    s = report.summary
    if s.window_start is None and s.window_end is None:
        return "all events"
    start = report.fmt_ts(s.window_start) if s.window_start else "the first event"
    end = report.fmt_ts(s.window_end) if s.window_end else "the last event"
    return f"from {start} to {end} (end excluded)"


def summary_rows(report: Report) -> list[tuple[str, str]]:
    """The summary as label/value pairs (values are tool-made, not log text)."""
    s = report.summary
    several = (
        [("Accounts in more than one ring", count(s.accounts_in_several_rings))]
        if s.accounts_in_several_rings
        else []
    )
    return [
        ("Time span", time_span(report)),
        ("Window shown", window(report)),
        ("Time zone", s.tz),
        ("Events (requests)", count(s.events)),
        ("Accounts", count(s.accounts)),
        ("Rings found", count(s.rings_found)),
        ("Accounts flagged", count(s.accounts_flagged)),
        *several,
        ("Flagged share of requests", pct(s.share_requests)),
        ("Flagged share of output tokens", pct(s.share_output_tokens)),
    ]


def ring_findings(report: Report, ring: Ring) -> list[dict[str, Any]]:
    return ring.findings if report.summary.ring else ring.findings[:HEADLINE_FINDINGS]


def custody_rows(report: Report) -> list[tuple[str, str]]:
    """Chain-of-custody facts as label/value pairs; values may hold paths (log-ish text)."""
    s = report.summary
    run = s.cluster_run
    rows = [
        ("Report generated", report.fmt_ts(s.generated_at)),
        ("Tool version", f"forensics {s.tool_version}"),
        ("Report parameters", compact(s.parameters)),
        ("Cluster run", f"{run.get('started_at', '-')} to {run.get('finished_at', '-')}"),
        ("Cluster tool version", str(run.get("tool_version", "-"))),
        ("Cluster seed", str(run.get("seed", "-"))),
        ("Cluster parameters", compact(run.get("parameters", {}))),
    ]
    return rows


def compact(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(", ", ": "), default=str)


def shared_items(ring: Ring) -> list[tuple[str, list[dict[str, Any]]]]:
    """(label, items) for each non-empty list in the evidence's ``shared`` section."""
    shared = ring.evidence.get("shared")
    if not isinstance(shared, dict):
        return []
    out = []
    for key, label in SHARED_KINDS:
        items = [i for i in shared.get(key) or [] if isinstance(i, dict)]
        if items:
            out.append((label, items))
    return out
