"""The event-loop side of a SQLite write transaction: run one batch, settle its callers.

``run_batch`` (``_sqlite_batch.py``) runs on the writer connection's thread; this module
hands it a batch, then resolves each caller's future with its own outcome, counts what
happened (``SqliteStats``) and keeps the store's write fault: set when a transaction fails
for the environment's reasons (disk full, read-only file, I/O error), cleared by the next
one that commits, or by an idle probe, so readiness recovers even with nothing to write.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import aiosqlite

from wfsidecar.store._commit_queue import resolve
from wfsidecar.store._sqlite_actors import ActorIds
from wfsidecar.store._sqlite_batch import probe_write, run_batch
from wfsidecar.store._sqlite_conn import on_thread
from wfsidecar.store._sqlite_errors import batch_failed, caller_failed, environmental_reason
from wfsidecar.store.base import Op
from wfsidecar.telemetry.observer import NULL, Observer

# The store's operator-facing warnings keep the logger name they had in sqlite.py.
logger = logging.getLogger("wfsidecar.store.sqlite")


@dataclass(slots=True)
class SqliteStats:
    """Counters for tests and benchmarks; updated on the event loop only."""

    transactions: int = 0  # write transactions committed (one per batch)
    failed_transactions: int = 0  # batches whose BEGIN/COMMIT failed (StoreUnavailable)
    commits: int = 0  # caller commits applied
    rejected: int = 0  # caller commits SQLite refused inside a batch (StoreError)
    largest_batch: int = 0  # most callers seen in one transaction


@dataclass(slots=True)
class PendingCommit:
    """One caller's validated ops and the future its ``commit`` awaits."""

    ops: list[Op]
    future: asyncio.Future[None] = field(repr=False)


class BatchCommitter:
    """Commits batches on the writer connection and tracks the resulting write fault."""

    def __init__(self, writer: aiosqlite.Connection, path: Path) -> None:
        self.stats = SqliteStats()
        # Why the last write transaction failed (disk full, read-only, I/O error); None
        # once one commits again. Readiness reports it (health.py).
        self.write_fault: str | None = None
        self.recovery_listeners: list[Callable[[], None]] = []
        self.observer: Observer = NULL  # told of each write transaction (telemetry)
        self._writer = writer
        self._path = path
        self._actor_ids = ActorIds()  # touched only on the writer connection's thread

    async def run(self, batch: list[PendingCommit]) -> None:
        """Commit ``batch`` in one transaction and resolve every caller's future."""
        began = time.perf_counter()
        try:
            job = partial(run_batch, batch=[p.ops for p in batch], actor_ids=self._actor_ids)
            results = await on_thread(self._writer, job)
        except Exception as exc:
            self._observe(began, batch, ok=False)
            self.stats.failed_transactions += 1
            if not isinstance(exc, sqlite3.Error):
                logger.exception("unexpected error in a SQLite write transaction")
            else:
                logger.warning("commit of %d callers failed: %s", len(batch), exc)
            if environmental_reason(exc):
                self.write_fault = str(batch_failed(exc, self._path))
            for pending in batch:  # one exception object per caller: each gets its own
                resolve(pending.future, batch_failed(exc, self._path))
            return
        self._observe(began, batch, ok=True)
        self._recovered()
        self.stats.transactions += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for pending, error in zip(batch, results, strict=True):
            if error is None:
                self.stats.commits += 1
                resolve(pending.future, None)
            else:
                self.stats.rejected += 1
                resolve(pending.future, caller_failed(error, self._path))

    def _observe(self, began: float, batch: list[PendingCommit], *, ok: bool) -> None:
        self.observer.commit_finished(time.perf_counter() - began, len(batch),
                                      sum(len(p.ops) for p in batch), ok)

    async def probe(self) -> None:
        """Try a write that changes nothing, to learn whether the write fault cleared."""
        try:
            await on_thread(self._writer, probe_write)
        except Exception as exc:
            self.write_fault = str(batch_failed(exc, self._path))
            return
        self._recovered()

    def _recovered(self) -> None:
        if self.write_fault is not None:
            logger.warning("%s is writable again", self._path)
            self.write_fault = None
            for listener in self.recovery_listeners:
                try:
                    listener()
                except Exception:  # a listener must not fail the commit that cleared it
                    logger.exception("store recovery listener failed")
