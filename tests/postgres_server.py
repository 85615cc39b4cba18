"""A real PostgreSQL server for the tests: a throw-away cluster in a temporary directory.

Debian's `postgresql` package (`.ci/run` installs it) provides the binaries; the cluster
listens on a free loopback port with trust authentication for one role, `cvw`, and is
stopped (fast shutdown) and removed when the session ends. PostgreSQL refuses to run as
root, so under root the server runs as the package's `postgres` user.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

ROLE = "cvw"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine (install Debian's `postgresql`)."""


def server_bindir() -> Path:
    found = shutil.which("initdb")
    if found and Path(found).resolve().with_name("postgres").is_file():
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if not candidates:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries (initdb, postgres): apt-get install postgresql (.ci/run does)")
    return Path(candidates[-1]).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, root: Path | None = None):
        # under root, in a directory of its own in /tmp: pytest's temporary directories are
        # private to root, and the server's user must reach its cluster
        self.root = root or Path(tempfile.mkdtemp(prefix="cvw-postgres-"))
        self.data = self.root / "cluster"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.bindir = server_bindir()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self._as_user, *args], check=True, capture_output=True, text=True)

    def start(self) -> PostgresServer:
        self.root.mkdir(parents=True, exist_ok=True)
        self.sockets.mkdir(exist_ok=True)
        if self._as_user:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sockets, "postgres")
            self.root.chmod(0o755)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", ROLE, "--auth=trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        # durability off: a test cluster, and the tests measure the pipeline, not fsync
        options = (f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                      "-o", options, "-w", "-t", "60", "start")
        except subprocess.CalledProcessError as error:
            log = self.log.read_text() if self.log.is_file() else ""
            raise RuntimeError(f"PostgreSQL did not start: {error.stderr}\n{log}") from None
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").is_file():
            subprocess.run([*self._as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                            "-w", "stop"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", driver: str = "postgresql") -> str:
        return f"{driver}://{ROLE}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new, empty database; returns its psycopg2-style URL (what dagster-postgres takes)."""
        self._run(str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", ROLE, "-d", "postgres",
                  "-v", "ON_ERROR_STOP=1", "-c", f'create database "{name}"')
        return self.url(name)


def copy_sqlite_database(sqlite_path: Path, url: str) -> dict[str, int]:
    """Replace the tables of the database at `url` with those of a SQLite file, row for row
    in the file's order, every value as the text SQLite holds (the demo's faults include
    values no typed column would take, such as a price '10.99x'); returns rows per table."""
    import sqlite3

    import psycopg

    copied = {}
    with sqlite3.connect(sqlite_path) as source, psycopg.connect(url) as target:
        tables = [r[0] for r in source.execute("select name from sqlite_master where type = 'table' order by name")]
        for table in tables:
            columns = [f'"{r[1]}"' for r in source.execute(f'pragma table_info("{table}")')]
            target.execute(f'drop table if exists "{table}"')
            target.execute(f'create table "{table}" ({", ".join(f"{c} text" for c in columns)})')
            rows = source.execute(f'select {", ".join(f"cast({c} as text)" for c in columns)} '
                                  f'from "{table}" order by rowid')
            with target.cursor().copy(f'copy "{table}" ({", ".join(columns)}) from stdin') as copy:
                for row in rows:
                    copy.write_row(row)
            copied[table] = target.execute(f'select count(*) from "{table}"').fetchone()[0]
        target.commit()
    return copied
