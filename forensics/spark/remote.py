"""A store at a URI (``s3a://``, ``hdfs://``, ``abfss://``, ``gs://``, ``viewfs://``, ...) for Spark.

Spark's executors read the events themselves. What the driver reads and writes goes through
Hadoop's FileSystem API in Spark's own JVM, so any file system Spark is set up for (its
``spark.hadoop.*`` settings: connectors, endpoints, credentials) serves the whole run:

* **reads**: ``manifest.json`` and the account records are copied into a driver-local
  working folder, a *shadow store* with the store's layout and no events, which the local
  engine's code reads and writes as it would any store;
* **writes**: the outputs (``features/accounts.parquet``, ``rings/*.parquet``,
  ``rings/run.json``) are written into the shadow store by the local engine's writer, then
  each is copied up beside its target (``.NAME.ID.tmp``) and renamed over it, in the local
  engine's order. On HDFS the rename is atomic (``FileContext.rename`` with OVERWRITE); on
  an object store a rename is a server-side copy, and an object appears whole or not at
  all, so a reader sees the old file or the new one there too. Temporary files a killed run
  left are swept when the next run takes the lock;
* **scratch**: the flagged accounts' events, which the evidence reads, are written by the
  executors into ``STORE/.scratch/ID`` and copied to the driver as files
  (``spark.events.member_events``); the folder is deleted at the end of the run, and a
  killed run's is deleted when the next run takes the lock;
* **the lock**: ``STORE/.remote.lock`` is created with ``overwrite=false`` and deleted when
  the run ends. HDFS creates a file exclusively; S3A checks for the object and then writes
  it, so two runs started at the same moment could both pass (S3 conditional writes,
  HADOOP-19256, close that gap where the connector supports them). A killed run leaves
  the file: the error names it, its owner and its start, and the file is deleted by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forensics import __version__
from forensics.errors import ForensicsError
from forensics.store import Store, StoreError, StoreLockedError, utc_now_iso

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

REMOTE_LOCK = ".remote.lock"
SCRATCH = ".scratch"  # intermediate files of a run (the flagged accounts' events)
# the store's files that a cluster run reads (copied into the shadow store when present)
INPUT_FILES = (Store.MANIFEST, "accounts/accounts.parquet")


def _first_line(exc: BaseException) -> str:
    """The Java exception's own message (py4j wraps it in a long trace), on one line."""
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _java_class(exc: BaseException) -> str:
    java = getattr(exc, "java_exception", None)
    return str(java.getClass().getName()) if java is not None else ""


@contextlib.contextmanager
def _hadoop(what: str) -> Iterator[None]:
    """A file system's failure (permission, network, missing bucket) as one line: ``what: why``."""
    from py4j.protocol import Py4JJavaError

    try:
        yield
    except Py4JJavaError as exc:
        raise StoreError(f"{what}: {_first_line(exc)}") from None


def file_uri(path: Path) -> str:
    """``file://`` and the absolute path as it is: Hadoop paths are not percent-decoded, so
    ``Path.as_uri`` (``date%3D2025-02-03``) would name a folder that does not exist."""
    return "file://" + str(path.resolve())


class RemoteStore:
    """The store at ``uri``, seen through Hadoop's FileSystem API of ``spark``'s JVM."""

    def __init__(self, spark: SparkSession, uri: str) -> None:
        from py4j.protocol import Py4JJavaError

        self.uri = uri.rstrip("/")
        self._spark = spark
        self._jvm = spark._jvm  # type: ignore[attr-defined]
        self._conf = spark._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
        try:
            self._fs = self._jpath(self.uri).getFileSystem(self._conf)
        except Py4JJavaError as exc:
            raise ForensicsError(
                f"Spark cannot open {uri}: {_first_line(exc)} (a connector such as hadoop-aws "
                "for s3a:// must be on Spark's classpath, e.g. --spark-conf "
                "spark.jars.packages=org.apache.hadoop:hadoop-aws:VERSION)"
            ) from None

    # ------------------------------------------------------------------ paths
    def path(self, relpath: str = "") -> str:
        """The URI of ``relpath`` inside the store."""
        return f"{self.uri}/{relpath}" if relpath else self.uri

    def _jpath(self, uri: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(uri)

    def exists(self, relpath: str) -> bool:
        with _hadoop(f"could not read {self.path(relpath)}"):
            return bool(self._fs.exists(self._jpath(self.path(relpath))))

    def require(self) -> None:
        """Raise ``Store.require``'s error unless the URI holds an ingested store."""
        if not self.exists(Store.MANIFEST):
            raise StoreError(
                f"{self.uri} is not a forensics store (no manifest.json); run `forensics ingest` "
                "first"
            )

    def event_files(self) -> list[str]:
        """URIs of the events' Parquet files (``events/date=*/*.parquet``, hidden files not)."""
        with _hadoop(f"could not list {self.path('events')}"):
            found = self._fs.globStatus(self._jpath(self.path("events/date=*/*.parquet"))) or []
        files = [str(status.getPath().toString()) for status in found if status.isFile()]
        return sorted(f for f in files if not f.rsplit("/", 1)[-1].startswith((".", "_")))

    # ------------------------------------------------------------- copies
    def shadow(self, folder: Path) -> Store:
        """A local store at ``folder`` holding the store's manifest and account records."""
        for relpath in INPUT_FILES:
            if self.exists(relpath):
                self.download(relpath, folder / relpath)
        shadow = Store(folder)
        shadow.read_manifest()  # the schema version is checked before any work is done
        return shadow

    def download(self, relpath: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        # the raw local file system: no .crc file beside the copy
        with _hadoop(f"could not read {self.path(relpath)}"):
            self._fs.copyToLocalFile(
                False, self._jpath(self.path(relpath)), self._jpath(file_uri(local)), True
            )

    def download_folder(self, uri: str, local: Path) -> None:
        """Copy the Parquet files of the folder ``uri`` into ``local`` (created)."""
        local.mkdir(parents=True, exist_ok=True)
        with _hadoop(f"could not read {uri}"):
            for status in self._fs.globStatus(self._jpath(f"{uri}/*.parquet")) or []:
                name = str(status.getPath().getName())
                if not name.startswith((".", "_")):
                    self._fs.copyToLocalFile(
                        False, status.getPath(), self._jpath(file_uri(local / name)), True
                    )

    @contextlib.contextmanager
    def scratch(self) -> Iterator[str]:
        """A new folder ``STORE/.scratch/ID`` for the run's intermediate files; ``.scratch``
        is deleted after (the lock holder is its only user)."""
        where = self.path(f"{SCRATCH}/{uuid.uuid4().hex}")
        try:
            yield where
        finally:
            with contextlib.suppress(Exception):
                self._fs.delete(self._jpath(self.path(SCRATCH)), True)

    def publish(self, local: Path, relpath: str) -> None:
        """Copy ``local`` to ``relpath`` so that readers see the old file or the new one."""
        target = self._jpath(self.path(relpath))
        name = relpath.rsplit("/", 1)[-1]
        staged = self._jpath(self.path(f"{relpath[: -len(name)]}.{name}.{uuid.uuid4().hex}.tmp"))
        with _hadoop(f"could not write {self.path(relpath)}"):
            self._fs.mkdirs(target.getParent())
            self._fs.copyFromLocalFile(False, True, self._jpath(file_uri(local)), staged)
            try:
                self._rename_over(staged, target)
            except Exception:
                with contextlib.suppress(Exception):
                    self._fs.delete(staged, False)
                raise

    def _rename_over(self, staged: Any, target: Any) -> None:
        """Rename ``staged`` over ``target``: one atomic call where the file system has it."""
        from py4j.protocol import Py4JJavaError

        jvm = self._jvm
        rename = jvm.org.apache.hadoop.fs.Options.Rename
        try:
            context = jvm.org.apache.hadoop.fs.FileContext.getFileContext(
                target.toUri(), self._conf
            )
        except Py4JJavaError:  # no AbstractFileSystem for this scheme: delete, then rename
            context = None
        if context is not None:
            options = self._spark.sparkContext._gateway.new_array(rename, 1)
            options[0] = rename.OVERWRITE
            context.rename(staged, target, options)
            return
        if self._fs.exists(target):
            self._fs.delete(target, False)
        if not self._fs.rename(staged, target):
            raise StoreError(f"could not rename {staged.toString()} to {target.toString()}")

    # ---------------------------------------------------------------- locking
    @contextlib.contextmanager
    def lock(self) -> Iterator[RemoteStore]:
        """Hold ``STORE/.remote.lock`` (see the module docstring); sweep a killed run's files."""
        from py4j.protocol import Py4JJavaError

        lock = self._jpath(self.path(REMOTE_LOCK))
        owner = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": utc_now_iso(),
            "tool_version": __version__,
        }
        try:
            out = self._fs.create(lock, False)
        except Py4JJavaError as exc:
            if "FileAlreadyExists" not in _java_class(exc) and not self._fs.exists(lock):
                raise StoreError(
                    f"could not create {self.path(REMOTE_LOCK)}: {_first_line(exc)}"
                ) from None
            raise StoreLockedError(self._locked_message()) from None
        try:
            out.write(bytearray(json.dumps(owner).encode()))
        finally:
            out.close()
        try:
            self._sweep()
            yield self
        finally:
            with contextlib.suppress(Exception):
                self._fs.delete(lock, False)

    def _locked_message(self) -> str:
        where = self.path(REMOTE_LOCK)
        try:
            buffer = self._jvm.java.io.ByteArrayOutputStream()
            stream = self._fs.open(self._jpath(where))
            self._jvm.org.apache.hadoop.io.IOUtils.copyBytes(stream, buffer, 65536, True)
            raw = bytes(buffer.toByteArray())
            owner = json.loads(raw.decode("utf-8", "replace"))
            who = f"{owner.get('host')!r} (pid {owner.get('pid')}) since {owner.get('started_at')}"
        except Exception:
            who = "another forensics run"
        return (
            f"store {self.uri} is being written by {who}: {where} exists; if that run is no "
            "longer alive, delete the file and run again"
        )

    def _sweep(self) -> None:
        """Delete what a killed run left: ``.NAME.ID.tmp`` files beside the outputs, and
        its scratch folder."""
        with contextlib.suppress(Exception):
            self._fs.delete(self._jpath(self.path(SCRATCH)), True)
        for folder in ("features", "rings"):
            for status in self._fs.globStatus(self._jpath(self.path(f"{folder}/.*.tmp"))) or []:
                with contextlib.suppress(Exception):
                    self._fs.delete(status.getPath(), False)
