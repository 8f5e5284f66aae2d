"""Inputs: expand files, globs and folders; open them, decompressing by magic bytes; hash them."""

from __future__ import annotations

import glob
import gzip
import hashlib
import io
import mmap
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[str]]:
    """Files in the order given; globs and folders (recursively) expand sorted.

    Returns the files and one error line per input that names nothing.
    """
    files: list[Path] = []
    errors: list[str] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                errors.append(f"{raw}: folder holds no files")
            files += found
        elif path.is_file():
            files.append(path)
        elif glob.has_magic(raw):
            found = sorted(Path(p) for p in glob.glob(raw, recursive=True) if Path(p).is_file())
            if not found:
                errors.append(f"{raw}: no file matches")
            files += found
        elif path.exists():
            errors.append(f"{raw}: not a regular file")
        else:
            errors.append(f"{raw}: no such file or folder")
    unique: dict[Path, None] = {}
    for f in files:
        unique.setdefault(f.resolve(), None)
    return list(unique), errors


class CountingReader(io.RawIOBase):
    """A raw file that reports how many bytes were read (for the progress bar)."""

    def __init__(self, fh: BinaryIO, on_read: Callable[[int], None] | None) -> None:
        self._fh = fh
        self._on_read = on_read

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = self._fh.readinto(buffer)  # type: ignore[attr-defined]
        if n and self._on_read is not None:
            self._on_read(n)
        return n or 0


def compression_of(path: Path) -> str | None:
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(GZIP_MAGIC):
        return "gzip"
    if magic == ZSTD_MAGIC:
        return "zstd"
    return None


def open_decompressed(
    path: Path, on_read: Callable[[int], None] | None = None
) -> tuple[BinaryIO, list[BinaryIO]]:
    """The decompressed content of ``path`` (gzip and zstd by magic bytes, else as is).

    Returns the stream and the handles to close. An uncompressed file is returned as the
    plain file object (seekable, which the Parquet reader wants).
    """
    kind = compression_of(path)
    fh = open(path, "rb")  # noqa: SIM115 - closed by the caller
    if kind is None and on_read is None:
        return fh, [fh]
    counted = io.BufferedReader(CountingReader(fh, on_read), buffer_size=1024 * 1024)
    if kind == "gzip":
        stream: BinaryIO = gzip.GzipFile(fileobj=counted, mode="rb")  # type: ignore[assignment]
    elif kind == "zstd":
        reader = zstandard.ZstdDecompressor().stream_reader(counted, read_across_frames=True)
        stream = io.BufferedReader(reader, buffer_size=1024 * 1024)  # type: ignore[arg-type]
    else:
        stream = counted
    return stream, [stream, counted, fh]


class Sha256InBackground:
    """The sha256 of a file, computed in a thread while the file is being parsed.

    hashlib releases the GIL on large buffers, so hashing overlaps with parsing.
    """

    def __init__(self, path: Path) -> None:
        self._digest: str | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), daemon=True)
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._digest = sha256_file(path)
        except BaseException as exc:  # noqa: BLE001 - re-raised in result()
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest


def sha256_file(path: Path) -> str:
    """The sha256 of a file, hashed from a memory map (no copies; pages released as read)."""
    h = hashlib.sha256()
    step = 16 * 1024 * 1024
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            return h.hexdigest()
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):
            while block := fh.read(step):
                h.update(block)
            return h.hexdigest()
        with mm, memoryview(mm) as view:
            for pos in range(0, size, step):
                h.update(view[pos : pos + step])
                if hasattr(mm, "madvise"):
                    mm.madvise(mmap.MADV_DONTNEED, pos, min(step, size - pos))
    return h.hexdigest()
