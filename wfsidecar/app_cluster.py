"""The composition root's multi-daemon part: this daemon's partition leases, the wake-ups
other daemons send it, and the routing of client calls (docs/multi-node.md).

Only with ``store.backend: postgres``. The leases (store/leases.py) say which actors this
daemon runs; every change of them drops the actor activations (their cached state may be
stale once another daemon has written) and reloads the reminder window, which the store
then reads for the owned partitions only. Two LISTEN channels carry what other daemons
commit: a reminder for one of our partitions (the scheduler reloads its window at once),
and instances that changed (waiters here for them re-read the instance). A heartbeat's
reload is the safety net for a notification missed while the listening connection was
down.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import asyncpg

from wfsidecar.actors import ActorRuntime, ReminderScheduler
from wfsidecar.clock import Clock
from wfsidecar.config import Config, PostgresConfig
from wfsidecar.store._pg_writer import INSTANCE_CHANNEL, WAKE_CHANNEL
from wfsidecar.store.base import StateStore
from wfsidecar.store.leases import PartitionLeases
from wfsidecar.store.partitions import partition_of
from wfsidecar.store.postgres import PostgresStore
from wfsidecar.types import ActorRef
from wfsidecar.workflow.remote import OwnerRouting
from wfsidecar.workflow.waiters import StatusWaiters

logger = logging.getLogger("wfsidecar.cluster")

# How often the daemon looks whether workers came or went (its eligibility to hold
# partitions); a change starts a lease round at once instead of at the next heartbeat.
_ELIGIBILITY_CHECK = 0.2
_MAX_REFRESHES = 256  # instance re-reads in flight for waiters, at most


def cluster_node(config: Config, store: StateStore,
                 dialects: Callable[[], str]) -> ClusterNode | None:
    """This daemon's node when its store is shared (PostgreSQL), else None."""
    if not isinstance(store, PostgresStore):
        return None
    return ClusterNode(store, config.store.postgres, dialects=dialects)


@dataclass(frozen=True, slots=True)
class LeaseReadings:
    """What a metrics scrape reads of this node (telemetry/metrics/_gauges.py)."""

    owned: int
    partitions: int
    takeovers: int
    lost: int
    refused: int
    wakeups: int


class ClusterNode:
    """This daemon as one of several on one PostgreSQL database."""

    def __init__(self, store: PostgresStore, cfg: PostgresConfig, *,
                 dialects: Callable[[], str]) -> None:
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._store = store
        self._dialects = dialects
        self.leases = PartitionLeases(store, owner=self.id, address=socket.gethostname(),
                                      ttl=cfg.lease_ttl, eligible=dialects)
        store.attach_leases(self.leases)
        self._scheduler: ReminderScheduler | None = None
        self._refresh: Callable[[str], Coroutine[Any, Any, None]] | None = None
        self._watching: Callable[[str], bool] = lambda _: False
        self._refreshing: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self.wakeups = 0

    def lease_readings(self) -> LeaseReadings:
        leases = self.leases
        return LeaseReadings(len(leases.tokens()), self._store.partitions,
                             len(leases.takeovers), leases.lost_count,
                             self._store.stats.refused_stale, self.wakeups)

    def owns(self, ref: ActorRef) -> bool:
        return partition_of(ref, self._store.partitions) in self.leases.tokens()

    def routing(self, runtime: ActorRuntime, waiters: StatusWaiters,
                clock: Clock) -> OwnerRouting:
        """The service's actor host: owned instances run here, others get messages."""
        return OwnerRouting(runtime, self._store, waiters, owns=self.owns,
                            now_ms=clock.now_ms, new_etag=runtime.new_etag,
                            forget=lambda ref: runtime.evict(lambda r: r == ref))

    def connect(self, runtime: ActorRuntime, scheduler: ReminderScheduler, *,
                refresh: Callable[[str], Coroutine[Any, Any, None]],
                watching: Callable[[str], bool]) -> None:
        """Wire the runtime and scheduler to ownership; ``refresh(id)`` re-reads an
        instance for its waiters here, ``watching(id)`` says whether there are any."""
        self._scheduler = scheduler
        self._refresh = refresh
        self._watching = watching
        scheduler.fire_only(self.owns)

        def changed(gained: set[int], lost: set[int]) -> None:
            # Another daemon may have written these actors since this one last ran them;
            # work they have out is dropped (the new owner redoes it).
            moved = gained | lost
            count = self._store.partitions
            runtime.evict(lambda ref: partition_of(ref, count) in moved)
            scheduler.reload()

        self.leases.add_listener(changed)

    async def run(self) -> None:
        """Hold leases and listen until ``stop()``; leases are released on the way out."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.leases.run(), name="leases")
            group.create_task(self._listen(), name="cluster-listen")
            group.create_task(self._watch_eligibility(), name="cluster-eligibility")

    def stop(self) -> None:
        self._stopping.set()
        self.leases.stop()
        for task in self._refreshing:
            task.cancel()

    async def _watch_eligibility(self) -> None:
        seen = self._dialects()
        while not self._stopping.is_set():
            try:
                async with asyncio.timeout(_ELIGIBILITY_CHECK):
                    await self._stopping.wait()
            except TimeoutError:
                pass
            now = self._dialects()
            if now != seen:
                seen = now
                logger.info("workers for %s connected; re-balancing", now or "no dialect")
                self.leases.poke()

    async def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._listen_once()
            except Exception as exc:  # never fatal: the reload on re-listening catches up
                logger.warning("listening for other daemons' commits failed: %r", exc)
            await self._pause(1.0)

    async def _listen_once(self) -> None:
        """Listen on one connection until it ends or the node stops."""
        conn = await asyncpg.connect(self._store.dsn, timeout=10)
        closed = asyncio.Event()
        conn.add_termination_listener(lambda _: closed.set())
        try:
            await conn.add_listener(WAKE_CHANNEL, self._on_wake)
            await conn.add_listener(INSTANCE_CHANNEL, self._on_instances)
            if self._scheduler is not None:
                self._scheduler.reload()  # what was missed while not listening
            stop = asyncio.ensure_future(self._stopping.wait())
            dead = asyncio.ensure_future(closed.wait())
            await asyncio.wait([stop, dead], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            dead.cancel()
        finally:
            conn.terminate()  # LISTEN sessions need no orderly goodbye

    async def _pause(self, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            pass

    def _on_wake(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        sender, _, parts = payload.partition(":")
        if sender == self.id or self._scheduler is None:
            return
        owned = self.leases.tokens()
        if any(int(p) in owned for p in parts.split(",") if p):
            self.wakeups += 1
            self._scheduler.reload()

    def _on_instances(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        sender, _, ids = payload.partition(":")
        if sender == self.id or self._refresh is None:
            return
        for instance_id in ids.split("\n"):
            if instance_id and self._watching(instance_id) \
                    and len(self._refreshing) < _MAX_REFRESHES:
                task = asyncio.create_task(self._refresh(instance_id))
                self._refreshing.add(task)
                task.add_done_callback(self._refreshed)

    def _refreshed(self, task: asyncio.Task[None]) -> None:
        self._refreshing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("re-reading an instance for its waiters failed: %s",
                           task.exception())
