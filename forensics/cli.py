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
@app.command("ingest")
@user_errors
def ingest_command(
    inputs: Annotated[
        list[str] | None, typer.Argument(help="Log files, globs or folders (.gz/.zst read too).")
    ] = None,
    store: Annotated[str | None, typer.Option("--store", "-s", help="The store folder.")] = None,
    input_format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="auto (sniff), jsonl, csv, parquet, combined, common, otel, litellm.",
        ),
    ] = "auto",
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help="canonical=source, repeatable; nested paths (a.b) or another field."
        ),
    ] = None,
    mapping: Annotated[
        str | None, typer.Option("--mapping", help="TOML file with a \\[map] table.")
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="A built-in mapping profile.")
    ] = None,
    list_profiles: Annotated[
        bool, typer.Option("--list-profiles", help="List the built-in profiles and exit.")
    ] = False,
    extra_fields: Annotated[
        str | None,
        typer.Option("--extra-fields", help="Names of quoted fields after a web log's user agent."),
    ] = None,
    accounts: Annotated[
        str | None, typer.Option("--accounts", help="Account records (csv, jsonl or parquet).")
    ] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="Zone of times without an offset [UTC].")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress or summary.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object with the results to stdout.")
    ] = False,
) -> None:
    """Read access logs into the store: map, normalise, validate, de-duplicate, commit."""
    import json as _json

    from forensics.console import quiet_from_env, stderr, stdout
    from forensics.ingest.formats import format_names
    from forensics.ingest.pipeline import IngestOptions, ingest
    from forensics.ingest.profiles import PROFILES
    from forensics.ingest.sources import expand_inputs
    from forensics.ingest.summary import byte_progress, summary_lines, summary_table

    if list_profiles:
        for p in PROFILES.values():
            stdout.print(f"{p.name:<24} {p.description}", markup=False)
        return
    if not inputs and accounts is None:
        raise typer.BadParameter("give at least one INPUT (file, glob or folder) or --accounts")
    if store is None:
        raise typer.BadParameter("--store STORE is required")
    if input_format.lower() not in ("auto", *format_names()):
        raise typer.BadParameter(
            f"unknown format {input_format!r}; choose auto or one of: {', '.join(format_names())}",
            param_hint="--format",
        )
    quiet = quiet or quiet_from_env()
    options = IngestOptions(
        format=input_format.lower(),
        maps=list(maps or []),
        mapping_file=mapping,
        profile=profile,
        extra_fields=tuple(f.strip() for f in (extra_fields or "").split(",") if f.strip()),
        tz=tz,
        accounts=accounts,
    )
    files, _missing = expand_inputs(list(inputs or []))
    total = sum(f.stat().st_size for f in files)
    with byte_progress(stderr, total, enabled=not quiet) as progress:
        result = ingest(list(inputs or []), store, options, progress=progress)
    for line in result.errors:
        print(f"forensics: error: {line}".replace("\n", " "), file=sys.stderr)
    if as_json:
        print(_json.dumps(result.to_json(), default=str))
    elif not quiet:
        stderr.print(summary_table(result))
        for text in summary_lines(result):
            stderr.print(text)
    if not result.ok:
        raise typer.Exit(1)


# --- cluster and features commands (issue 4) ---
from forensics.rings.params import ALL_VIEWS as _ALL_VIEWS  # noqa: E402
from forensics.rings.params import ClusterParams as _ClusterParams  # noqa: E402

_CP = _ClusterParams()  # the one home of cluster defaults (forensics/rings/params.py)


@app.command("cluster")
@user_errors
def cluster_command(
    store: Annotated[
        str,
        typer.Argument(
            help="The store folder; with --engine spark also a URI Spark reads (s3a://, hdfs://)."
        ),
    ],
    min_ring_size: Annotated[
        int | None,
        typer.Option(
            "--min-ring-size", min=2, help=f"Smallest ring reported [{_CP.min_ring_size}]."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help=f"Seed of hashing and sampling [{_CP.seed}].")
    ] = None,
    views: Annotated[
        str | None,
        typer.Option(
            "--views",
            help=f"Views, comma-separated, of {','.join(_ALL_VIEWS)} [{','.join(_CP.views)}].",
        ),
    ] = None,
    resolution: Annotated[
        float | None,
        typer.Option(
            "--resolution", min=0.0, help=f"Leiden modularity resolution [{_CP.resolution}]."
        ),
    ] = None,
    max_token_share: Annotated[
        float | None,
        typer.Option(
            "--max-token-share",
            min=0.0,
            max=1.0,
            help=f"Drop tokens held by a larger share of accounts [{_CP.max_token_share}].",
        ),
    ] = None,
    num_perm: Annotated[
        int | None,
        typer.Option("--num-perm", min=16, help=f"MinHash permutations [{_CP.num_perm}]."),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option(
            "--min-score", min=0.0, max=1.0, help=f"Smallest ring score reported [{_CP.min_score}]."
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            metavar="local|spark",
            help="local, or spark: features, views, signatures and candidate pairs on Spark "
            "(needs the spark extra and Java 17).",
        ),
    ] = "local",
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="Spark master URL (with --engine spark) [local[*]].",
            metavar="URL",
        ),
    ] = None,
    spark_conf: Annotated[
        list[str] | None,
        typer.Option(
            "--spark-conf",
            help="A Spark setting key=value (with --engine spark); repeatable.",
            metavar="KEY=VALUE",
        ),
    ] = None,
) -> None:
    """Find rings of coordinated accounts: features, views, MinHash/LSH, graph, scoring."""
    import dataclasses

    from forensics.console import stderr
    from forensics.rings.params import ClusterParams
    from forensics.rings.pipeline import cluster_store, parse_views
    from forensics.store import Store

    given = {
        "min_ring_size": min_ring_size,
        "seed": seed,
        "resolution": resolution,
        "max_token_share": max_token_share,
        "num_perm": num_perm,
        "min_score": min_score,
    }
    params = dataclasses.replace(
        ClusterParams(),
        views=parse_views(views),
        **{k: v for k, v in given.items() if v is not None},
    )
    if engine not in ("local", "spark"):
        raise typer.BadParameter(f"{engine!r}: choose local or spark", param_hint="--engine")
    if engine == "local" and (spark_master is not None or spark_conf):
        raise typer.BadParameter("needs --engine spark", param_hint="--spark-master/--spark-conf")
    if engine == "spark":
        from forensics.spark.engine import cluster_store_spark, parse_spark_conf

        try:
            conf = parse_spark_conf(spark_conf or [])
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--spark-conf") from None
        result = cluster_store_spark(store, params, spark_master, conf)
    else:
        from forensics.store import is_uri

        if is_uri(store):
            raise typer.BadParameter(
                f"{store} is a URI: only --engine spark reads stores at URIs", param_hint="STORE"
            )
        result = cluster_store(Store(store), params)
    run = result.run
    stderr.print(
        f"cluster: {run['rings']} ring(s), {run['flagged_accounts']} flagged account(s) of "
        f"{run['accounts']}; views used: {', '.join(run['views_used']) or 'none'} "
        f"(available: {', '.join(run['views_available']) or 'none'})"
    )


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

    target = Store(store)
    if target.exists() and not target.features_path.is_file():
        stderr.print(
            "no saved feature table (run `forensics cluster`): computing it from the events"
        )
    frame = load_features(target)
    if output is None:
        stdout.print(summary_table(frame))
    else:
        fmt = export_features(frame, Path(output))
        stderr.print(f"wrote {frame.height} accounts x {frame.width - 1} features ({fmt})")


# --- report command (issue 5) ---


@app.command("report")
@user_errors
def report_command(
    store: Annotated[str, typer.Argument(help="The clustered store.", metavar="STORE")],
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="terminal, markdown, html (one offline file), json, or csv (the ban list).",
        ),
    ] = "terminal",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")
    ] = None,
    ring: Annotated[
        str | None, typer.Option("--ring", help="Drill into one ring: members and all evidence.")
    ] = None,
    tz: Annotated[str, typer.Option("--tz", help="IANA time zone for displayed times.")] = "UTC",
    start: Annotated[
        str | None,
        typer.Option("--from", help="Only events at or after this time (ISO; naive = --tz)."),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", help="Only events before this time (a bare date includes that day)."),
    ] = None,
    redact: Annotated[
        bool,
        typer.Option("--redact", help="Pseudonymise account ids, keys, IPs, e-mail domains."),
    ] = False,
    redact_key: Annotated[
        str | None,
        typer.Option(
            "--redact-key",
            envvar="FORENSICS_REDACT_KEY",
            show_envvar=True,
            help="HMAC key for --redact (or the FORENSICS_REDACT_KEY environment variable).",
        ),
    ] = None,
) -> None:
    """Write the incident report: summary, rings by score with evidence, ban list."""
    from forensics.report import FORMATS, write_report
    from forensics.report.model import parse_bound, zone

    if output_format.lower() not in FORMATS:
        raise typer.BadParameter(
            f"{output_format!r} is not one of {', '.join(FORMATS)}", param_hint="--format"
        )
    if redact and not redact_key:
        raise typer.BadParameter(
            "--redact needs a key: --redact-key KEY or FORENSICS_REDACT_KEY", param_hint="--redact"
        )
    try:
        zone(tz)
    except ForensicsError as exc:
        raise typer.BadParameter(str(exc), param_hint="--tz") from None
    for value, hint in ((start, "--from"), (end, "--to")):
        try:
            parse_bound(value, "UTC")
        except ForensicsError as exc:
            raise typer.BadParameter(str(exc), param_hint=hint) from None
    write_report(
        store,
        output_format=output_format.lower(),
        output=output,
        ring=ring,
        tz=tz,
        start=start,
        end=end,
        redact=redact_key if redact else None,
    )


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
    days: Annotated[
        int | None, typer.Option(min=1, help="Override the scenario's number of days.")
    ] = None,
) -> None:
    """Generate labelled distillation campaigns hidden in realistic benign traffic."""
    from forensics.simulate import simulate as run_simulation

    summary = run_simulation(scenario, out, seed=seed, scale=scale, fmt=format, days=days)
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
