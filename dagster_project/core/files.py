"""Files that count only once complete: fsync before rename; checksums; exclusive locks.

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


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def replace_pngs(directory: Path, pictures: dict[str, bytes]) -> None:
    """Make `directory` hold exactly `pictures` ({name: PNG bytes}) as `<name>.png`, each
    replaced whole; a picture not in `pictures` is removed rather than left to describe
    another run, and so is debris of a replacement a crash interrupted."""
    directory.mkdir(parents=True, exist_ok=True)
    for debris in directory.glob(".*.partial"):
        debris.unlink(missing_ok=True)
    for name, data in pictures.items():
        replace_file(directory / f"{name}.png", data)
    for stale in directory.glob("*.png"):
        if stale.stem not in pictures:
            stale.unlink()


@contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_path` (created if missing) for the block."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


class LockHeld(RuntimeError):
    """The lock is another process's; `holder` is how it described itself in the lock file."""

    def __init__(self, lock_path: Path, holder: str):
        super().__init__(f"{lock_path} is held by {holder}")
        self.lock_path, self.holder = lock_path, holder


@contextmanager
def held_lock(lock_path: Path, holder: str) -> Iterator[str | None]:
    """Take an exclusive lock on `lock_path` at once, or raise LockHeld naming its holder (what
    it wrote into the file). The kernel frees the lock of a process that dies, so a lock left
    by a killed process is simply taken over; the block receives what such a process had
    written (None when the file was clean)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock_path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        who = handle.read().strip() or "another process"
        handle.close()
        raise LockHeld(lock_path, who) from None
    try:
        handle.seek(0)
        left = handle.read().strip() or None
        handle.seek(0)
        handle.truncate()
        handle.write(holder + "\n")
        handle.flush()
        yield left
    finally:
        handle.seek(0)
        handle.truncate()
        handle.flush()
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
