"""The write side of the PostgreSQL store: one writer task, one transaction per batch.

``PgWriter`` is ``PostgresStore``'s base: callers' validated changes wait in a queue, and
one task commits everything queued so far in one transaction on the writer connection
(``_pg_batch.run_batch``: fenced, with the NOTIFYs of the batch), then settles each
caller's future with its own outcome. A batch that fails as a whole (connection lost,
server down) sets ``write_fault`` until a commit or an idle probe succeeds again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg

from wfsidecar.errors import StoreConflictError, StoreError, StoreUnavailable
from wfsidecar.store._commit_queue import resolve
from wfsidecar.store._pg_batch import Caller, Fencing, Notify, run_batch
from wfsidecar.telemetry.observer import Observer

logger = logging.getLogger("wfsidecar.store.postgres")

WAKE_CHANNEL = "wfsidecar_wake"  # payload: "<sender>:<partition>,<partition>,..."
INSTANCE_CHANNEL = "wfsidecar_instances"  # payload: "<sender>:<instance id>\n..."
_TRANSIENT_RETRIES = 2  # a batch rolled back by a deadlock or serialization failure
_NOTIFY_LIMIT = 7000  # bytes of one NOTIFY payload (PostgreSQL's limit is 8000)


class Leases(Protocol):
    """What the store needs of this daemon's partition leases (store/leases.py)."""

    owner: str

    def tokens(self) -> dict[int, int]:
        """Owned partitions and their fencing tokens, as this daemon believes them."""
        ...

    def lost(self, partitions: set[int]) -> None:
        """A commit found these leases taken by another daemon."""
        ...


@dataclass(slots=True)
class PostgresStats:
    transactions: int = 0
    failed_transactions: int = 0
    commits: int = 0
    rejected: int = 0
    refused_stale: int = 0  # callers refused because a lease they needed was lost
    largest_batch: int = 0


@dataclass(slots=True)
class Pending:
    caller: Caller
    ops: int
    instances: list[str]
    future: asyncio.Future[None] = field(repr=False)


class PgWriter:
    """The writer task and its batches (PostgresStore inherits it)."""

    dsn: str
    stats: PostgresStats
    write_fault: str | None
    _writer: asyncpg.Connection | None
    _settings: dict[str, str]
    _closing: bool
    _observer: Observer
    _recovery: list[Callable[[], None]]
    _leases: Leases | None

    async def _run(self, batch: list[Pending]) -> None:
        began = time.perf_counter()
        leases = self._leases
        fencing = Fencing(leases.owner) if leases is not None else None
        for attempt in range(_TRANSIENT_RETRIES + 1):
            try:
                conn = await self._connection()
                await run_batch(conn, [p.caller for p in batch], fencing,
                                notify=self._notifications(batch, leases))
                break
            except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError) as exc:
                # Rolled back whole; the same batch usually goes through at once.
                if attempt < _TRANSIENT_RETRIES:
                    logger.info("commit of %d callers retried: %s", len(batch), exc)
                    continue
                self._failed(batch, began, exc)
                return
            except Exception as exc:
                self._failed(batch, began, exc)
                return
        self._observer.commit_finished(time.perf_counter() - began, len(batch),
                                       sum(p.ops for p in batch), True)
        if fencing is not None and fencing.lost and leases is not None:
            leases.lost(set(fencing.lost))
        self._recovered()
        self.stats.transactions += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(batch))
        for pending in batch:
            refusal = pending.caller.error
            if refusal is None:
                self.stats.commits += 1
                resolve(pending.future, None)
            elif isinstance(refusal, StoreConflictError):
                self.stats.refused_stale += 1
                resolve(pending.future, refusal)
            else:
                self.stats.rejected += 1
                refused = StoreError(f"commit rejected by PostgreSQL: {refusal}")
                refused.__cause__ = refusal
                resolve(pending.future, refused)

    def _failed(self, batch: list[Pending], began: float, exc: Exception) -> None:
        """The batch's transaction failed as a whole: nothing of it is applied."""
        self._observer.commit_finished(time.perf_counter() - began, len(batch),
                                       sum(p.ops for p in batch), False)
        self.stats.failed_transactions += 1
        self.write_fault = f"commit to {redacted(self.dsn)} failed: {exc}"
        logger.warning("commit of %d callers failed: %s", len(batch), exc)
        if self._writer is not None:
            # Its state is unknown (the server may have ended the session mid-statement);
            # the next batch connects afresh.
            self._writer.terminate()
            self._writer = None
        for pending in batch:
            error = StoreUnavailable(self.write_fault)
            error.__cause__ = exc
            resolve(pending.future, error)

    def _notifications(self, batch: list[Pending], leases: Leases | None) -> Notify:
        """What the batch's transaction NOTIFYs once its callers' fates are known: the
        partitions of other daemons that got a reminder, and the instances that changed."""
        def build(committed: Sequence[Caller]) -> list[tuple[str, str]]:
            if leases is None:
                return []
            done = {id(c) for c in committed}
            owned = leases.tokens()
            parts = sorted({p for c in committed for p in c.messages if p not in owned})
            ids = [i for p in batch if id(p.caller) in done for i in p.instances]
            out: list[tuple[str, str]] = []
            if parts:
                out.append((WAKE_CHANNEL, f"{leases.owner}:{','.join(map(str, parts))}"))
            out.extend((INSTANCE_CHANNEL, f"{leases.owner}:{chunk}") for chunk in _chunks(ids))
            return out
        return build

    async def _probe(self) -> None:
        """Try the server after a failed commit (CommitQueue calls it while idle)."""
        try:
            await (await self._connection()).execute("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            if self._writer is not None and self._writer.is_closed():
                self._writer = None
            return
        self._recovered()

    async def _connection(self) -> asyncpg.Connection:
        if self._writer is None:
            self._writer = await asyncpg.connect(self.dsn, timeout=10,
                                                 server_settings=self._settings)
        return self._writer

    def _recovered(self) -> None:
        if self.write_fault is None:
            return
        logger.warning("%s takes commits again", redacted(self.dsn))
        self.write_fault = None
        for listener in self._recovery:
            try:
                listener()
            except Exception:
                logger.exception("store recovery listener failed")


def _chunks(ids: list[str]) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for instance_id in ids:
        if current and size + len(instance_id) + 1 > _NOTIFY_LIMIT:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(instance_id)
        size += len(instance_id.encode()) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks




def redacted(dsn: str) -> str:
    """The DSN without its password, for logs and errors."""
    head, sep, tail = dsn.rpartition("@")
    if not sep or ":" not in head.split("//", 1)[-1]:
        return dsn
    scheme, _, creds = head.partition("//")
    user = creds.split(":", 1)[0]
    return f"{scheme}//{user}:***@{tail}"


