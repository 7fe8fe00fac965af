"""Partition leases: which daemon owns which actors, kept in PostgreSQL itself.

No placement service and no membership protocol: each daemon heartbeats a row in
``daemons`` and renews its rows in ``leases`` every third of the lease TTL, in one
transaction whose clock is the database's (so daemons on machines with skewed clocks
agree on expiry). The partitions are balanced by each daemon on its own: it holds at most
``ceil(partitions / live daemons)``, releases what is beyond that, and takes free or
expired rows up to it. A joining daemon therefore gets its share within two heartbeats,
and a dead one's rows are taken within the TTL plus a heartbeat.

Every take bumps the partition's fencing ``token``. Commits check the tokens of the
partitions they write in their own transaction (``_pg_batch.py``), so a daemon that was
paused, cut off or slow past its lease can never write again: its commit is refused, and
``lost`` drops the partition here and tells the listeners (the actor runtime and the
reminder scheduler drop what they hold of it).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from wfsidecar.store.postgres import PostgresStore

logger = logging.getLogger(__name__)

# The database's clock in ms: leases and heartbeats are stamped by it, never by a daemon.
DB_NOW_MS = "(extract(epoch from clock_timestamp()) * 1000)::bigint"
_HEARTBEAT = (
    "INSERT INTO daemons (id, address, started_ms, heartbeat_ms, dialects, takeovers, refused)"
    f" VALUES ($1, $2, {DB_NOW_MS}, {DB_NOW_MS}, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET"
    f" heartbeat_ms = {DB_NOW_MS}, address = $2, dialects = $3, takeovers = $4, refused = $5"
    f" RETURNING heartbeat_ms"
)
# Lease rows are always locked in partition order (a commit's fencing check takes them FOR
# SHARE in that order): a plain UPDATE locks them in physical order, which changes with
# every update, and a heartbeat and a commit of the same daemon could then deadlock.
_RENEW = (
    "UPDATE leases SET expires_ms = $2::bigint + $3::bigint WHERE partition IN"
    " (SELECT partition FROM leases WHERE owner = $1 ORDER BY partition FOR UPDATE)"
    " RETURNING partition, token"
)
_LIVE = (
    "SELECT count(*) FROM daemons WHERE heartbeat_ms > $1::bigint - $2::bigint"
    " AND dialects <> ''"
)
_RELEASE = (
    "UPDATE leases SET owner = NULL, expires_ms = 0 WHERE partition IN"
    " (SELECT partition FROM leases WHERE owner = $1 AND partition = ANY($2::int[])"
    " ORDER BY partition FOR UPDATE)"
)
_TAKE = (
    "WITH picked AS (SELECT partition, owner AS previous, expires_ms AS expired FROM leases"
    " WHERE owner IS NULL OR expires_ms < $2::bigint ORDER BY partition LIMIT $4"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE leases AS l SET owner = $1, token = l.token + 1,"
    " expires_ms = $2::bigint + $3::bigint,"
    " taken_ms = $2 FROM picked WHERE l.partition = picked.partition"
    " RETURNING l.partition, l.token, picked.previous, picked.expired"
)

# (gained partitions, lost partitions) -> None; called on the event loop.
OwnershipListener = Callable[[set[int], set[int]], None]


@dataclass(frozen=True, slots=True)
class Takeover:
    """A partition taken from a daemon whose lease had expired (not a free one)."""

    partition: int
    previous: str
    expired_for_ms: int  # how long the lease had been expired when it was taken


class PartitionLeases:
    """This daemon's leases; implements the store's ``Leases`` (``tokens``, ``lost``)."""

    def __init__(self, store: PostgresStore, *, owner: str, address: str, ttl: float,
                 eligible: Callable[[], str] = lambda: "any") -> None:
        self.owner = owner
        self._store = store
        self._address = address
        self._ttl_ms = max(int(ttl * 1000), 1)
        # Which dialects this daemon can run now ("" while no worker is connected: it then
        # holds no partition, so work waits on a daemon that can run it; docs/multi-node.md).
        self._eligible = eligible
        self._owned: dict[int, int] = {}
        self._listeners: list[OwnershipListener] = []
        self._stopping = asyncio.Event()
        self._poked = asyncio.Event()
        self.takeovers: list[Takeover] = []
        self.lost_count = 0
        self.heartbeats = 0
        self._dropped: set[int] = set()
        self._conn: asyncpg.Connection | None = None

    @property
    def interval(self) -> float:
        return self._ttl_ms / 3000

    def tokens(self) -> dict[int, int]:
        return self._owned

    def add_listener(self, listener: OwnershipListener) -> None:
        self._listeners.append(listener)

    def lost(self, partitions: set[int]) -> None:
        dropped = {p for p in partitions if self._owned.pop(p, None) is not None}
        self._dropped |= dropped
        if dropped:
            self.lost_count += len(dropped)
            logger.warning("lost the lease of partitions %s to another daemon", sorted(dropped))
            self._tell(set(), dropped)

    async def run(self) -> None:
        """Heartbeat until ``stop()``; then release every lease (an orderly hand-over)."""
        try:
            while not self._stopping.is_set():
                try:
                    await self.heartbeat()
                except Exception as exc:  # never fatal: the next round tries again
                    logger.warning("lease heartbeat failed: %r", exc)
                    self._drop_connection()
                self._poked.clear()
                stop = asyncio.ensure_future(self._stopping.wait())
                poke = asyncio.ensure_future(self._poked.wait())
                await asyncio.wait([stop, poke], timeout=self.interval,
                                   return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                poke.cancel()
        finally:
            await self._release_all()
            await self.close()

    async def close(self) -> None:
        """Close the heartbeat's connection (``run`` does; tests driving ``heartbeat``
        themselves call it)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:  # noqa: BLE001 - going away either way
                conn.terminate()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.terminate()  # its state is unknown after a failure
            self._conn = None

    async def _connection(self) -> asyncpg.Connection:
        """The heartbeat's own connection: a read cancelled on a pooled connection (a
        client gone mid-call) can leave it unusable for the next user, and a failed
        heartbeat must not wait for the pool either."""
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self._store.dsn, timeout=10,
                                               server_settings=self._store.session_settings)
        return self._conn

    def stop(self) -> None:
        self._stopping.set()

    def poke(self) -> None:
        """Run a round now (workers came or went)."""
        self._poked.set()

    async def heartbeat(self) -> None:
        """One round: heartbeat, renew, then release or take to reach this daemon's share."""
        dialects = self._eligible()
        before = dict(self._owned)
        self._dropped = set()
        conn = await self._connection()
        async with conn.transaction():
            now = int(await conn.fetchval(_HEARTBEAT, self.owner, self._address, dialects,
                                          len(self.takeovers), self._store.stats.refused_stale))
            held = {int(r[0]): int(r[1]) for r in await conn.fetch(
                _RENEW, self.owner, now, self._ttl_ms)}
            live = max(int(await conn.fetchval(_LIVE, now, self._ttl_ms)), 1)
            share = math.ceil(self._store.partitions / live) if dialects else 0
            release = sorted(held)[share:] if len(held) > share else []
            for p in release:  # dropped here before the row is freed: no commit of ours
                self._owned.pop(p, None)  # can reach it once another daemon takes it
            if release:
                await conn.execute(_RELEASE, self.owner, release)
            keep = {p: t for p, t in held.items() if p not in release}
            if len(keep) < share:
                for row in await conn.fetch(_TAKE, self.owner, now, self._ttl_ms,
                                            share - len(keep)):
                    keep[int(row[0])] = int(row[1])
                    if row[2] is not None:
                        self.takeovers.append(Takeover(int(row[0]), row[2], now - int(row[3])))
        self.heartbeats += 1
        for p in self._dropped:  # a commit found it lost while this round ran
            keep.pop(p, None)
        gone = {p for p, token in before.items() if keep.get(p) != token} - set(release)
        gained = {p for p, token in keep.items() if before.get(p) != token}
        self._owned.clear()
        self._owned.update(keep)
        self.lost_count += len(gone - self._dropped)
        if gone or release or gained:
            if gone:
                logger.warning("leases of partitions %s expired and were taken", sorted(gone))
            logger.info("partitions: %d owned (+%d taken, -%d released, -%d lost) of %d,"
                        " %d live daemons", len(self._owned), len(gained), len(release),
                        len(gone), self._store.partitions, live)
            self._tell(gained, gone | set(release))

    async def _release_all(self) -> None:
        owned, self._owned = sorted(self._owned), {}
        if not owned:
            return
        self._tell(set(), set(owned))
        try:
            conn = await self._connection()
            await conn.execute(_RELEASE, self.owner, owned)
            await conn.execute("DELETE FROM daemons WHERE id = $1", self.owner)
        except Exception as exc:  # noqa: BLE001 - they expire anyway
            logger.warning("could not release %d leases (they expire): %r", len(owned), exc)

    def _tell(self, gained: set[int], lost: set[int]) -> None:
        for listener in self._listeners:
            try:
                listener(gained, lost)
            except Exception:
                logger.exception("partition ownership listener failed")
