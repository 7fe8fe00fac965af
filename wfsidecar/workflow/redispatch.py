"""RedispatchTimers: when a work item goes out again, and the timers that send it.

Three things delay a re-dispatch: a worker lost the item more than once (capped
exponential backoff per item), the worker handed it back on purpose (a fixed delay), and
its result could not be committed (capped exponential backoff per instance, so a store
that stays full does not make workers replay the same turn in a hot loop). The
dispatcher owns one of these; the timers call back into it and never touch its queues.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from wfsidecar.workflow.work_item import WorkItem


class RedispatchTimers:
    """Backoff arithmetic and pending timer handles for re-dispatching work items."""

    def __init__(self, *, backoff_initial: float, backoff_max: float,
                 requeue: Callable[[WorkItem], None],
                 take_back: Callable[[WorkItem, str], None]) -> None:
        """``requeue(item)`` puts a delayed item at the back of its queue; ``take_back(item,
        token)`` reclaims a dispatch whose worker never retried a failed commit."""
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._requeue = requeue
        self._take_back = take_back
        self._delayed: dict[int, asyncio.TimerHandle] = {}
        # A result that failed to commit (disk full, read-only store): (kind, instance) →
        # (loop time until which new work for it waits, failures so far), and the timers
        # that take an unanswered item back from a worker that gave up on it.
        self._store_backoff: dict[tuple[str, str], tuple[float, int]] = {}
        self._unanswered: dict[str, tuple[asyncio.TimerHandle, WorkItem]] = {}
        # New work waiting out its instance's store backoff (sent at once if it recovers).
        self._held: dict[int, tuple[asyncio.TimerHandle, WorkItem]] = {}

    def held_back(self, item: WorkItem) -> bool:
        """Whether new work ``item`` must wait out its instance's store backoff; if so, it
        is re-queued when the wait ends."""
        backoff = self._store_backoff.get((item.kind, item.instance_id))
        wait = backoff[0] - asyncio.get_running_loop().time() if backoff else 0.0
        if wait <= 0:
            return False
        # Its last result could not be committed: an actor reset by that failure
        # re-dispatches at once, and without this wait a store that stays full would
        # make the worker replay the turn in a hot loop.
        handle = asyncio.get_running_loop().call_later(wait, self._fire_held, item)
        self._held[id(item)] = (handle, item)
        return True

    def requeue_later(self, item: WorkItem, delay: float) -> None:
        """Hand ``item`` to ``requeue`` after ``delay`` seconds."""
        self._delayed[id(item)] = asyncio.get_running_loop().call_later(
            delay, self._fire_requeue, item)

    def requeue_after_lost_worker(self, item: WorkItem) -> None:
        """Re-queue an item whose worker went away again: the second loss waits
        ``backoff_initial``, each further one twice as long, up to ``backoff_max``."""
        delay = min(self._backoff_initial * 2 ** (item.attempts - 2), self._backoff_max)
        self.requeue_later(item, delay)

    def store_failed(self, item: WorkItem) -> None:
        """``item``'s result could not be committed: hold new work for its instance back,
        and take the dispatch back if its worker has not retried by then."""
        key = (item.kind, item.instance_id)
        failures = self._store_backoff.get(key, (0.0, 0))[1]
        delay = min(self._backoff_initial * 2 ** min(failures, 16), self._backoff_max)
        loop = asyncio.get_running_loop()
        self._store_backoff[key] = (loop.time() + delay, failures + 1)
        old = self._unanswered.pop(item.token, None)
        if old is not None:
            old[0].cancel()
        handle = loop.call_later(delay, self._fire_take_back, item, item.token)
        self._unanswered[item.token] = (handle, item)

    def store_recovered(self, item: WorkItem) -> None:
        """``item``'s result committed: its instance's work no longer waits."""
        self._store_backoff.pop((item.kind, item.instance_id), None)

    def store_writable(self) -> None:
        """The store commits again: work held back for its instance's failed commits goes
        now, and dispatches whose worker gave up on a failed commit are taken back now."""
        self._store_backoff.clear()
        for handle, item in list(self._held.values()):
            handle.cancel()
            self._fire_held(item)
        for token, (handle, item) in list(self._unanswered.items()):
            handle.cancel()
            self._fire_take_back(item, token)

    def cancel(self) -> None:
        """Stop every pending timer (shutdown); the store backoff is kept."""
        handles = [*self._delayed.values(), *(h for h, _ in self._unanswered.values()),
                   *(h for h, _ in self._held.values())]
        for handle in handles:
            handle.cancel()
        self._delayed.clear()
        self._unanswered.clear()
        self._held.clear()

    def reset(self) -> None:
        """Stop every pending timer and forget every store failure (task hub reset)."""
        self.cancel()
        self._store_backoff.clear()

    def _fire_requeue(self, item: WorkItem) -> None:
        self._delayed.pop(id(item), None)
        self._requeue(item)

    def _fire_held(self, item: WorkItem) -> None:
        self._held.pop(id(item), None)
        self._requeue(item)

    def _fire_take_back(self, item: WorkItem, token: str) -> None:
        self._unanswered.pop(token, None)
        self._take_back(item, token)
