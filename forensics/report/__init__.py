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
from pathlib import Path

from forensics.errors import ForensicsError
from forensics.report.model import FORMATS, Report, build_report

__all__ = ["FORMATS", "Report", "build_report", "render", "write_report"]


def render(report: Report, output_format: str) -> str:
    """The report as text in one of ``FORMATS`` (terminal: plain text, no colour)."""
    if output_format == "markdown":
        from forensics.report.markdown import render_markdown

        return render_markdown(report)
    if output_format == "html":
        from forensics.report.html import render_html

        return render_html(report)
    if output_format == "json":
        from forensics.report.json import render_json

        return render_json(report)
    if output_format == "csv":
        from forensics.report.csv import render_csv

        return render_csv(report)
    if output_format == "terminal":
        from forensics.report.terminal import terminal_text

        buffer = io.StringIO()
        terminal_text(report, buffer)
        return buffer.getvalue()
    raise ForensicsError(
        f"unknown report format {output_format!r}; use one of {', '.join(FORMATS)}"
    )


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
        from forensics.console import stdout
        from forensics.report.terminal import render_terminal

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
    from rich.text import Text

    from forensics.console import quiet_from_env, stderr
    from forensics.report.escape import terminal

    if not quiet_from_env():
        # the path is user text: printed as plain Text, never as Rich markup
        stderr.print(
            Text(f"report ({output_format}, {len(report.rings)} rings) written to {terminal(path)}")
        )
    return report
