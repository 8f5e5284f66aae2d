"""The report model: everything a report says, built once from the store, for every format.

``build_report`` reads the manifest, ``rings/`` (rings, members, run.json, and for charts the
edges) and ``features/accounts.parquet``, and makes one pass over the events (lazy Polars,
``collect_all``) for the figures that depend on the requested time window and time zone:
daily requests per ring and for the unflagged population, per-member totals, and the
flagged accounts' share of requests and output tokens. The writers only format this model;
redaction (``--redact``) is applied to the model, so every format is redacted alike.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from forensics import __version__
from forensics.errors import ForensicsError
from forensics.report import redact as rd
from forensics.schema import RING_MEMBER_SCHEMA, RING_SCHEMA
from forensics.store import Store

FORMATS: tuple[str, ...] = ("terminal", "markdown", "html", "json", "csv")
# Features drawn per ring in the HTML report (ring vs population distributions).
CHART_FEATURES_PER_RING = 4
# Caps of the similarity-graph drawing: strongest members, strongest edges among them.
GRAPH_NODES = 300
GRAPH_EDGES = 3000
# The evidence keys of docs/store.md besides "findings".
SHARED_KINDS: tuple[tuple[str, str], ...] = (
    ("prompt_templates", "prompt templates"),
    ("subnets", "subnets"),
    ("ips", "IP addresses"),
    ("user_agents", "user agents"),
    ("payment_fingerprints", "payment fingerprints"),
    ("email_domains", "e-mail domains"),
    ("models", "models"),
    ("org_ids", "org ids"),
)


@dataclass
class Member:
    """One flagged account of a ring, with its activity inside the report window."""

    account_id: str
    score: float
    requests: int = 0
    output_tokens: int = 0
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    created_at: dt.datetime | None = None
    email_domain: str | None = None
    country: str | None = None


@dataclass
class Day:
    """Activity of one group (a ring, or the unflagged population) on one local day.

    ``accounts`` (active accounts) is counted for rings only; None for the population.
    """

    date: dt.date
    requests: int
    accounts: int | None


@dataclass
class Ring:
    """A ring as the report shows it: the cluster's verdict plus window-limited activity."""

    ring_id: str
    size: int
    score: float
    first_seen: dt.datetime | None
    last_seen: dt.datetime | None
    requests: int
    output_tokens: int
    views: list[str]
    headline: str
    findings: list[dict[str, Any]]
    evidence: dict[str, Any]
    members: list[Member]
    daily: list[Day]
    edges: list[tuple[str, str, float, str]] = field(default_factory=list)
    # feature name -> member values (only when charts were requested)
    features: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Summary:
    """Store-wide figures for the report window, and the chain of custody."""

    store: str
    generated_at: dt.datetime
    tool_version: str
    tz: str
    window_start: dt.datetime | None
    window_end: dt.datetime | None
    first_event: dt.datetime | None
    last_event: dt.datetime | None
    events: int
    accounts: int
    output_tokens: int
    rings_found: int
    rings_shown: int
    accounts_flagged: int
    accounts_in_several_rings: int
    flagged_requests: int
    flagged_output_tokens: int
    redacted: bool
    ring: str | None
    parameters: dict[str, Any]
    cluster_run: dict[str, Any]

    @property
    def share_requests(self) -> float | None:
        return self.flagged_requests / self.events if self.events else None

    @property
    def share_output_tokens(self) -> float | None:
        return self.flagged_output_tokens / self.output_tokens if self.output_tokens else None


@dataclass
class Report:
    """The whole report: summary, inputs (manifest records), rings, population baseline."""

    summary: Summary
    inputs: list[dict[str, Any]]
    rings: list[Ring]
    population_daily: list[Day]
    # feature name -> (label, all accounts' values), for ring-vs-population charts
    population_features: dict[str, tuple[str, np.ndarray]] = field(default_factory=dict)

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.summary.tz)

    def local(self, ts: dt.datetime | None) -> dt.datetime | None:
        """A UTC time in the report's display time zone."""
        return None if ts is None else ts.astimezone(self.zone)

    def fmt_day(self, ts: dt.datetime | None) -> str:
        """The local day of a time: ``2024-05-01``."""
        return "-" if ts is None else self.local(ts).strftime("%Y-%m-%d")  # type: ignore[union-attr]

    def fmt_ts(self, ts: dt.datetime | str | None) -> str:
        """A time for display: ``2024-05-01 12:00:00 CEST`` in the report's time zone."""
        if isinstance(ts, str):
            ts = parse_iso(ts)
        if ts is None:
            return "-"
        return self.local(ts).strftime("%Y-%m-%d %H:%M:%S %Z")  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- parsing


def zone(tz: str) -> zoneinfo.ZoneInfo:
    """The IANA time zone ``tz`` or a clear error."""
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ForensicsError(
            f"unknown time zone {tz!r}; use an IANA name such as UTC or Europe/Paris"
        ) from None


def parse_iso(text: str | None) -> dt.datetime | None:
    """An ISO 8601 time from the evidence document (UTC when it has no offset)."""
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def parse_bound(text: str | None, tz: str, *, end: bool = False) -> dt.datetime | None:
    """A ``--from``/``--to`` bound in UTC: ISO date or date-time, naive ones read in ``tz``.

    A bare date as ``--to`` includes that whole day (the bound is the next midnight).
    """
    if text is None or text == "":
        return None
    text = text.strip()
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            value = dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time())
        else:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ForensicsError(
            f"cannot read time {text!r}; use ISO 8601, e.g. 2024-05-01 or 2024-05-01T12:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz))
    return value.astimezone(dt.UTC)


def iso(ts: dt.datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, as the store's documents write times."""
    if ts is None:
        return None
    return ts.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _load_evidence(text: str | None) -> dict[str, Any]:
    """The ring's evidence document (docs/store.md), parsed and coerced to its documented
    shape: whatever a damaged or hostile document holds, writers see lists of dicts with
    text as ``str`` and measures as numbers or None."""
    try:
        doc = json.loads(text) if text else {}
    except (TypeError, ValueError):
        doc = {}
    if not isinstance(doc, dict):
        doc = {}

    def dicts(value: Any) -> list[dict[str, Any]]:
        return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []

    clean: dict[str, Any] = {
        "findings": [
            {
                "kind": _text(f.get("kind")) or "finding",
                "text": _text(f.get("text")) or "",
                "strength": _number(f.get("strength")),
            }
            for f in dicts(doc.get("findings"))
        ]
    }
    shared = doc.get("shared")
    if isinstance(shared, dict):
        clean["shared"] = {
            str(key): [
                {
                    "value": _text(i.get("value")) or "",
                    "accounts": _number(i.get("accounts")),
                    "requests": _number(i.get("requests")),
                }
                for i in dicts(items)
            ]
            for key, items in shared.items()
        }
    created = doc.get("created")
    if isinstance(created, dict):
        clean["created"] = {
            "first": _text(created.get("first")),
            "last": _text(created.get("last")),
            "accounts_with_records": _number(created.get("accounts_with_records")),
            "span_hours": _number(created.get("span_hours")),
        }
    if "contrast" in doc:
        clean["contrast"] = [
            {
                "feature": _text(c.get("feature")) or "",
                "label": _text(c.get("label") or c.get("feature")) or "",
            }
            | {
                k: _number(c.get(k))
                for k in ("ring_median", "population_median", "ring_percentile", "z")
            }
            for c in dicts(doc.get("contrast"))
        ]
    if "timeline" in doc:
        clean["timeline"] = dicts(doc.get("timeline"))
    clean["examples"] = [
        {str(k): _text(v) for k, v in e.items()} for e in dicts(doc.get("examples"))
    ]
    return clean


def _text(value: Any) -> str | None:
    """Text from a JSON scalar (None stays None; lists and objects become their JSON)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, bool)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _number(value: Any) -> int | float | None:
    """A measure from a JSON value: int or finite float, else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def _utc(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


# ----------------------------------------------------------------------------- building


def build_report(
    store: Store | str,
    ring: str | None = None,
    tz: str = "UTC",
    start: dt.datetime | str | None = None,
    end: dt.datetime | str | None = None,
    redact: str | bytes | None = None,
    *,
    charts: bool = False,
    output_format: str | None = None,
) -> Report:
    """Build the report model of a clustered store.

    ``ring`` limits the rings to one (with members and all evidence); ``tz`` is the display
    time zone (and the one that defines "days"); ``start``/``end`` limit the events counted
    to ``[start, end)``; ``redact`` is the HMAC key that pseudonymises identifiers;
    ``charts`` also loads the similarity edges and feature values the HTML charts draw.
    """
    store = store if isinstance(store, Store) else Store(store)
    store.require()
    if not store.has_rings():
        raise ForensicsError(
            f"{store.root} has not been clustered yet (no rings/); run `forensics cluster {store.root}` first"
        )
    zone(tz)
    if redact is not None and not redact:
        raise ForensicsError("the redaction key is empty; give a non-empty key")
    start_utc = parse_bound(start, tz) if isinstance(start, str) else _utc(start)
    end_utc = parse_bound(end, tz, end=True) if isinstance(end, str) else _utc(end)
    if start_utc and end_utc and start_utc >= end_utc:
        raise ForensicsError("--from must be earlier than --to")

    manifest = store.read_manifest()
    run = _read_run(store)
    rings_frame = _read_rings(store)
    members_frame = _read_members(store)
    rings_found = rings_frame.height
    if ring is not None:
        rings_frame = rings_frame.filter(pl.col("ring_id") == ring)
        if rings_frame.is_empty():
            raise ForensicsError(f"no ring {ring!r} in {store.root} (it has {rings_found} rings)")

    activity = _activity(store, members_frame, tz, start_utc, end_utc)
    accounts = _member_accounts(store, members_frame)
    rings = _rings(rings_frame, members_frame, activity, accounts, start_utc, end_utc)
    population_features: dict[str, tuple[str, np.ndarray]] = {}
    if charts and rings:
        _attach_edges(store, rings)
        population_features = _attach_features(store, rings)

    totals = activity["totals"]
    flagged = activity["flagged"]
    summary = Summary(
        store=str(store.root.resolve()),
        generated_at=dt.datetime.now(dt.UTC).replace(microsecond=0),
        tool_version=__version__,
        tz=tz,
        window_start=start_utc,
        window_end=end_utc,
        first_event=_utc(totals["first"]),
        last_event=_utc(totals["last"]),
        events=int(totals["events"] or 0),
        accounts=int(totals["accounts"] or 0),
        output_tokens=int(totals["output_tokens"] or 0),
        rings_found=rings_found,
        rings_shown=len(rings),
        accounts_flagged=members_frame["account_id"].n_unique(),
        accounts_in_several_rings=members_frame.group_by("account_id")
        .agg(pl.col("ring_id").n_unique())
        .filter(pl.col("ring_id") > 1)
        .height,
        flagged_requests=int(flagged["requests"] or 0),
        flagged_output_tokens=int(flagged["output_tokens"] or 0),
        redacted=redact is not None,
        ring=ring,
        parameters={
            "store": str(store.root.resolve()),
            "format": output_format,
            "ring": ring,
            "tz": tz,
            "from": iso(start_utc),
            "to": iso(end_utc),
            "redact": redact is not None,
        },
        cluster_run=run,
    )
    inputs = [_input_record(rec) for rec in manifest.get("inputs", [])]
    report = Report(
        summary=summary,
        inputs=inputs,
        rings=rings,
        population_daily=activity["population_daily"],
        population_features=population_features,
    )
    if redact is not None:
        redact_report(report, rd.Redactor(redact))
    return report


def _read_run(store: Store) -> dict[str, Any]:
    try:
        run = store.read_run() or {}
    except (OSError, json.JSONDecodeError) as exc:
        raise ForensicsError(f"{store.run_path} is unreadable: {exc}") from None
    keep = ("tool_version", "started_at", "finished_at", "seed", "parameters", "views_used")
    return {k: run[k] for k in keep if k in run} | {
        "inputs": [
            {"path": i.get("path"), "sha256": i.get("sha256")}
            for i in run.get("inputs", [])
            if isinstance(i, dict)
        ]
    }


def _read_parquet(path: Any, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # any unreadable Parquet is a user-fixable store problem
        raise ForensicsError(f"{path} is unreadable: {exc}") from None
    missing = [c for c in ("ring_id",) if c not in frame.columns]
    if missing:
        raise ForensicsError(f"{path} lacks columns {missing}")
    for name, dtype in schema.items():
        if name not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(name))
    return frame.with_columns([pl.col(n).cast(t) for n, t in schema.items()])


def _read_rings(store: Store) -> pl.DataFrame:
    frame = _read_parquet(store.rings_path, RING_SCHEMA)
    return frame.sort(["score", "ring_id"], descending=[True, False], nulls_last=True)


def _read_members(store: Store) -> pl.DataFrame:
    return _read_parquet(store.ring_members_path, RING_MEMBER_SCHEMA).select(
        list(RING_MEMBER_SCHEMA)
    )


def _activity(
    store: Store,
    members: pl.DataFrame,
    tz: str,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> dict[str, Any]:
    """One lazy pass over the events: totals, flagged totals, daily by ring, per member."""
    events = store.scan_events().select("ts", "account_id", "output_tokens")
    if start is not None:
        events = events.filter(pl.col("ts") >= start)
    if end is not None:
        events = events.filter(pl.col("ts") < end)
    membership = members.lazy().select("account_id", "ring_id").unique()
    flagged_accounts = membership.select("account_id").unique()
    day = pl.col("ts").dt.convert_time_zone(tz).dt.date().alias("date")
    # Joins against the (small) member table; the aggregations share one scan of the events
    # and run on the streaming engine. Store-wide figures count each event once; a ring's
    # figures count every event of its members, even one that is also in another ring.
    is_flagged = pl.col("account_id").is_in(flagged_accounts.collect()["account_id"].implode())
    totals_q = events.select(
        pl.len().alias("events"),
        pl.col("account_id").n_unique().alias("accounts"),
        pl.col("output_tokens").sum().alias("output_tokens"),
        pl.col("ts").min().alias("first"),
        pl.col("ts").max().alias("last"),
    )
    daily_q = (
        events.group_by(day, is_flagged.alias("flagged"))
        .agg(pl.len().alias("requests"), pl.col("output_tokens").sum())
        .sort("date")
    )
    ring_q = (
        events.join(membership, on="account_id", how="inner")
        .group_by(day, "ring_id")
        .agg(
            pl.len().alias("requests"),
            pl.col("output_tokens").sum(),
            pl.col("account_id").n_unique().alias("accounts"),
        )
        .sort("date")
    )
    member_q = (
        events.join(flagged_accounts, on="account_id", how="semi")
        .group_by("account_id")
        .agg(
            pl.len().alias("requests"),
            pl.col("output_tokens").sum(),
            pl.col("ts").min().alias("first_seen"),
            pl.col("ts").max().alias("last_seen"),
        )
    )
    totals, daily, ring_daily, per_member = pl.collect_all(
        [totals_q, daily_q, ring_q, member_q], engine="streaming"
    )
    flagged_daily = daily.filter(pl.col("flagged"))
    population = daily.filter(~pl.col("flagged"))
    return {
        "totals": totals.row(0, named=True),
        "flagged": {
            "requests": flagged_daily["requests"].sum(),
            "output_tokens": flagged_daily["output_tokens"].sum(),
        },
        "ring_daily": {
            key[0]: [
                Day(d, int(r), int(a))
                for d, r, a in part.select("date", "requests", "accounts").iter_rows()
            ]
            for key, part in ring_daily.partition_by("ring_id", as_dict=True).items()
        },
        "ring_totals": ring_daily.group_by("ring_id")
        .agg(pl.col("requests").sum(), pl.col("output_tokens").sum())
        .rows_by_key("ring_id", named=True, unique=True),
        "population_daily": [
            Day(d, int(r), None) for d, r in population.select("date", "requests").iter_rows()
        ],
        "per_member": per_member,
    }


def _member_accounts(store: Store, members: pl.DataFrame) -> pl.DataFrame | None:
    """Account records (created_at, email_domain, country) of flagged accounts, if any."""
    scan = store.scan_accounts()
    if scan is None:
        return None
    try:
        names = scan.collect_schema().names()
    except Exception as exc:  # an unreadable optional file: say so rather than crash
        raise ForensicsError(f"{store.accounts_path} is unreadable: {exc}") from None
    wanted = [c for c in ("account_id", "created_at", "email_domain", "country") if c in names]
    if "account_id" not in wanted:
        return None
    return (
        scan.select(wanted)
        .join(members.lazy().select("account_id").unique(), on="account_id", how="semi")
        .unique("account_id", keep="first")
        .collect()
    )


def _rings(
    rings: pl.DataFrame,
    members: pl.DataFrame,
    activity: dict[str, Any],
    accounts: pl.DataFrame | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
) -> list[Ring]:
    """Ring objects with their members (sorted by membership score) and window activity."""
    enriched = members.join(activity["per_member"], on="account_id", how="left")
    if accounts is not None:
        enriched = enriched.join(accounts, on="account_id", how="left")
    enriched = enriched.sort(["ring_id", "score", "account_id"], descending=[False, True, False])
    by_ring = enriched.partition_by("ring_id", as_dict=True)
    ring_totals = activity["ring_totals"]
    windowed = start is not None or end is not None
    result: list[Ring] = []
    for row in rings.iter_rows(named=True):
        rid = row["ring_id"]
        totals = ring_totals.get(rid, {"requests": 0, "output_tokens": 0})
        if windowed and not totals["requests"]:
            continue
        part = by_ring.get((rid,))
        members_list = (
            [
                Member(
                    account_id=m["account_id"],
                    score=float(m["score"]) if m["score"] is not None else math.nan,
                    requests=int(m["requests"] or 0),
                    output_tokens=int(m["output_tokens"] or 0),
                    first_seen=_utc(m["first_seen"]),
                    last_seen=_utc(m["last_seen"]),
                    created_at=_utc(m.get("created_at")),
                    email_domain=m.get("email_domain"),
                    country=m.get("country"),
                )
                for m in part.iter_rows(named=True)
            ]
            if part is not None
            else []
        )
        evidence = _load_evidence(row["evidence"])
        findings = evidence["findings"]
        findings.sort(key=lambda f: -(f["strength"] or 0.0))
        examples = evidence["examples"]
        if windowed:
            examples = [e for e in examples if _in_window(parse_iso(e.get("ts")), start, end)]
        evidence["examples"] = examples
        # Window-limited activity comes from the events; the store's first/last when unwindowed.
        first = min((m.first_seen for m in members_list if m.first_seen), default=None)
        last = max((m.last_seen for m in members_list if m.last_seen), default=None)
        result.append(
            Ring(
                ring_id=rid,
                size=int(row["size"]) if row["size"] is not None else len(members_list),
                score=float(row["score"]) if row["score"] is not None else math.nan,
                first_seen=first if windowed else (_utc(row["first_seen"]) or first),
                last_seen=last if windowed else (_utc(row["last_seen"]) or last),
                requests=int(totals["requests"] or 0),
                output_tokens=int(totals["output_tokens"] or 0),
                views=list(row["views"] or []),
                headline=row["headline"]
                or (findings[0].get("text", "") if findings else "no finding recorded"),
                findings=findings,
                evidence=evidence,
                members=members_list,
                daily=activity["ring_daily"].get(rid, []),
            )
        )
    return result


def _in_window(ts: dt.datetime | None, start: dt.datetime | None, end: dt.datetime | None) -> bool:
    if ts is None:
        return True
    return (start is None or ts >= start) and (end is None or ts < end)


def _attach_edges(store: Store, rings: list[Ring]) -> None:
    """The strongest similarity edges among each ring's strongest members, for drawing.

    Only the ``combined`` view is kept when the ring has it; otherwise, for each pair, the
    view with the highest similarity. At most ``GRAPH_NODES`` members (by membership score)
    and ``GRAPH_EDGES`` edges per ring.
    """
    if not store.ring_edges_path.is_file():
        return
    owner = pl.DataFrame(
        {
            "account_id": [m.account_id for r in rings for m in r.members[:GRAPH_NODES]],
            "ring_id": [r.ring_id for r in rings for _ in r.members[:GRAPH_NODES]],
        },
        schema={"account_id": pl.String, "ring_id": pl.String},
    ).lazy()
    is_combined = pl.col("view") == "combined"
    try:
        edges = (
            pl.scan_parquet(store.ring_edges_path)
            .select(
                pl.col("account_a").cast(pl.String),
                pl.col("account_b").cast(pl.String),
                pl.col("similarity").cast(pl.Float64),
                pl.col("view").cast(pl.String),
            )
            .join(owner.rename({"account_id": "account_a"}), on="account_a")
            .join(owner.rename({"account_id": "account_b", "ring_id": "ring_b"}), on="account_b")
            .filter(
                pl.col("ring_id") == pl.col("ring_b"), pl.col("account_a") != pl.col("account_b")
            )
            .filter(is_combined | ~is_combined.any().over("ring_id"))
            .group_by("ring_id", "account_a", "account_b")
            .agg(
                pl.col("similarity").max(),
                pl.col("view").sort_by("similarity", descending=True).first(),
            )
            .sort(
                ["ring_id", "similarity", "account_a", "account_b"],
                descending=[False, True, False, False],
            )
            .filter(pl.int_range(pl.len()).over("ring_id") < GRAPH_EDGES)
            .collect()
        )
    except Exception as exc:
        raise ForensicsError(f"{store.ring_edges_path} is unreadable: {exc}") from None
    by_ring = edges.partition_by("ring_id", as_dict=True, include_key=False)
    for ring in rings:
        part = by_ring.get((ring.ring_id,))
        if part is not None:
            ring.edges = [
                (a, b, float(sim), str(view))
                for a, b, sim, view in part.select(
                    "account_a", "account_b", "similarity", "view"
                ).iter_rows()
            ]


def _attach_features(store: Store, rings: list[Ring]) -> dict[str, tuple[str, np.ndarray]]:
    """Member and population values of each ring's most contrasting features."""
    if not store.features_path.is_file():
        return {}
    try:
        features = pl.read_parquet(store.features_path)
    except Exception as exc:
        raise ForensicsError(f"{store.features_path} is unreadable: {exc}") from None
    numeric = [c for c, t in features.schema.items() if c != "account_id" and t.is_numeric()]
    if "account_id" not in features.columns or not numeric:
        return {}
    labels = {c: c.replace("_", " ") for c in numeric}
    population: dict[str, tuple[str, np.ndarray]] = {}
    for ring in rings:
        contrast = [
            c
            for c in ring.evidence.get("contrast", [])
            if isinstance(c, dict) and c.get("feature") in numeric
        ]
        contrast.sort(key=lambda c: -abs(float(c.get("z") or 0.0)))
        chosen = [c["feature"] for c in contrast][:CHART_FEATURES_PER_RING]
        for c in contrast:
            labels[c["feature"]] = str(c.get("label") or labels[c["feature"]])
        if not chosen:
            chosen = numeric[:CHART_FEATURES_PER_RING]
        ids = pl.DataFrame({"account_id": [m.account_id for m in ring.members]})
        values = features.join(ids, on="account_id", how="semi")
        for name in chosen:
            ring.features[name] = _finite(values[name])
            if name not in population:
                population[name] = (labels[name], _finite(features[name]))
    return population


def _finite(series: pl.Series) -> np.ndarray:
    array = series.cast(pl.Float64).drop_nulls().to_numpy()
    return array[np.isfinite(array)]


def _input_record(rec: dict[str, Any]) -> dict[str, Any]:
    """A manifest input with the contract's keys first."""
    first = {k: rec.get(k) for k in ("path", "sha256", "rows_ingested")}
    return first | {k: v for k, v in rec.items() if k not in first}


# ----------------------------------------------------------------------------- redaction


def redact_report(report: Report, redactor: rd.Redactor) -> None:
    """Pseudonymise every identifier of the report in place (see forensics.report.redact)."""
    r = redactor
    kinds = {
        "ips": rd.IP,
        "subnets": rd.SUBNET,
        "email_domains": rd.DOMAIN,
        "payment_fingerprints": rd.FINGERPRINT,
        "org_ids": rd.ORG,
        "api_keys": rd.API_KEY,
        "accounts": rd.ACCOUNT,
    }
    for ring in report.rings:
        for m in ring.members:
            m.account_id = r.value(rd.ACCOUNT, m.account_id) or m.account_id
            m.email_domain = r.value(rd.DOMAIN, m.email_domain)
        shared = ring.evidence.get("shared")
        if isinstance(shared, dict):
            for key, items in shared.items():
                if not isinstance(items, list):
                    continue
                for item in items:
                    if isinstance(item, dict) and isinstance(item.get("value"), str):
                        kind = kinds.get(key)
                        if kind:
                            item["value"] = r.value(kind, item["value"])
        for ex in ring.evidence.get("examples", []):
            for key, kind in (("account_id", rd.ACCOUNT), ("api_key_id", rd.API_KEY)):
                if isinstance(ex.get(key), str):
                    ex[key] = r.value(kind, ex[key])
            if isinstance(ex.get("src_ip"), str):
                ex["src_ip"] = r.value(rd.IP, ex["src_ip"])
        ring.edges = [
            (r.value(rd.ACCOUNT, a) or a, r.value(rd.ACCOUNT, b) or b, s, v)
            for a, b, s, v in ring.edges
        ]
    # Free text last, once every identifier is known to the redactor: every other string.
    typed_shared = set(kinds)
    typed_example = {"account_id", "api_key_id", "src_ip", "ts"}
    for ring in report.rings:
        ring.headline = r.text(ring.headline) or ""
        for f in ring.findings:
            for key, value in f.items():
                if key != "kind" and isinstance(value, str):
                    f[key] = r.text(value)
        shared = ring.evidence.get("shared")
        for key, items in shared.items() if isinstance(shared, dict) else []:
            if key in typed_shared or not isinstance(items, list):
                continue
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("value"), str):
                    item["value"] = r.text(item["value"])
        for ex in ring.evidence.get("examples", []):
            for key, value in ex.items():
                if key not in typed_example and isinstance(value, str):
                    ex[key] = r.text(value)
