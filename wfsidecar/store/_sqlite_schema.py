"""Opening a SQLite store file: the ownership lock, PRAGMAs and numbered migrations.

Everything here is synchronous. The lock functions run through ``asyncio.to_thread`` and
the connection functions run on the aiosqlite connection's own thread, so none of it
blocks the event loop.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from wfsidecar.errors import SchemaTooNewError, StoreLockedError, StoreUnavailable
from wfsidecar.store._sqlite_space import choose_incremental, enable_incremental_vacuum

logger = logging.getLogger(__name__)

SYNCHRONOUS_MODES = ("FULL", "NORMAL", "OFF")
_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def acquire_lock(db_path: Path) -> int:
    """Take an exclusive, non-blocking ``flock`` on ``<db_path>.lock``; return its fd.

    SQLite's own locks only serialize transactions; two daemons on one file would both
    run reminders and actors. The lock file is never deleted: unlinking it would let a
    third process lock a fresh inode while the second still holds the old one.

    Raises:
        StoreLockedError: another process (or another store in this one) holds the lock.
        StoreUnavailable: the lock file cannot be created (missing directory, permissions).
    """
    lock_path = f"{db_path}.lock"
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreUnavailable(f"cannot create lock file {lock_path}: {exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StoreLockedError(str(db_path)) from None
    except OSError as exc:
        os.close(fd)
        raise StoreUnavailable(f"cannot lock {lock_path}: {exc}") from exc
    return fd


def release_lock(fd: int) -> None:
    # Closing the descriptor drops the flock; the explicit unlock documents intent and
    # releases it even if a forked child inherited the descriptor.
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def load_migrations() -> list[Migration]:
    """Read ``migrations/sqlite/NNNN_name.sql`` from package data, in version order."""
    folder = resources.files("wfsidecar.store").joinpath("migrations", "sqlite")
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    # A gap or a duplicate would silently skip schema changes on some databases.
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"sqlite migrations are not numbered 1..N: {[m.name for m in found]}")
    return found


def prepare_writer(
    conn: sqlite3.Connection, *, db_path: str, synchronous: str, busy_ms: int
) -> int:
    """Configure the writer connection and migrate the schema; return the schema version.

    The version check runs before anything that writes (even ``journal_mode=WAL`` writes
    the file header), so a database from a newer wfsidecar is left byte-for-byte intact.

    Raises:
        SchemaTooNewError: the file's schema is newer than this build's newest migration.
        sqlite3.Error: the file is unreadable, not a database, or WAL is unavailable.
    """
    conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
    migrations = load_migrations()
    newest = migrations[-1].version
    found = _schema_version(conn)
    if found > newest:
        raise SchemaTooNewError(db_path, found, newest)

    if found == 0:
        choose_incremental(conn)  # before the first table, or it needs a VACUUM
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"journal_mode=WAL refused (got {mode!r})")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")

    for migration in migrations[found:]:
        _apply_migration(conn, migration)
        logger.info("applied migration %s to %s", migration.name, db_path)
    enable_incremental_vacuum(conn, db_path)
    return newest


def prepare_reader(conn: sqlite3.Connection, *, busy_ms: int) -> None:
    # query_only turns an accidental write on the read connection into an error instead
    # of a second writer racing the group-commit transaction.
    conn.execute(f"PRAGMA busy_timeout = {busy_ms}")
    conn.execute("PRAGMA query_only = ON")


def _schema_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if exists is None:
        return 0
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def _apply_migration(conn: sqlite3.Connection, migration: Migration) -> None:
    # executescript() ignores isolation_level and runs the script as written, so the
    # transaction control lives in the script: the migration and its version row commit
    # together, and a crash mid-migration leaves the previous version intact.
    script = (
        "BEGIN IMMEDIATE;\n"
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL);\n"
        f"{migration.sql}\n"
        "INSERT INTO schema_version (version, applied_ms) VALUES "
        f"({migration.version}, {int(time.time() * 1000)});\n"
        "COMMIT;\n"
    )
    try:
        conn.executescript(script)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
