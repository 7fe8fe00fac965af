"""What ``wfsidecar cluster status`` shows: the daemons sharing a PostgreSQL database,
their partitions and leases, and how far behind each is, read from the tables alone (no
daemon is asked, so it works while daemons are down, which is when it is wanted)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from wfsidecar.store.leases import DB_NOW_MS

_DAEMONS = (
    f"SELECT d.id, d.address, d.dialects, {DB_NOW_MS} - d.heartbeat_ms,"
    f" {DB_NOW_MS} - d.started_ms,"
    " d.takeovers, d.refused, count(l.partition),"
    f" coalesce(max({DB_NOW_MS} - l.taken_ms), 0), coalesce(min(l.expires_ms - {DB_NOW_MS}), 0)"
    " FROM daemons d LEFT JOIN leases l ON l.owner = d.id"
    " GROUP BY d.id ORDER BY d.started_ms"
)
# Reminders due and not yet fired, per owner of their partition (NULL: nobody owns it).
_LAG = (
    f"SELECT l.owner, count(*), {DB_NOW_MS} - min(r.due_ms) FROM reminders r"
    f" JOIN leases l ON l.partition = r.partition WHERE r.due_ms <= {DB_NOW_MS} - 1000"
    " GROUP BY l.owner"
)
_UNOWNED = f"SELECT count(*) FROM leases WHERE owner IS NULL OR expires_ms < {DB_NOW_MS}"
_PARTITIONS = "SELECT count(*) FROM leases"


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    id: str
    address: str
    workers: str  # dialects with a worker connected ("" = none: holds no partition)
    heartbeat_age_ms: int
    up_ms: int
    partitions: int
    oldest_lease_ms: int  # since the longest-held partition was taken
    lease_left_ms: int  # until the soonest-expiring lease expires unless renewed
    takeovers: int
    refused: int  # its commits refused by fencing (lost leases)
    overdue: int  # reminders due over a second ago in its partitions
    lag_ms: int  # how long the oldest of them has been due


@dataclass(frozen=True, slots=True)
class ClusterStatus:
    partitions: int
    unowned: int  # free or expired partitions
    unowned_overdue: int
    daemons: list[DaemonStatus]


async def read_status(dsn: str) -> ClusterStatus:
    """Raises: OSError, asyncpg.PostgresError: the database cannot be read."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            rows = await conn.fetch(_DAEMONS)
            lag = {r[0]: (int(r[1]), int(r[2])) for r in await conn.fetch(_LAG)}
            unowned = int(await conn.fetchval(_UNOWNED))
            partitions = int(await conn.fetchval(_PARTITIONS))
    finally:
        await conn.close()
    daemons = [DaemonStatus(r[0], r[1], r[2], int(r[3]), int(r[4]), int(r[7]), int(r[8]),
                            int(r[9]), int(r[5]), int(r[6]), *lag.get(r[0], (0, 0)))
               for r in rows]
    return ClusterStatus(partitions, unowned, lag.get(None, (0, 0))[0], daemons)
