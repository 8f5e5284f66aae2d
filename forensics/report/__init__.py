"""`forensics report`: the incident report, built once and written in five formats.

``build_report`` (model.py) reads the clustered store into a ``Report``; one writer per
format turns it into text: terminal (Rich), Markdown, HTML (self-contained, inline SVG
charts), JSON and the CSV ban list. ``write_report`` is what the command line calls.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import sys
from collections.abc import Callable
from pathlib import Path

from rich.text import Text

from forensics.console import quiet_from_env, stderr, stdout
from forensics.errors import ForensicsError
from forensics.report import escape
from forensics.report.csv import render_csv
from forensics.report.html import render_html
from forensics.report.json import render_json
from forensics.report.markdown import render_markdown
from forensics.report.model import FORMATS, Report, build_report
from forensics.report.terminal import render_terminal, terminal_text

__all__ = ["FORMATS", "Report", "build_report", "render", "write_report"]


def _terminal_plain(report: Report) -> str:
    buffer = io.StringIO()
    terminal_text(report, buffer)
    return buffer.getvalue()


WRITERS: dict[str, Callable[[Report], str]] = {
    "terminal": _terminal_plain,
    "markdown": render_markdown,
    "html": render_html,
    "json": render_json,
    "csv": render_csv,
}


def render(report: Report, output_format: str) -> str:
    """The report as text in one of ``FORMATS`` (terminal: plain text, no colour)."""
    writer = WRITERS.get(output_format)
    if writer is None:
        raise ForensicsError(
            f"unknown report format {output_format!r}; use one of {', '.join(FORMATS)}"
        )
    return writer(report)


def write_report(
    store: str | os.PathLike[str],
    output_format: str = "terminal",
    output: str | os.PathLike[str] | None = None,
    ring: str | None = None,
    tz: str = "UTC",
    start: dt.datetime | str | None = None,
    end: dt.datetime | str | None = None,
    redact: str | None = None,
) -> Report:
    """Build the report of ``store`` and write it to ``output`` (a file) or stdout.

    The terminal format printed to stdout uses Rich's colours when stdout is a terminal.
    """
    if output_format not in FORMATS:
        raise ForensicsError(
            f"unknown report format {output_format!r}; use one of {', '.join(FORMATS)}"
        )
    report = build_report(
        store,
        ring=ring,
        tz=tz,
        start=start,
        end=end,
        redact=redact,
        charts=output_format == "html",
        output_format=output_format,
    )
    if output is None and output_format == "terminal":
        render_terminal(report, stdout)
        return report
    text = render(report, output_format)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return report
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(path)
    except OSError as exc:
        raise ForensicsError(f"cannot write {output}: {exc.strerror or exc}") from None
    if not quiet_from_env():
        # the path is user text: printed as plain Text, never as Rich markup
        stderr.print(
            Text(
                f"report ({output_format}, {len(report.rings)} rings) written to {escape.terminal(path)}"
            )
        )
    return report
