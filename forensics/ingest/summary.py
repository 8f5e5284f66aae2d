"""What ``forensics ingest`` shows people: a progress bar and a summary table (stderr)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from forensics.ingest.pipeline import IngestResult

# Below this many input bytes a progress bar only flickers.
PROGRESS_MIN_BYTES = 16 * 1024 * 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe_text(value: str) -> Text:
    """Attacker-controlled text (paths, field names) as inert Rich text: no markup, no escapes."""
    return Text(_CONTROL.sub("?", value))


@contextmanager
def byte_progress(
    console: Console, total_bytes: int, enabled: bool
) -> Iterator[Callable[[int], None] | None]:
    """A progress bar by input bytes read, on a terminal and for large inputs only."""
    if not enabled or not console.is_terminal or total_bytes < PROGRESS_MIN_BYTES:
        yield None
        return
    with Progress(
        TextColumn("ingest"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("ingest", total=total_bytes)
        yield lambda n: progress.advance(task, n)


def summary_table(result: IngestResult) -> Table:
    """One row per input: format, rows read, ingested, duplicates, quarantined, seconds."""
    table = Table(title="forensics ingest", title_justify="left", show_lines=False)
    table.add_column("input", overflow="fold")
    table.add_column("format")
    table.add_column("read", justify="right")
    table.add_column("ingested", justify="right")
    table.add_column("duplicates", justify="right")
    table.add_column("quarantined", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("note", overflow="fold")
    for r in result.inputs:
        note = {
            "ingested": "",
            "already_ingested": "already ingested (same sha256), adds nothing",
            "error": r.message,
        }[r.status]
        if r.status == "ingested" and r.message:
            note = r.message
        if r.status == "error":
            note = "error: " + r.message.split(";")[0]  # the whole line is on stderr
        table.add_row(
            safe_text(_short_path(r.path)),
            (f"{r.format} (sniffed)" if r.format_sniffed else r.format) or "-",
            f"{r.rows_read:,}",
            f"{r.rows_ingested:,}",
            f"{r.rows_duplicate:,}",
            f"{r.rows_quarantined:,}",
            f"{r.seconds:.2f}",
            safe_text(note),
        )
    return table


def _short_path(path: str) -> str:
    """The path relative to the working folder when it is under it (the manifest keeps it whole)."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def summary_lines(result: IngestResult) -> list[Text]:
    """Identity field, time zone assumption, quarantine location, totals."""
    lines: list[Text] = []
    done = [r for r in result.inputs if r.status == "ingested"]
    for label, attr in (("account identity from", "identity_field"), ("times", "tz")):
        values = sorted({getattr(r, attr) for r in done if getattr(r, attr)})
        if values:
            lines.append(safe_text(f"{label}: {'; '.join(values)}"))
    reasons: dict[str, int] = {}
    for r in done:
        for k, v in r.quarantine_reasons.items():
            reasons[k] = reasons.get(k, 0) + v
    if result.quarantine:
        top = ", ".join(f"{k} {v:,}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
        lines.append(safe_text(f"quarantined rows ({top}) in {result.quarantine}"))
    if result.accounts_imported:
        lines.append(safe_text(f"account records imported: {result.accounts_imported:,}"))
    total = sum(r.rows_ingested for r in done)
    lines.append(
        safe_text(
            f"{total:,} events ingested into {result.store} in {result.seconds:.1f} s"
            if result.txn
            else f"nothing new ingested into {result.store}"
        )
    )
    return lines
