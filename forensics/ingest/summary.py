"""What ``forensics ingest`` shows people: a progress bar and a summary table (stderr)."""

from __future__ import annotations

import os
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

from forensics.ingest.pipeline import IngestResult, InputReport

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
    """One row per input: format, rows read, ingested, duplicates, quarantined, seconds.

    Paths are shown relative to the working folder when all inputs are under it, else
    relative to their common parent, which the title names once; notes (errors, "already
    ingested") follow the table as lines (``summary_lines``), so an 80-column terminal
    keeps readable columns. Nothing is cut: a long name folds; the full path stays in the
    manifest and ``--json``.
    """
    parent, names = display_paths([r.path for r in result.inputs])
    sniffed = any(r.format_sniffed for r in result.inputs)
    table = Table(
        title=safe_text(
            f"forensics ingest: inputs under {parent}" if parent else "forensics ingest"
        ),
        title_justify="left",
        caption="* format sniffed from the content" if sniffed else None,
        caption_justify="left",
    )
    table.add_column("input", overflow="fold", ratio=1)
    table.add_column("format", no_wrap=True)
    for name in ("read", "ingested", "dupl.", "quar.", "s"):
        table.add_column(name, justify="right", no_wrap=True)
    for r, name in zip(result.inputs, names, strict=True):
        table.add_row(
            safe_text(name + (" (!)" if _note(r) else "")),
            (r.format + ("*" if r.format_sniffed else "")) or "-",
            f"{r.rows_read:,}",
            f"{r.rows_ingested:,}",
            f"{r.rows_duplicate:,}",
            f"{r.rows_quarantined:,}",
            f"{r.seconds:.2f}",
        )
    return table


def _note(r: InputReport) -> str:
    if r.status == "already_ingested":
        return "already ingested (same sha256), adds nothing"
    if r.status == "error":
        return "error: " + r.message.split(";")[0]  # the whole line is on stderr
    return r.message


def display_paths(paths: list[str]) -> tuple[str | None, list[str]]:
    """Short names for input paths: (common parent said once or None, one name per path).

    Relative to the working folder when every path is under it; else relative to the
    inputs' common parent folder (when there is one other than ``/``); else whole.
    """
    if not paths:
        return None, []
    full = [Path(p).absolute() for p in paths]
    cwd = Path.cwd()
    if all(p.is_relative_to(cwd) for p in full):
        return None, [str(p.relative_to(cwd)) for p in full]
    try:
        common = Path(os.path.commonpath([str(p.parent) for p in full]))
    except ValueError:
        return None, list(paths)
    if common == Path(common.anchor):
        return None, list(paths)
    return str(common), [str(p.relative_to(common)) for p in full]


def summary_lines(result: IngestResult) -> list[Text]:
    """Identity field, time zone assumption, quarantine location, totals."""
    lines: list[Text] = []
    _, names = display_paths([r.path for r in result.inputs])
    for r, name in zip(result.inputs, names, strict=True):
        if _note(r):
            lines.append(safe_text(f"(!) {name}: {_note(r)}"))
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
