"""``StateStore`` on one SQLite file in WAL mode, with group commit (style.md §3.13).

Writes go through one writer connection. Concurrent ``commit`` calls are queued and a
single writer task commits everything queued so far in one transaction, one await per
transaction (performance.md §4.2: every aiosqlite await is a thread hop of ~40-110 µs;
§4.4: many rows per fsync is what makes synchronous=FULL affordable). Reads use a second
connection so they never wait behind a commit; WAL gives them a consistent snapshot.
Running one batch and settling its callers is ``_sqlite_committer.py``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import aiosqlite

from wfsidecar.errors import StoreUnavailable
from wfsidecar.store import _sqlite_instances as instance_sql
from wfsidecar.store import _sqlite_reads as reads
from wfsidecar.store._commit_queue import CommitQueue
from wfsidecar.store._sqlite_committer import BatchCommitter, PendingCommit, SqliteStats
from wfsidecar.store._sqlite_conn import close_quietly, on_thread
from wfsidecar.store._sqlite_errors import read_failed
from wfsidecar.store._sqlite_maintenance import SqliteMaintenance
from wfsidecar.store._sqlite_schema import (
    SYNCHRONOUS_MODES,
    acquire_lock,
    prepare_reader,
    prepare_writer,
    release_lock,
)
from wfsidecar.store._validation import checked_ops
from wfsidecar.store.base import Changes, Reminder
from wfsidecar.store.instances import (
    InstanceFilter,
    InstancePage,
    InstanceQuery,
    InstanceTotals,
)
from wfsidecar.telemetry.observer import Observer
from wfsidecar.types import ActorRef

logger = logging.getLogger(__name__)

_T = TypeVar("_T")



class SqliteStore(SqliteMaintenance):
    """The default ``StateStore``. Create it with ``await SqliteStore.open(path)``.

    Housekeeping (packing, incremental vacuum, space figures) is ``SqliteMaintenance``."""

    def __init__(
        self,
        *,
        path: Path,
        lock_fd: int,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        max_batch: int,
        group_commit: bool,
    ) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self._writer = writer
        self._reader = reader
        self._group_commit = group_commit
        self._committer = BatchCommitter(writer, path)
        self._commits: CommitQueue[PendingCommit] = CommitQueue(max_batch)
        # Baseline mode (group_commit=False) and close() serialize on this lock.
        self._write_lock = asyncio.Lock()
        self._closing = False
        self._closed = asyncio.Event()
        self._writer_task: asyncio.Task[None] | None = None
        if group_commit:
            self._writer_task = asyncio.create_task(self._commits.run(
                self._committer.run, lambda: self._committer.write_fault,
                self._committer.probe), name="sqlite-writer")

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        busy_timeout: float = 5.0,
        max_batch: int = 256,
        group_commit: bool = True,
    ) -> SqliteStore:
        """Lock, open and migrate the database at ``path``.

        Args:
            path: Database file; ``<path>.lock`` next to it guards exclusive ownership.
            synchronous: ``FULL`` (fsync every commit, the default), ``NORMAL`` or ``OFF``.
            busy_timeout: Seconds SQLite waits for a lock held by another connection.
            max_batch: Most callers' commits folded into one transaction.
            group_commit: False commits each caller alone (the benchmark's baseline).

        Raises:
            ValueError: an argument is out of range.
            StoreLockedError: another process owns the database.
            SchemaTooNewError: the database was written by a newer wfsidecar.
            StoreUnavailable: the file cannot be opened, read or migrated.
        """
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_MODES}, got {synchronous!r}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if busy_timeout < 0:
            raise ValueError(f"busy_timeout must not be negative, got {busy_timeout}")
        db_path = Path(path)
        busy_ms = int(busy_timeout * 1000)
        lock_fd = await asyncio.to_thread(acquire_lock, db_path)
        conns: list[aiosqlite.Connection] = []
        try:
            writer = await aiosqlite.connect(db_path, isolation_level=None)
            conns.append(writer)
            await on_thread(
                writer,
                partial(prepare_writer, db_path=str(db_path), synchronous=mode, busy_ms=busy_ms),
            )
            reader = await aiosqlite.connect(db_path, isolation_level=None)
            conns.append(reader)
            await on_thread(reader, partial(prepare_reader, busy_ms=busy_ms))
        except BaseException as exc:
            for conn in reversed(conns):
                await close_quietly(conn)
            await asyncio.to_thread(release_lock, lock_fd)
            if isinstance(exc, sqlite3.Error):
                raise StoreUnavailable(f"cannot open database {db_path}: {exc}") from exc
            raise
        logger.info("opened %s (synchronous=%s, group_commit=%s)", db_path, mode, group_commit)
        return cls(
            path=db_path,
            lock_fd=lock_fd,
            writer=writer,
            reader=reader,
            max_batch=max_batch,
            group_commit=group_commit,
        )

    @property
    def stats(self) -> SqliteStats:
        return self._committer.stats

    @property
    def write_fault(self) -> str | None:
        """Why the last write transaction failed (disk full, read-only, I/O error); None
        once one commits again. Readiness reports it (health.py)."""
        return self._committer.write_fault

    def add_recovery_listener(self, listener: Callable[[], None]) -> None:
        self._committer.recovery_listeners.append(listener)

    def observe(self, observer: Observer) -> None:
        self._committer.observer = observer

    async def load_actor(self, ref: ActorRef) -> dict[str, bytes]:
        return await self._read(partial(reads.load_actor, ref=ref))

    async def reminders_due_before(self, due_ms: int, limit: int) -> list[Reminder]:
        if limit <= 0:
            return []
        return await self._read(partial(reads.reminders_due_before, due_ms=due_ms, limit=limit))

    async def get_reminder(self, ref: ActorRef, name: str) -> Reminder | None:
        return await self._read(partial(reads.get_reminder, ref=ref, name=name))

    async def list_actor_ids(
        self, actor_type: str, *, after: str | None, limit: int
    ) -> list[str]:
        return await self._read(
            partial(reads.list_actor_ids, actor_type=actor_type, after=after, limit=limit))

    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        query.after()  # a bad cursor is the caller's error, raised here on the loop
        return await self._read(partial(instance_sql.query, query=query))

    async def count_instances(self, flt: InstanceFilter) -> InstanceTotals:
        return await self._read(partial(instance_sql.count, flt=flt))

    async def size_bytes(self) -> int:
        """The database file plus its write-ahead log and shared-memory index."""
        return await asyncio.to_thread(reads.file_sizes, self.path)

    async def instance_backfill_pending(self) -> bool:
        return await self._read(instance_sql.backfill_pending)

    async def instance_backfill_done(self) -> None:
        await self.execute_on_writer(instance_sql.BACKFILL_DONE)

    async def commit(self, changes: Changes) -> None:
        if self._closing:
            raise StoreUnavailable(f"store {self.path} is closed")
        ops = checked_ops(changes)
        if not ops:
            return
        pending = PendingCommit(ops, asyncio.get_running_loop().create_future())
        if self._group_commit:
            self._commits.add(pending)
        else:
            async with self._write_lock:
                await self._committer.run([pending])
        await pending.future

    async def execute_on_writer(self, sql: str) -> list[tuple[object, ...]]:
        """Run one statement on the writer connection, between write transactions.

        For fault-injection tests and diagnostics: ``PRAGMA max_page_count = <page_count>``
        makes every write that grows the file fail as on a full disk, ``PRAGMA query_only
        = ON`` as on a read-only file; resetting the PRAGMA clears the fault.
        """
        def run(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
            return list(conn.execute(sql).fetchall())
        return await on_thread(self._writer, run)

    async def close(self) -> None:
        if self._closing:
            await self._closed.wait()
            return
        self._closing = True
        try:
            self._commits.close()
            if self._writer_task is not None:
                # The writer drains the queue, then returns. wait() neither re-raises a
                # cancelled writer's CancelledError here nor cancels the writer if this
                # close() is cancelled (it then finds the connections closed and fails
                # what is left with StoreUnavailable).
                await asyncio.wait([self._writer_task])
            async with self._write_lock:
                pass  # lets a baseline-mode commit already holding the lock finish
        finally:
            await close_quietly(self._reader)
            await close_quietly(self._writer)  # last connection out checkpoints the WAL
            await asyncio.to_thread(release_lock, self._lock_fd)
            self._closed.set()
            logger.info("closed %s", self.path)

    async def _read(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._closed.is_set():
            raise StoreUnavailable(f"store {self.path} is closed")
        try:
            return await on_thread(self._reader, fn)
        except (sqlite3.Error, ValueError) as exc:
            # aiosqlite raises ValueError once its connection is closed.
            raise read_failed(exc, self.path) from exc
