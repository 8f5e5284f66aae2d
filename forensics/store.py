"""The evidence store: layout, manifest, locking and atomic writes.

A store is a folder of plain Parquet (see docs/design.md). Writers take an exclusive lock
on ``STORE/.lock``; every write becomes visible at once or not at all:

* single files are written beside their target and renamed over it (``os.replace``);
* an ingest stages its Parquet files under ``STORE/.staging/TXN/`` and commits them with a
  journal: the journal lists every move, the moves are made, the manifest is replaced,
  and the journal is removed. A writer killed at any point leaves either no journal (the
  store is as it was; staging is swept away) or a journal that the next writer rolls
  back, so the store is again exactly as it was before the interrupted ingest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from forensics import __version__
from forensics.errors import ForensicsError
from forensics.schema import EVENT_SCHEMA, STORE_SCHEMA_VERSION


class StoreError(ForensicsError):
    """A problem with the store that the user can understand and fix."""


class StoreLockedError(StoreError):
    """Another process is writing this store."""


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(text: str) -> bool:
    """``s3a://b/case``, ``hdfs://nn/case``, ``file:///x``: a store named by a URI (which
    only the Spark engine reads, through Hadoop's file systems), not a local path."""
    return bool(_URI.match(text))


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(
        path, (json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n").encode()
    )


def write_parquet_atomic(path: Path, frame: pl.DataFrame) -> None:
    """Write one Parquet file (zstd) atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    frame.write_parquet(tmp, compression="zstd")
    os.replace(tmp, path)
    _fsync_dir(path.parent)


class Store:
    """A forensics store rooted at ``root``. Creating the object touches nothing on disk."""

    MANIFEST = "manifest.json"
    LOCK = ".lock"
    JOURNAL = ".journal.json"
    STAGING = ".staging"
    REPLACED = ".replaced"  # files a commit replaces, kept until it is done

    def __init__(self, root: str | os.PathLike[str]) -> None:
        if is_uri(os.fspath(root)):  # Path() would fold "s3a://b/c" into a local "s3a:/b/c"
            raise StoreError(
                f"{os.fspath(root)} is a URI: only `forensics cluster --engine spark` reads "
                "stores at URIs; use a local path (or where the store is mounted)"
            )
        self.root = Path(root)
        self._lock_fd: int | None = None

    # ----------------------------------------------------------------- layout
    @property
    def manifest_path(self) -> Path:
        return self.root / self.MANIFEST

    @property
    def events_dir(self) -> Path:
        return self.root / "events"

    @property
    def accounts_path(self) -> Path:
        return self.root / "accounts" / "accounts.parquet"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    @property
    def features_path(self) -> Path:
        return self.root / "features" / "accounts.parquet"

    @property
    def rings_dir(self) -> Path:
        return self.root / "rings"

    @property
    def ring_members_path(self) -> Path:
        return self.rings_dir / "members.parquet"

    @property
    def rings_path(self) -> Path:
        return self.rings_dir / "rings.parquet"

    @property
    def ring_edges_path(self) -> Path:
        return self.rings_dir / "edges.parquet"

    @property
    def run_path(self) -> Path:
        return self.rings_dir / "run.json"

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def require(self) -> None:
        """Raise a clear error unless this folder is an ingested store."""
        if not self.exists():
            raise StoreError(
                f"{self.root} is not a forensics store (no manifest.json); run `forensics ingest` first"
            )

    # --------------------------------------------------------------- manifest
    def read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.is_file():
            return {
                "store_schema_version": STORE_SCHEMA_VERSION,
                "tool_version": __version__,
                "created_at": utc_now_iso(),
                "inputs": [],
                "transactions": [],
            }
        try:
            manifest = json.loads(self.manifest_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{self.manifest_path} is unreadable: {exc}") from exc
        version = manifest.get("store_schema_version")
        if version != STORE_SCHEMA_VERSION:
            raise StoreError(
                f"{self.root} has store schema version {version}; this forensics reads version {STORE_SCHEMA_VERSION}"
            )
        manifest.setdefault("inputs", [])
        manifest.setdefault("transactions", [])
        return manifest

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        manifest["store_schema_version"] = STORE_SCHEMA_VERSION
        manifest["tool_version"] = __version__
        manifest["updated_at"] = utc_now_iso()
        write_json_atomic(self.manifest_path, manifest)

    def ingested_sha256s(self) -> set[str]:
        return {rec["sha256"] for rec in self.read_manifest()["inputs"] if rec.get("sha256")}

    # ---------------------------------------------------------------- locking
    @contextlib.contextmanager
    def lock(self) -> Iterator[Store]:
        """Hold the store's exclusive writer lock; recover an interrupted write first."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / self.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise StoreLockedError(
                    f"store {self.root} is being written by another forensics process; wait for it to finish"
                ) from None
            raise
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._lock_fd = fd
            self._recover()
            yield self
        finally:
            self._lock_fd = None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _require_lock(self) -> None:
        if self._lock_fd is None:
            raise RuntimeError("store writes need the store lock (use `with store.lock():`)")

    # ----------------------------------------------------------- transactions
    def _recover(self) -> None:
        """Roll back a commit that was interrupted, and sweep stale staging folders."""
        journal_path = self.root / self.JOURNAL
        if journal_path.is_file():
            try:
                journal = json.loads(journal_path.read_text())
            except (OSError, json.JSONDecodeError):
                journal = None
            if journal is not None:
                committed = journal.get("txn") in set(self.read_manifest().get("transactions", []))
                backups = {final: backup for final, backup in journal.get("backups", [])}
                if not committed:
                    for _staged, final in journal.get("moves", []):
                        if final in backups:
                            continue
                        with contextlib.suppress(FileNotFoundError):
                            (self.root / final).unlink()
                    # A replaced file is put back (if it had been moved aside already).
                    for final, backup in backups.items():
                        if (self.root / backup).exists():
                            os.replace(self.root / backup, self.root / final)
            journal_path.unlink(missing_ok=True)
        shutil.rmtree(self.root / self.STAGING, ignore_errors=True)
        shutil.rmtree(self.root / self.REPLACED, ignore_errors=True)
        for tmp in self.root.rglob(".*.tmp"):
            with contextlib.suppress(OSError):
                tmp.unlink()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Stage files for one all-or-nothing commit (the caller holds the lock)."""
        self._require_lock()
        txn = Transaction(self)
        try:
            yield txn
        finally:
            shutil.rmtree(txn.staging_dir, ignore_errors=True)
            with contextlib.suppress(OSError):
                txn.staging_dir.parent.rmdir()

    # ------------------------------------------------------------------ reads
    def event_files(self) -> list[Path]:
        if not self.events_dir.is_dir():
            return []
        return sorted(
            p for p in self.events_dir.glob("date=*/*.parquet") if not p.name.startswith(".")
        )

    def scan_events(self) -> pl.LazyFrame:
        """All canonical events as a lazy frame (canonical columns only, in canonical order)."""
        files = self.event_files()
        if not files:
            return pl.LazyFrame(schema=EVENT_SCHEMA)
        return pl.scan_parquet(
            [str(p) for p in files], hive_partitioning=False, schema=EVENT_SCHEMA
        ).select(list(EVENT_SCHEMA))

    def scan_accounts(self) -> pl.LazyFrame | None:
        if not self.accounts_path.is_file():
            return None
        return pl.scan_parquet(self.accounts_path)

    def has_rings(self) -> bool:
        return self.rings_path.is_file() and self.ring_members_path.is_file()

    def read_run(self) -> dict[str, Any] | None:
        if not self.run_path.is_file():
            return None
        return json.loads(self.run_path.read_text())


class Transaction:
    """Files staged for one commit. ``stage(relpath)`` gives a path to write; ``commit`` publishes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.txn_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
        self.staging_dir = store.root / Store.STAGING / self.txn_id
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        self._moves: list[tuple[str, str]] = []
        self._replaces: set[str] = set()

    def stage_replacement(self, final_relpath: str) -> Path:
        """Like ``stage``, for a file that may already exist and is replaced by the commit.

        The old file is moved aside during the commit and put back if it is rolled back.
        """
        self._replaces.add(final_relpath)
        return self.stage(final_relpath)

    def stage(self, final_relpath: str) -> Path:
        """A path in staging where the caller writes the file that will appear at ``final_relpath``."""
        staged = self.staging_dir / f"{len(self._moves):06d}-{Path(final_relpath).name}"
        self._moves.append((str(staged.relative_to(self.store.root)), final_relpath))
        return staged

    def commit(self, manifest: dict[str, Any]) -> None:
        """Publish every staged file and the new manifest, all or nothing."""
        root = self.store.root
        moves = [(s, f) for s, f in self._moves if (root / s).exists()]
        for _s, final in moves:
            if (root / final).exists() and final not in self._replaces:
                raise StoreError(f"refusing to overwrite {final} in the store")
        # Replaced files are moved aside outside staging (which a failed commit sweeps), so
        # that recovery can always put them back.
        aside = root / Store.REPLACED / self.txn_id
        backups = [
            (final, str((aside / f"{i:06d}-{Path(final).name}").relative_to(root)))
            for i, (_s, final) in enumerate(moves)
            if final in self._replaces and (root / final).exists()
        ]
        if backups:
            aside.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            root / Store.JOURNAL, {"txn": self.txn_id, "moves": moves, "backups": backups}
        )
        for final, backup in backups:
            os.replace(root / final, root / backup)
        for staged, final in moves:
            (root / final).parent.mkdir(parents=True, exist_ok=True)
            os.replace(root / staged, root / final)
        for parent in {(root / f).parent for _s, f in moves}:
            _fsync_dir(parent)
        manifest.setdefault("transactions", []).append(self.txn_id)
        self.store.write_manifest(manifest)
        (root / Store.JOURNAL).unlink(missing_ok=True)
        shutil.rmtree(aside, ignore_errors=True)
