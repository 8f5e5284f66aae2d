"""The command line: one thin Typer function per command.

Each command parses options and calls a plain library function that a notebook user could
call too. Errors a user can cause (ForensicsError) become one line on stderr and exit 1;
usage errors exit 2 (Typer's own handling).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from forensics import __version__
from forensics.errors import ForensicsError

app = typer.Typer(
    name="forensics",
    help="Find LLM API distillation campaigns in access logs: ingest, cluster, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(fn: F) -> F:
    """Turn a ForensicsError into one clear stderr line and exit code 1 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ForensicsError as exc:
            print(f"forensics: error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            print("forensics: interrupted", file=sys.stderr)
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        print(f"forensics {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Offline log forensics for LLM API distillation campaigns."""


# --- ingest command (issue 2) ---

# --- cluster and features commands (issue 4) ---
@app.command("features")
@user_errors
def features_command(
    store: Annotated[str, typer.Argument(help="The store folder.")],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write the table to FILE (.parquet, .csv or .json by extension)."
        ),
    ] = None,
) -> None:
    """Export the per-account feature table (computed from the store if `cluster` has not run)."""
    from pathlib import Path

    from forensics.console import stderr, stdout
    from forensics.features.export import export_features, load_features, summary_table
    from forensics.store import Store

    frame = load_features(Store(store))
    if output is None:
        stdout.print(summary_table(frame))
    else:
        fmt = export_features(frame, Path(output))
        stderr.print(f"wrote {frame.height} accounts x {frame.width - 1} features ({fmt})")


# --- report command (issue 5) ---

# --- simulate and evaluate commands (issue 3) ---
@app.command()
@user_errors
def simulate(
    scenario: Annotated[
        str, typer.Option(help="smoke, evasive, traps, camouflage or campaign (docs/simulate.md).")
    ],
    out: Annotated[str, typer.Option(help="Output folder: events/, accounts.csv, truth.csv.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same bytes.")] = 1,
    scale: Annotated[
        float, typer.Option(min=0.0001, help="Multiply account counts (and so events) by this.")
    ] = 1.0,
    format: Annotated[
        str, typer.Option("--format", help="Event format: jsonl, csv or combined.")
    ] = "jsonl",
) -> None:
    """Generate labelled distillation campaigns hidden in realistic benign traffic."""
    from forensics.simulate import simulate as run_simulation

    summary = run_simulation(scenario, out, seed=seed, scale=scale, fmt=format)
    print(
        f"{summary['events']} events, {summary['accounts']} accounts "
        f"({summary['ring_accounts']} in {summary['rings']} rings) -> {summary['out']}"
    )


@app.command()
@user_errors
def evaluate(
    store: Annotated[str, typer.Argument(help="A clustered store.")],
    truth: Annotated[str, typer.Option(help="truth.csv written by `forensics simulate`.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Score the store's rings against ground truth: precision, recall, ring agreement."""
    from forensics.evaluate import evaluate as run_evaluation
    from forensics.evaluate import render, to_json

    result = run_evaluation(store, truth)
    if json_output:
        print(to_json(result))
    else:
        render(result)


if __name__ == "__main__":  # pragma: no cover
    app()
