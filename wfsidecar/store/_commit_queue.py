"""Group commit, as both SQL stores do it: callers' commits wait in one queue and one
writer task takes them in batches of up to ``max_batch``, a transaction each.

The writer commits the next batch as soon as the previous one returns, so batches grow with
the load and a lone commit never waits for company. While the store's last write failed
and nothing is queued, it probes the database every ``PROBE_INTERVAL`` seconds, so the
fault (and the readiness that reflects it) clears without waiting for work. What the store
does with a batch (SQLite on its thread, PostgreSQL with fencing) is its own.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar

from wfsidecar.errors import StoreUnavailable

PROBE_INTERVAL = 1.0  # seconds between probes of a database that failed a write


class Queued(Protocol):
    future: asyncio.Future[None]


P = TypeVar("P", bound=Queued)


def resolve(future: asyncio.Future[None], error: BaseException | None) -> None:
    """Settle a caller's future, unless the caller already gave up on it."""
    if future.done():  # the caller was cancelled after its batch started
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class CommitQueue(Generic[P]):
    def __init__(self, max_batch: int) -> None:
        self.max_batch = max_batch
        self._waiting: deque[P] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False

    def add(self, pending: P) -> None:
        self._waiting.append(pending)
        self._wakeup.set()

    def close(self) -> None:
        """``run`` commits what is queued, then returns."""
        self._closing = True
        self._wakeup.set()

    async def run(self, commit: Callable[[list[P]], Awaitable[None]],
                  fault: Callable[[], str | None],
                  probe: Callable[[], Awaitable[None]]) -> None:
        """Commit batches until closed and drained. ``commit`` settles its callers'
        futures; ``fault`` says why the last write failed (None: it did not); ``probe``
        tries a write that changes nothing."""
        batch: list[P] = []
        try:
            while True:
                if not self._waiting:
                    if self._closing:
                        return
                    self._wakeup.clear()
                    if fault() is None:
                        await self._wakeup.wait()
                    elif not await self._woken_within(PROBE_INTERVAL):
                        await probe()  # real work arriving would have been the probe
                    continue
                batch = []
                while self._waiting and len(batch) < self.max_batch:
                    pending = self._waiting.popleft()
                    # A caller cancelled while queued gave up; skipping keeps "cancelled
                    # before the writer took it" equal to "not applied".
                    if not pending.future.done():
                        batch.append(pending)
                if batch:
                    await commit(batch)
        finally:
            # Reached with callers still waiting only if this task was cancelled. Their
            # batch may still commit, so the error says "unknown".
            stopped = "the store writer stopped; the commit may or may not be applied"
            for pending in (*batch, *self._waiting):
                resolve(pending.future, StoreUnavailable(stopped))
            self._waiting.clear()

    async def _woken_within(self, seconds: float) -> bool:
        try:
            async with asyncio.timeout(seconds):
                await self._wakeup.wait()
        except TimeoutError:
            return False
        return True
