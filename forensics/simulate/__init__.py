"""Labelled distillation campaigns hidden in realistic benign traffic.

``simulate(scenario, out)`` writes ``out/events/part-NNNNN.<ext>`` (one part per UTC day),
``out/accounts.csv`` and ``out/truth.csv``. Output is byte-identical for the same scenario,
seed, scale and format. See docs/simulate.md for the scenarios and the model behind them.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import numpy as np

from forensics.console import quiet_from_env, stderr
from forensics.errors import ForensicsError
from forensics.simulate import population
from forensics.simulate.events import day_events
from forensics.simulate.scenarios import SCENARIOS, Scenario, get_scenario
from forensics.simulate.writers import EXTENSIONS, FORMATS, write_part

__all__ = ["SCENARIOS", "Scenario", "get_scenario", "simulate"]

# The new model is released on this date; each scenario starts `release_day` days earlier.
RELEASE_DATE = dt.datetime(2025, 2, 24, tzinfo=dt.UTC)
_PART = re.compile(r"^part-\d{5}\.(jsonl|csv|log)(\.gz)?$")


def _outages(sc: Scenario, rng: np.random.Generator) -> np.ndarray:
    """Provider incidents: (start hour, end hour) since scenario start."""
    starts = rng.uniform(0, sc.days * 24 - 3, sc.incidents)
    return np.c_[starts, starts + rng.uniform(0.3, 2.5, sc.incidents)]


def simulate(
    scenario: str,
    out: str | Path,
    *,
    seed: int = 1,
    scale: float = 1.0,
    fmt: str = "jsonl",
    days: int | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Generate the scenario into ``out``; return counts (events, accounts, rings...)."""
    if fmt not in FORMATS:
        raise ForensicsError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}")
    sc = get_scenario(scenario, scale)
    if days is not None:
        if days < 1:
            raise ForensicsError("--days must be at least 1")
        sc = type(sc)(**{**sc.__dict__, "days": days, "release_day": min(sc.release_day, days - 1)})
    out = Path(out)
    events_dir = out / "events"
    if out.exists() and not out.is_dir():
        raise ForensicsError(f"{out} exists and is not a folder")
    if events_dir.exists():
        # Replace an earlier run's parts, but never delete anything else.
        foreign = [p for p in events_dir.iterdir() if not _PART.match(p.name)]
        if foreign:
            raise ForensicsError(
                f"{events_dir} holds files that simulate did not write ({foreign[0].name}); "
                "choose an empty --out folder"
            )
        for part in events_dir.iterdir():
            part.unlink()
    events_dir.mkdir(parents=True, exist_ok=True)

    root = np.random.SeedSequence([seed, 20250224])
    pop_seq, outage_seq, *day_seqs = root.spawn(2 + sc.days)
    start = RELEASE_DATE - dt.timedelta(days=sc.release_day)
    start_ts = start.timestamp()
    pop = population.build(sc, np.random.default_rng(pop_seq), start_ts)
    outages = _outages(sc, np.random.default_rng(outage_seq))
    pop.accounts.write_csv(out / "accounts.csv")
    pop.truth.write_csv(out / "truth.csv")

    show = (not quiet_from_env()) if progress is None else progress
    total = 0
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        TextColumn("simulate {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, disable=not show, transient=False) as bar:
        task = bar.add_task(f"{sc.name} ({pop.n} accounts)", total=sc.days)
        for day in range(sc.days):
            frame = day_events(pop, day, np.random.default_rng(day_seqs[day]), start_ts, outages)
            if frame.height:
                path = events_dir / f"part-{day:05d}.{EXTENSIONS[fmt]}"
                write_part(frame, path, fmt)
                total += frame.height
            bar.advance(task)
    n_ring = int((pop.ring >= 0).sum())
    return {
        "scenario": sc.name,
        "out": str(out),
        "seed": seed,
        "scale": scale,
        "format": fmt,
        "days": sc.days,
        "start": start.isoformat().replace("+00:00", "Z"),
        "events": total,
        "accounts": pop.n,
        "ring_accounts": n_ring,
        "rings": len(sc.rings),
    }
