"""JSON report: one object ``{"summary", "inputs", "rings"}`` as in docs/design.md.

Each ring has the contract keys ``ring_id``, ``size``, ``score``, ``accounts`` (account ids,
strongest member first) and ``evidence`` (the findings), plus the rest of the evidence
document (``shared``, ``created``, ``contrast``, ``examples``), ``members`` with per-account
activity and a ``timeline`` recomputed for the report's window and time zone. Times are
UTC ISO 8601; the chain of custody is in ``summary``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from forensics.report.model import Report, Ring, iso


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 6)


def report_dict(report: Report) -> dict[str, Any]:
    """The report as JSON-ready Python objects."""
    s = report.summary
    summary = {
        "title": "distillation-campaign report",
        "redacted": s.redacted,
        "ring": s.ring,
        "first_event": iso(s.first_event),
        "last_event": iso(s.last_event),
        "window": {"from": iso(s.window_start), "to": iso(s.window_end)},
        "tz": s.tz,
        "events": s.events,
        "accounts": s.accounts,
        "output_tokens": s.output_tokens,
        "rings_found": s.rings_found,
        "rings_shown": s.rings_shown,
        "accounts_flagged": s.accounts_flagged,
        "accounts_in_several_rings": s.accounts_in_several_rings,
        "flagged_requests": s.flagged_requests,
        "flagged_output_tokens": s.flagged_output_tokens,
        "flagged_share_requests": _num(s.share_requests) if s.share_requests is not None else None,
        "flagged_share_output_tokens": (
            _num(s.share_output_tokens) if s.share_output_tokens is not None else None
        ),
        "generated_at": iso(s.generated_at),
        "tool_version": s.tool_version,
        "parameters": s.parameters,
        "cluster_run": s.cluster_run,
    }
    return {
        "summary": summary,
        "inputs": report.inputs,
        "rings": [_ring(r) for r in report.rings],
    }


def _ring(ring: Ring) -> dict[str, Any]:
    evidence = ring.evidence
    return {
        "ring_id": ring.ring_id,
        "size": ring.size,
        "score": _num(ring.score),
        "headline": ring.headline,
        "first_seen": iso(ring.first_seen),
        "last_seen": iso(ring.last_seen),
        "requests": ring.requests,
        "output_tokens": ring.output_tokens,
        "views": ring.views,
        "accounts": [m.account_id for m in ring.members],
        "evidence": ring.findings,
        "shared": evidence.get("shared", {}),
        "created": evidence.get("created"),
        "contrast": evidence.get("contrast", []),
        "examples": evidence.get("examples", []),
        "timeline": [
            {"date": d.date.isoformat(), "requests": d.requests, "accounts": d.accounts}
            for d in ring.daily
        ],
        "members": [
            {
                "account_id": m.account_id,
                "score": _num(m.score),
                "requests": m.requests,
                "output_tokens": m.output_tokens,
                "first_seen": iso(m.first_seen),
                "last_seen": iso(m.last_seen),
                "created_at": iso(m.created_at),
                "email_domain": m.email_domain,
            }
            for m in ring.members
        ],
    }


def render_json(report: Report) -> str:
    """The report as one JSON document (log text is escaped by the JSON encoder)."""
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False, default=str) + "\n"
