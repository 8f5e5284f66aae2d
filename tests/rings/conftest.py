"""A small synthetic population for ring tests: benign users, rings and benign look-alikes.

Built here, independently of `forensics simulate`, so that the tests pin down behaviour
rather than the simulator's habits.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from forensics.schema import ACCOUNT_SCHEMA, EVENT_SCHEMA
from forensics.store import Store

START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
DAYS = 10

WORDS = (
    "apple river cloud stone music garden window paper light market winter silver forest "
    "engine bridge planet doctor school camera rocket travel coffee letter ocean mountain "
    "kitchen yellow orange purple history science theory python database network server "
    "design budget report meeting family friend holiday summer island desert castle dragon "
    "poem story recipe chicken salad bread cheese tomato potato lemon honey pepper butter"
).split()


def _sentence(rng: np.random.Generator, n: int = 9) -> str:
    return " ".join(rng.choice(WORDS, n))


def _ts(rng: np.random.Generator, k: int, hours: np.ndarray | None = None) -> list[dt.datetime]:
    days = rng.integers(0, DAYS, k)
    if hours is None:
        hours = rng.normal(14, 3, k).clip(0, 23.9)
    secs = (days * 86400 + hours * 3600 + rng.uniform(0, 300, k)).astype(int)
    return [START + dt.timedelta(seconds=int(s)) for s in secs]


class Population:
    """Accumulates canonical event dicts and account records."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.events: list[dict] = []
        self.accounts: list[dict] = []

    def _account(self, acc: str, created: dt.datetime, **rec: str | None) -> None:
        base = {"email_domain": "gmail.example", "payment_fingerprint": f"pf_{acc}"}
        base.update(rec)
        self.accounts.append(
            {"account_id": acc, "created_at": created, "country": "US", "org_id": None} | base
        )

    def benign(self, n: int, per_account: int = 30, prefix: str = "u") -> list[str]:
        """Independent users: own IP, own prompts, own hours."""
        rng = self.rng
        ids = []
        for i in range(n):
            acc = f"{prefix}{i:04d}"
            ids.append(acc)
            ip = f"10.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"
            ua = str(rng.choice(["curl/8.0", "openai-python/1.40.0", "Mozilla/5.0", "httpx/0.27"]))
            centre = rng.uniform(6, 20)
            k = int(rng.integers(per_account // 2, per_account * 2))
            for ts in _ts(rng, k, rng.normal(centre, 2, k).clip(0, 23.9)):
                self.events.append(
                    {
                        "ts": ts,
                        "account_id": acc,
                        "src_ip": ip,
                        "user_agent": ua,
                        "model": "model-a",
                        "prompt": _sentence(rng, 12),
                        "output_tokens": 100,
                    }
                )
            self._account(acc, START - dt.timedelta(days=int(rng.integers(30, 400))))
        return ids

    def ring(
        self,
        name: str,
        n: int,
        templates: int = 6,
        per_account: int = 40,
        pool: int = 40,
        with_prompts: bool = True,
    ) -> list[str]:
        """One operator: a task curriculum, a rotating proxy pool, one scheduler's windows."""
        rng = self.rng
        curriculum = [_sentence(rng, 12) for _ in range(templates)]
        exits = [f"198.51.{rng.integers(0, 255)}.{rng.integers(1, 255)}" for _ in range(pool)]
        windows = [(int(rng.integers(0, DAYS)), float(rng.uniform(0, 22))) for _ in range(12)]
        ids = []
        for i in range(n):
            acc = f"{name}{i:04d}"
            ids.append(acc)
            k = int(rng.integers(per_account // 2, per_account * 2))
            w = rng.integers(0, len(windows), k)
            for j in range(k):
                day, hour = windows[w[j]]
                ts = START + dt.timedelta(days=day, hours=hour, minutes=float(rng.uniform(0, 90)))
                # the exit rotates with time: the same exit on different accounts within hours
                exit_ip = exits[(int(ts.timestamp()) // 21600 + int(rng.integers(0, 2))) % pool]
                tmpl = curriculum[int(rng.integers(0, templates))]
                self.events.append(
                    {
                        "ts": ts,
                        "account_id": acc,
                        "src_ip": exit_ip,
                        "user_agent": "openai-python/1.40.0",
                        "model": "model-a",
                        "prompt": f"{tmpl} {_sentence(rng, 3)}" if with_prompts else None,
                        "output_tokens": 400,
                    }
                )
            self._account(acc, START - dt.timedelta(days=3, minutes=int(rng.integers(0, 120))))
        return ids

    def nat(self, n: int, per_account: int = 30) -> list[str]:
        """A campus NAT: one IP, diverse prompts, independent timing."""
        rng = self.rng
        ids = []
        for i in range(n):
            acc = f"nat{i:04d}"
            ids.append(acc)
            centre = rng.uniform(8, 18)
            k = int(rng.integers(per_account // 2, per_account * 2))
            for ts in _ts(rng, k, rng.normal(centre, 2, k).clip(0, 23.9)):
                self.events.append(
                    {
                        "ts": ts,
                        "account_id": acc,
                        "src_ip": "192.0.2.10",
                        "user_agent": str(rng.choice(["Mozilla/5.0", "curl/8.0"])),
                        "model": "model-a",
                        "prompt": _sentence(rng, 12),
                        "output_tokens": 100,
                    }
                )
            self._account(acc, START - dt.timedelta(days=int(rng.integers(30, 400))))
        return ids

    def prompt_app(self, n: int, per_account: int = 30) -> list[str]:
        """A popular app: one user agent and one prompt prefix, independent content and times."""
        rng = self.rng
        ids = []
        prefix = "you are a helpful writing assistant please improve the following text"
        for i in range(n):
            acc = f"app{i:04d}"
            ids.append(acc)
            ip = f"10.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 255)}"
            centre = rng.uniform(6, 20)
            k = int(rng.integers(per_account // 2, per_account * 2))
            for ts in _ts(rng, k, rng.normal(centre, 2, k).clip(0, 23.9)):
                self.events.append(
                    {
                        "ts": ts,
                        "account_id": acc,
                        "src_ip": ip,
                        "user_agent": "WriteApp/2.1",
                        "model": "model-a",
                        "prompt": f"{prefix} {_sentence(rng, 12)}",
                        "output_tokens": 100,
                    }
                )
            self._account(acc, START - dt.timedelta(days=int(rng.integers(30, 400))))
        return ids

    def enterprise(self, n: int, per_account: int = 30) -> list[str]:
        """One declared organisation: one gateway IP, one card, office hours, own work."""
        rng = self.rng
        ids = []
        for i in range(n):
            acc = f"corp{i:04d}"
            ids.append(acc)
            k = int(rng.integers(per_account // 2, per_account * 2))
            for ts in _ts(rng, k, rng.uniform(9, 17, k)):
                self.events.append(
                    {
                        "ts": ts,
                        "account_id": acc,
                        "src_ip": "203.0.113.5",
                        "user_agent": "corp-gateway/1.0",
                        "model": "model-a",
                        "prompt": _sentence(rng, 12),
                        "output_tokens": 100,
                    }
                )
            self._account(
                acc,
                START - dt.timedelta(days=60, minutes=i),
                payment_fingerprint="pf_corp",
                email_domain="corp.example",
                org_id="org_corp",
            )
        return ids

    def heavy_user(self, k: int = 3000) -> list[str]:
        """One account, very many requests."""
        rng = self.rng
        for ts in _ts(rng, k, rng.uniform(0, 23.9, k)):
            self.events.append(
                {
                    "ts": ts,
                    "account_id": "heavy0001",
                    "src_ip": "10.9.9.9",
                    "user_agent": "python-requests/2.31",
                    "model": "model-a",
                    "prompt": "step by step " + _sentence(rng, 10),
                    "output_tokens": 900,
                }
            )
        self._account("heavy0001", START - dt.timedelta(days=100))
        return ["heavy0001"]

    def ci_bots(self, n: int = 6, per_account: int = 60) -> list[str]:
        """One developer's CI: one card, rotating cloud runners, fixed minutes, a fixed test set."""
        rng = self.rng
        suite = [f"unit test {i}: " + _sentence(rng, 8) for i in range(4)]
        # cloud runners all over a provider's ranges: not one site
        runners = [f"172.{16 + k}.{rng.integers(0, 255)}.{rng.integers(1, 255)}" for k in range(16)]
        ids = []
        for i in range(n):
            acc = f"ci{i:04d}"
            ids.append(acc)
            for j in range(per_account):
                day, hour = j % DAYS, (j // DAYS) % 24
                ts = START + dt.timedelta(days=day, hours=hour, minutes=15 + i)
                self.events.append(
                    {
                        "ts": ts,
                        "account_id": acc,
                        "src_ip": runners[(day * 24 + hour) % len(runners)],
                        "user_agent": "ci-runner/3.2",
                        "model": "model-a",
                        "prompt": suite[j % len(suite)],
                        "output_tokens": 50,
                    }
                )
            self._account(acc, START - dt.timedelta(days=40), payment_fingerprint="pf_ci_dev")
        return ids

    def classroom(self, n: int = 30) -> list[str]:
        """Students on one campus network, in class at the same hours, pasting homework."""
        rng = self.rng
        campus = [f"100.64.7.{i}" for i in range(1, 4)]
        slots = [(d, 9.0) for d in range(0, DAYS, 2)]
        ids = []
        for i in range(n):
            acc = f"class{i:04d}"
            ids.append(acc)
            for day, hour in slots:
                for _ in range(int(rng.integers(4, 9))):
                    minutes = float(rng.uniform(0, 90))
                    ts = START + dt.timedelta(days=day, hours=hour, minutes=minutes)
                    q, x = int(rng.integers(1, 6)), int(rng.integers(2, 60))
                    self.events.append(
                        {
                            "ts": ts,
                            "account_id": acc,
                            "src_ip": str(rng.choice(campus)),
                            "user_agent": "Mozilla/5.0",
                            "model": "model-a",
                            "prompt": f"homework {day} question {q} estimate how much the "
                            f"river level changes if it rains {x} mm {_sentence(rng, 2)}",
                            "output_tokens": 200,
                        }
                    )
            self._account(
                acc,
                START - dt.timedelta(days=20, minutes=i),
                email_domain="university.example",
            )
        return ids

    def records(self) -> pl.DataFrame:
        """The account records (for make_store's ``accounts``)."""
        return pl.DataFrame(self.accounts, schema=ACCOUNT_SCHEMA)

    def event_frame(self) -> pl.DataFrame:
        """The events as a canonical frame (missing fields null)."""
        frame = pl.DataFrame(self.events, infer_schema_length=None)
        return frame.select(
            [
                pl.col(n).cast(t) if n in frame.columns else pl.lit(None, dtype=t).alias(n)
                for n, t in EVENT_SCHEMA.items()
            ]
        ).with_columns(
            pl.col("source_file").fill_null("fixture"),
            pl.col("source_line").fill_null(pl.int_range(1, pl.len() + 1)),
        )

    def store(self, root: Path, with_accounts: bool = True) -> Store:
        """Write a store holding these events (and account records), bypassing ingest."""
        store = Store(root)
        events = self.event_frame().with_columns(pl.col("ts").dt.date().alias("_day"))
        with store.lock(), store.transaction() as txn:
            for (day,), part in events.partition_by("_day", as_dict=True).items():
                part.drop("_day").write_parquet(txn.stage(f"events/date={day}/part.parquet"))
            if with_accounts:
                self.records().write_parquet(txn.stage("accounts/accounts.parquet"))
            manifest = store.read_manifest()
            manifest["inputs"].append(
                {"path": "fixture", "sha256": "f" * 64, "rows_ingested": events.height}
            )
            txn.commit(manifest)
        return store


@pytest.fixture
def population() -> Population:
    return Population(seed=3)


@pytest.fixture(scope="module")
def mixed_population() -> Population:
    """Ordinary users, two rings and one group of each benign look-alike (CI bots and a
    classroom included: coordinated, but a test suite and one site)."""
    pop = Population(seed=5)
    pop.benign(160)
    pop.ring("ra", 30)
    pop.ring("rb", 20)
    pop.nat(30)
    pop.prompt_app(30)
    pop.enterprise(20)
    pop.heavy_user(1500)
    pop.ci_bots(6)
    pop.classroom(30)
    return pop


@pytest.fixture(scope="module")
def clustered(mixed_population: Population, tmp_path_factory: pytest.TempPathFactory):
    """The mixed population's store after `cluster` with default parameters."""
    from forensics.rings.params import ClusterParams
    from forensics.rings.pipeline import cluster_store

    store = mixed_population.store(tmp_path_factory.mktemp("clustered") / "store")
    result = cluster_store(store, ClusterParams(), quiet=True)
    return store, result
