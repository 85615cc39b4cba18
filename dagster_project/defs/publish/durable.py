"""Files that count only once complete: fsync before rename, one publisher at a time.

A rename is atomic, but without fsync a crash can leave the new name pointing at data the
disk never received; fsync of the directory makes the rename itself survive a crash.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(source: Path, target: Path) -> None:
    """Rename `source` (a complete file or directory) over `target`, surviving a crash."""
    if source.is_file():
        fsync_file(source)
    os.replace(source, target)
    fsync_dir(target.parent)


def write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def replace_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all: a reader or a crash never sees half a file."""
    partial = path.with_name(f".{path.name}.partial")
    write_durably(partial, data)
    replace_durably(partial, path)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def publication_lock(serving_path: Path) -> Iterator[None]:
    """Serialise publications and rollbacks of one serving file.

    Each carries the previous publication_log over into its new file: two at once would
    lose one's row, and a retention sweep could delete the snapshot a rollback is reading.
    Readers never take this lock.
    """
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    with open(serving_path.with_name(f".{serving_path.name}.lock"), "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def sql_literal(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def sql_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
