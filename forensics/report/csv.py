"""CSV ban list: one row per flagged account, strongest ring first.

Columns: ``ring_id, account_id, score`` (the account's membership strength), the ring's
score, size and headline evidence, then the chain of custody repeated on every row
(generation time, tool version, inputs' sha256, report parameters, redaction), so that the
file stays a plain table that enforcement scripts can read. Every text cell is neutralised
against spreadsheet formula injection (``escape.csv_cell``).
"""

from __future__ import annotations

import csv
import io

from forensics.report import escape
from forensics.report.fmt import compact
from forensics.report.model import Report, iso

COLUMNS: tuple[str, ...] = (
    "ring_id",
    "account_id",
    "score",
    "ring_score",
    "ring_size",
    "headline",
    "generated_at",
    "tool_version",
    "inputs_sha256",
    "parameters",
    "redacted",
)


def render_csv(report: Report) -> str:
    """The ban list as CSV text (header row always present)."""
    s = report.summary
    custody = [
        iso(s.generated_at),
        s.tool_version,
        ";".join(i.get("sha256") or "" for i in report.inputs),
        compact(s.parameters | {"cluster_seed": s.cluster_run.get("seed")}),
        "true" if s.redacted else "false",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for ring in report.rings:
        for m in ring.members:
            row = [
                ring.ring_id,
                m.account_id,
                f"{m.score:.4f}",
                f"{ring.score:.4f}",
                ring.size,
                ring.headline,
                *custody,
            ]
            writer.writerow([escape.csv_cell(c) for c in row])
    return buffer.getvalue()
