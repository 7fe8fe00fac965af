"""``StateStore`` on PostgreSQL (asyncpg), shareable by several daemons.

The shape is the SQLite store's: concurrent ``commit`` calls queue up and one writer task
commits everything queued so far in one transaction on one connection (group commit);
reads go through a small pool so they never wait behind a commit. What differs is that
several daemons may use one database: when ``attach_leases`` gives the store this
daemon's partition leases (store/leases.py), every commit is fenced (``_pg_batch.py``),
reminders are read only for owned partitions, and each commit tells the other daemons,
with ``NOTIFY``, which of their partitions got a new reminder and which instances changed.
Without leases (tests, tools) it is a plain single-user store.

There is no file to vacuum and no older layout to compact: PostgreSQL's autovacuum reuses
the space of deleted rows and TOAST compresses large values, so ``compact`` and
``reclaim_space`` do nothing and ``free_bytes`` reports 0 (docs/multi-node.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from wfsidecar.errors import StoreConflictError, StoreUnavailable
from wfsidecar.store import _pg_reads as reads
from wfsidecar.store._commit_queue import CommitQueue
from wfsidecar.store._pg_batch import Caller, statements
from wfsidecar.store._pg_schema import migrate
from wfsidecar.store._pg_writer import (
    Leases,
    Pending,
    PgWriter,
    PostgresStats,
    redacted,
)
from wfsidecar.store._validation import checked_ops
from wfsidecar.store.base import Changes, DeleteActor, PutInstance, Reminder
from wfsidecar.store.instances import (
    InstanceFilter,
    InstancePage,
    InstanceQuery,
    InstanceRow,
    InstanceTotals,
)
from wfsidecar.store.partitions import is_message, op_ref, partition_of
from wfsidecar.telemetry.observer import NULL, Observer
from wfsidecar.types import ActorRef

logger = logging.getLogger(__name__)


class PostgresStore(PgWriter):
    """Create it with ``await PostgresStore.open(dsn)``."""

    def __init__(self, *, dsn: str, writer: asyncpg.Connection, pool: asyncpg.Pool,
                 partitions: int, max_batch: int) -> None:
        self.dsn = dsn
        self.partitions = partitions
        self.stats = PostgresStats()
        self.write_fault: str | None = None
        self._writer: asyncpg.Connection | None = writer
        self._pool = pool
        self._commits: CommitQueue[Pending] = CommitQueue(max_batch)
        self._closing = False
        self._closed = asyncio.Event()
        self._observer: Observer = NULL
        self._recovery: list[Callable[[], None]] = []
        self._leases: Leases | None = None
        self._settings: dict[str, str] = {}
        self._writer_task = asyncio.create_task(self._commits.run(
            self._run, lambda: self.write_fault, self._probe), name="postgres-writer")

    @classmethod
    async def open(cls, dsn: str, *, max_batch: int = 256, partitions: int = 64,
                   pool_size: int = 4, connect_timeout: float = 10.0,
                   idle_transaction_timeout: float = 5.0) -> PostgresStore:
        """Connect, migrate and start the writer.

        Raises:
            ValueError: an argument is out of range.
            SchemaTooNewError: the database was migrated by a newer wfsidecar.
            StoreUnavailable: the server cannot be reached or the migration failed.
        """
        if max_batch < 1 or partitions < 1 or pool_size < 1:
            raise ValueError("max_batch, partitions and pool_size must be at least 1")
        where = redacted(dsn)
        # A daemon paused (SIGSTOP, a VM freeze) inside a transaction would hold its row
        # locks, among them the lease rows its commit fenced on, and keep the other
        # daemons from taking its partitions; the server ends such a session instead.
        settings = {"idle_in_transaction_session_timeout":
                    str(max(int(idle_transaction_timeout * 1000), 1))}
        writer: asyncpg.Connection | None = None
        try:
            writer = await asyncpg.connect(dsn, timeout=connect_timeout,
                                           server_settings=settings)
            partitions = await migrate(writer, where=where, partitions=partitions)
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=pool_size,
                                             timeout=connect_timeout, server_settings=settings)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            if writer is not None:
                await writer.close()
            raise StoreUnavailable(f"cannot open PostgreSQL store {where}: {exc}") from exc
        logger.info("opened PostgreSQL store %s (%d partitions)", where, partitions)
        store = cls(dsn=dsn, writer=writer, pool=pool, partitions=partitions,
                    max_batch=max_batch)
        store._settings = settings
        return store

    # -- cluster hooks -----------------------------------------------------------------

    def attach_leases(self, leases: Leases) -> None:
        """Fence every commit with ``leases`` and read reminders of owned partitions only."""
        self._leases = leases

    def partition(self, ref: ActorRef) -> int:
        return partition_of(ref, self.partitions)

    @property
    def session_settings(self) -> dict[str, str]:
        """Server settings every connection of this store uses (leases.py connects too)."""
        return dict(self._settings)

    # -- StateStore --------------------------------------------------------------------

    def observe(self, observer: Observer) -> None:
        self._observer = observer

    def add_recovery_listener(self, listener: Callable[[], None]) -> None:
        self._recovery.append(listener)

    async def load_actor(self, ref: ActorRef) -> dict[str, bytes]:
        rows = await self._fetch(reads.LOAD_ACTOR, ref.type, ref.id)
        return {r[0]: bytes(r[1]) for r in rows}

    async def reminders_due_before(self, due_ms: int, limit: int) -> list[Reminder]:
        if limit <= 0:
            return []
        if self._leases is None:
            rows = await self._fetch(reads.DUE_BEFORE, due_ms, limit)
        else:
            owned = sorted(self._leases.tokens())
            if not owned:
                return []
            rows = await self._fetch(reads.DUE_BEFORE_OWNED, due_ms, limit, owned)
        return [reads.reminder(r) for r in rows]

    async def get_reminder(self, ref: ActorRef, name: str) -> Reminder | None:
        rows = await self._fetch(reads.GET_REMINDER, ref.type, ref.id, name)
        return reads.reminder(rows[0]) if rows else None

    async def list_actor_ids(self, actor_type: str, *, after: str | None,
                             limit: int) -> list[str]:
        rows = await self._fetch(reads.LIST_IDS, actor_type, after or "", max(limit, 0))
        return [r[0] for r in rows]

    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        sql, params = reads.query_sql(query)  # a bad cursor raises here
        return reads.page(query, await self._fetch(sql, *params))

    async def count_instances(self, flt: InstanceFilter) -> InstanceTotals:
        sql, params = reads.count_sql(flt)
        return reads.totals((await self._fetch(sql, *params))[0])

    async def size_bytes(self) -> int:
        """The whole database's size (every daemon's data: it is shared).

        Raises:
            OSError: the server cannot be reached (a metrics scrape then leaves the
                figure out, as for a file it cannot stat).
        """
        try:
            rows = await self._fetch("SELECT pg_database_size(current_database())")
        except StoreUnavailable as exc:
            raise OSError(str(exc)) from exc
        return int(rows[0][0])

    async def compact(self, limit: int) -> int:
        return 0  # one layout only

    async def reclaim_space(self, max_pages: int) -> int:
        return 0  # autovacuum's job

    async def free_bytes(self) -> int:
        return 0

    async def largest_instances(self, limit: int) -> list[InstanceRow]:
        return [reads.instance_row(r) for r in await self._fetch(reads.LARGEST, max(limit, 0))]

    async def instance_backfill_pending(self) -> bool:
        return False  # every PostgreSQL store kept the index from its first commit

    async def instance_backfill_done(self) -> None:
        pass

    async def commit(self, changes: Changes) -> None:
        if self._closing:
            raise StoreUnavailable("the PostgreSQL store is closed")
        ops = checked_ops(changes)
        if not ops:
            return
        caller = statements(ops, self.partitions)
        if self._leases is not None:
            self._claim(caller, ops, self._leases.tokens())
        # Instances whose row changed or went (a purge), for waiters on other daemons.
        instances = [op.ref.id for op in ops if type(op) is PutInstance or type(op) is DeleteActor]
        pending = Pending(caller, len(ops), instances,
                           asyncio.get_running_loop().create_future())
        self._commits.add(pending)
        await pending.future

    def _claim(self, caller: Caller, ops: Sequence[Any], owned: dict[int, int]) -> None:
        for op in ops:
            part = partition_of(op_ref(op), self.partitions)
            token = owned.get(part)
            if token is not None:
                caller.needs[part] = token
            elif not is_message(op):
                self.stats.refused_stale += 1
                raise StoreConflictError(
                    f"partition {part} of {op_ref(op)} is not owned by this daemon")

    async def close(self) -> None:
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            self._commits.close()
            await asyncio.wait([self._writer_task])
        finally:
            if self._writer is not None:
                await _close_quietly(self._writer)
            try:
                await asyncio.wait_for(self._pool.close(), 10)
            except (TimeoutError, OSError, asyncpg.InterfaceError):
                self._pool.terminate()
            self._closed.set()
            logger.info("closed PostgreSQL store %s", redacted(self.dsn))

    # -- internals ---------------------------------------------------------------------

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        if self._closing:
            raise StoreUnavailable("the PostgreSQL store is closed")
        # Shielded: a caller cancelled mid-query (a client gone, a deadline) must not cut
        # the query off on its pooled connection, which asyncpg can leave unusable for
        # the next user ("another operation is in progress"); the read finishes alone.
        read = asyncio.ensure_future(self._fetch_on_pool(sql, args))
        read.add_done_callback(_retrieved)  # its error is the caller's, or nobody's
        return await asyncio.shield(read)

    async def _fetch_on_pool(self, sql: str, args: tuple[Any, ...]) -> list[asyncpg.Record]:
        try:
            async with self._pool.acquire() as conn:
                return list(await conn.fetch(sql, *args))
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise StoreUnavailable(f"cannot read {redacted(self.dsn)}: {exc}") from exc


def _retrieved(task: asyncio.Future[list[asyncpg.Record]]) -> None:
    if not task.cancelled():
        task.exception()


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 5)
    except (TimeoutError, OSError, asyncpg.InterfaceError, asyncpg.PostgresError):
        conn.terminate()
