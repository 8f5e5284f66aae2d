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

# --- report command (issue 5) ---

# --- simulate and evaluate commands (issue 3) ---


if __name__ == "__main__":  # pragma: no cover
    app()
