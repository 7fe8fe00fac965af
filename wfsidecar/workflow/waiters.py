"""Long-poll support: callers wait for an instance to reach a state, woken by commits.

Workflow actors publish a fresh snapshot after every commit that changes an instance;
waiters whose predicate it satisfies are released. No polling loop; a caller that gives
up (gRPC deadline, client gone) removes its waiter on the way out, so none leak.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from wfsidecar.workflow.messages import InstanceSnapshot

Predicate = Callable[[InstanceSnapshot | None], bool]


class StatusWaiters:
    def __init__(self) -> None:
        self._waiting: dict[str, list[tuple[Predicate, asyncio.Future[InstanceSnapshot | None]]]]
        self._waiting = {}

    def publish(self, instance_id: str, snapshot: InstanceSnapshot | None) -> None:
        waiters = self._waiting.get(instance_id)
        if not waiters:
            return
        for predicate, future in list(waiters):
            if not future.done() and predicate(snapshot):
                future.set_result(snapshot)

    async def wait(
        self,
        instance_id: str,
        predicate: Predicate,
        current: Callable[[], Awaitable[InstanceSnapshot | None]],
    ) -> InstanceSnapshot | None:
        """Return the first snapshot (current or published) that satisfies ``predicate``."""
        future: asyncio.Future[InstanceSnapshot | None] = (
            asyncio.get_running_loop().create_future())
        entry = (predicate, future)
        # Register before reading, so a commit between the read and the wait is not missed.
        self._waiting.setdefault(instance_id, []).append(entry)
        try:
            snapshot = await current()
            if predicate(snapshot):
                return snapshot
            return await future
        finally:
            waiters = self._waiting.get(instance_id)
            if waiters is not None:
                waiters.remove(entry)
                if not waiters:
                    del self._waiting[instance_id]

    def watching(self, instance_id: str) -> bool:
        """True while someone waits on ``instance_id`` (a daemon that does not own it
        re-reads it when another daemon's commit changes it: app_cluster.py)."""
        return instance_id in self._waiting

    @property
    def count(self) -> int:
        return sum(len(w) for w in self._waiting.values())
