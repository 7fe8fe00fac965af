"""A throwaway PostgreSQL cluster for tests: ``initdb`` into a temporary directory and
``pg_ctl start`` on a free loopback port, stopped (and deleted) when the tests end.

initdb refuses to run as root, so as root the server runs as the ``postgres`` system user
(``runuser``); the data directory is created for that user. Durability is switched off
(``fsync=off``): a test cluster that dies is thrown away anyway, and fsyncs would make
every commit cost milliseconds.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def server_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, or None if no server is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster; ``dsn(db)`` connects to database ``db`` as the superuser."""

    bindir: Path
    root: Path
    port: int
    user: str | None  # the system user the server runs as (None: this process's own)
    durable: bool = False  # fsync and synchronous commit as in production (benchmarks)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def dsn(self, database: str = "postgres") -> str:
        # A password (ignored: trust authentication) keeps asyncpg from reading ~/.pgpass,
        # a blocking file access on the event loop; so does looking for client
        # certificates, which sslmode=disable skips (loopback).
        return f"postgresql://postgres:test@127.0.0.1:{self.port}/{database}?sslmode=disable"

    def _run(self, *argv: str) -> None:
        command = list(argv)
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        fast = ("" if self.durable else
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60",
                  "-l", str(self.root / "server.log"), "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
                  f"{fast} -c max_connections=200", "start")

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate",
                      "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        self._run(str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "-d", "postgres", "-q", "-c", f'CREATE DATABASE "{name}"')
        return self.dsn(name)


def start_cluster(*, durable: bool = False) -> Cluster:
    """initdb and start a new cluster (about 2 s); ``durable`` keeps fsync on.

    Raises:
        RuntimeError: no PostgreSQL server is installed.
        subprocess.CalledProcessError: initdb or pg_ctl failed.
    """
    bindir = server_bin()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) are installed")
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="wfsidecar-pg-"))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(bindir, root, _free_port(), user, durable)
    try:
        cluster._run(str(bindir / "initdb"), "-D", str(cluster.datadir), "-U", "postgres",
                     "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster
