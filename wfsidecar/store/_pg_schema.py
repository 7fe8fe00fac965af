"""Migrating a PostgreSQL store database: numbered SQL files under one advisory lock.

Several daemons may start against one database at the same moment; the advisory lock
makes one of them migrate while the others wait, then find the schema current. Each
migration and its ``schema_version`` row commit together, so a crash mid-migration leaves
the previous version intact (the same runner shape as ``_sqlite_schema.py``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

from wfsidecar.errors import SchemaTooNewError

logger = logging.getLogger("wfsidecar.store.postgres")

_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
# An arbitrary, fixed key for pg_advisory_xact_lock: "wfsd" in ASCII.
_MIGRATION_LOCK = 0x77667364


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """Read ``migrations/postgres/NNNN_name.sql`` from package data, in version order."""
    folder = resources.files("wfsidecar.store").joinpath("migrations", "postgres")
    found = [Migration(int(m.group(1)), entry.name, entry.read_text("utf-8"))
             for entry in folder.iterdir()
             if (m := _MIGRATION_NAME.fullmatch(entry.name))]
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"postgres migrations are not numbered 1..N: {[m.name for m in found]}")
    return found


async def migrate(conn: asyncpg.Connection, *, where: str, partitions: int) -> int:
    """Bring the schema to the newest version; return the partition count in force.

    The first daemon to open a database fixes its partition count (``store_meta``); a
    later daemon configured with another count uses the stored one and says so, since
    actors hashed two ways would have two owners.

    Raises:
        SchemaTooNewError: the database was migrated by a newer wfsidecar.
        asyncpg.PostgresError: a migration failed (rolled back).
    """
    migrations = await asyncio.to_thread(load_migrations)  # package files: off the loop
    newest = migrations[-1].version
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                           " version INTEGER PRIMARY KEY, applied_ms BIGINT NOT NULL)")
        found = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
        if found > newest:
            raise SchemaTooNewError(where, found, newest)
        for migration in migrations[found:]:
            async with conn.transaction():  # a savepoint: each version applies whole
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_version VALUES ($1,"
                    " (extract(epoch from clock_timestamp()) * 1000)::bigint)",
                    migration.version)
            logger.info("applied migration %s to %s", migration.name, where)
        await conn.execute("INSERT INTO store_meta (key, value) VALUES ('partitions', $1)"
                           " ON CONFLICT (key) DO NOTHING", str(partitions))
        stored = int(await conn.fetchval("SELECT value FROM store_meta WHERE key = 'partitions'"))
        await conn.execute("INSERT INTO leases (partition) SELECT generate_series(0, $1 - 1)"
                           " ON CONFLICT (partition) DO NOTHING", stored)
    if stored != partitions:
        logger.warning("%s was created with %d partitions; using them, not %d",
                       where, stored, partitions)
    return stored
