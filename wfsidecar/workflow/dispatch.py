"""WorkItemDispatcher: the one place that holds work items handed to app workers.

Actors submit work items without waiting (their turn ends; the reminder that triggered it is
parked); gRPC streams pull them; completions come back here, are matched to the dispatch by
completion token, and are applied by an actor turn before the worker is acknowledged. The
gRPC layer keeps no state of its own (style.md §3.6).

A stream that ends puts what it held back at the front of the queue for another worker; a
completion arriving later on the old token is refused as stale (redispatch.py times retries).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections import defaultdict, deque

from wfsidecar.errors import NotFoundError, ShuttingDownError, StoreError
from wfsidecar.workflow import work_item
from wfsidecar.workflow.dispatch_view import DispatchView
from wfsidecar.workflow.history_marks import HistoryMarks
from wfsidecar.workflow.redispatch import RedispatchTimers
from wfsidecar.workflow.streams import Streams
from wfsidecar.workflow.work_item import Accepts, Kind, PoisonReports, WorkItem, accept_all

# Re-exported: actors, the gRPC services and tests import these from here.
__all__ = ["Accepts", "Kind", "WorkItem", "WorkItemDispatcher"]

logger = logging.getLogger(__name__)


class WorkItemDispatcher:
    """Queue of undispatched work plus the map of dispatched-but-uncompleted items."""

    def __init__(self, *, max_attempts: int = 5, backoff_initial: float = 1.0,
                 backoff_max: float = 60.0, max_streams: int | None = None,
                 max_in_flight_per_stream: int | None = None) -> None:
        # work_items.max_streams / max_in_flight_per_stream (None: no limit).
        self._streams = Streams(max_streams=max_streams,
                                max_in_flight=max_in_flight_per_stream)
        # Work whose stream ends goes out again; after ``max_attempts`` such dispatches it
        # is poison, handed to ``on_poison`` instead of crashing workers forever.
        self._max_attempts = max_attempts
        self._timers = RedispatchTimers(backoff_initial=backoff_initial,
                                        backoff_max=backoff_max, requeue=self._requeue,
                                        take_back=self._take_back)
        self._poisoned = PoisonReports()
        self._marks = HistoryMarks()
        self._queues: dict[str, deque[WorkItem]] = defaultdict(deque)
        # Streams waiting for work, per dialect; an item goes to the first that accepts it.
        self._waiters: dict[str, deque[tuple[asyncio.Future[WorkItem], Accepts]]] = (
            defaultdict(deque))
        self._pending: dict[str, WorkItem] = {}
        self._token_prefix = secrets.token_hex(4)
        self._token_seq = itertools.count(1)
        self._closed = False

    def submit(self, item: WorkItem) -> None:
        """Queue ``item`` for the next worker that asks (never blocks)."""
        if not self._timers.held_back(item):
            self._hand(item, front=False)

    @property
    def queued(self) -> int:
        return sum(len(q) for q in self._queues.values())

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def view(self) -> DispatchView:
        """A read-only look at queued and dispatched work and connected streams."""
        return DispatchView(self._queues, self._pending, self._streams.dialect,
                            self._streams.filter, self._poisoned.given_up)

    def open_stream(self, dialect: str = "dapr", accepts: Accepts | None = None, *,
                    stateful_history: bool = False) -> int:
        """Register a worker stream; ``accepts`` is its work-item filter (None = all);
        ``stateful_history``: its worker keeps histories between turns (history_marks.py).

        Raises:
            LimitExceededError: ``work_items.max_streams`` streams are open already.
        """
        stream = self._streams.open(dialect, accepts)
        self._marks.open_stream(stream, stateful_history)
        return stream

    def ready(self, stream: int) -> bool:
        """True if ``next(stream)`` would return without waiting."""
        if self._closed or not self._streams.below_cap(stream):
            return False
        queue = self._queues[self._streams.dialect.get(stream, "dapr")]
        return work_item.first_wanted(
            queue, self._streams.filter.get(stream, accept_all)) is not None

    async def next(self, stream: int) -> WorkItem:
        """Wait for the next work item and record it as dispatched on ``stream``.

        Raises:
            ShuttingDownError: the dispatcher is closing.
        """
        if self._closed:
            raise ShuttingDownError("wfsidecar is shutting down")
        await self._streams.wait_below_cap(stream, lambda: self._closed)
        dialect = self._streams.dialect.get(stream, "dapr")
        accepts = self._streams.filter.get(stream, accept_all)
        queue, waiters = self._queues[dialect], self._waiters[dialect]
        # Items no connected worker accepts stay queued (their instance stays PENDING).
        found = work_item.first_wanted(queue, accepts)
        if found is not None:
            queue.remove(found)
            item = found
        else:
            item = await work_item.wait_for_item(waiters, accepts,
                                                 lambda kept: self._hand(kept, front=True))
        # A fresh token per dispatch: a completion for an earlier dispatch of the same
        # work (before a stream broke) must not be applied (protocol.md §4.3).
        item.token = f"{self._token_prefix}-{next(self._token_seq)}"
        item.stream = stream
        item.attempts += 1
        if item.kind == "orchestrator":
            item.cached = self._marks.take(item.instance_id, stream, item.lineage,
                                           item.past_len)
        self._pending[item.token] = item
        self._streams.hold(stream, item.token)
        return item

    def release(self, stream: int) -> None:
        """The stream ended: what it held goes out again, the first time at once, then with
        a capped exponential backoff, and after ``max_attempts`` it is reported as poison."""
        tokens = self._streams.close(stream)
        self._marks.close_stream(stream)
        # Superseded items are dropped: their owners re-issued the work.
        items = [i for t in tokens if t in self._pending
                 if not (i := self._pending.pop(t)).superseded]
        if self._closed:
            return  # shutting down: the store still holds the work for the next start
        for item in sorted(items, key=lambda i: i.token, reverse=True):
            item.stream = None
            if item.on_poison is not None and item.attempts >= self._max_attempts:
                logger.warning("%s work item for %s lost its worker %d times; giving up",
                               item.kind, item.instance_id, item.attempts)
                self._poisoned.add(item)
            elif item.attempts <= 1:
                self._hand(item, front=True)
            else:
                self._timers.requeue_after_lost_worker(item)
        if items:
            logger.info("worker stream %d closed; re-queued %d work items", stream, len(items))

    def reject(self, item: WorkItem, reason: str) -> None:
        """The item can never be delivered (e.g. larger than the message limit): report it
        to its owner as poison now, without retrying it on any stream."""
        self._forget(item)
        item.stream = None
        item.poison_reason = reason
        if item.on_poison is not None:
            self._poisoned.add(item)

    async def run_poison_handler(self) -> None:
        """Hand poisoned items to their owners, one at a time; runs until cancelled."""
        await self._poisoned.run()

    async def complete(self, kind: Kind, token: str, instance_id: str, task_id: int,
                       result: bytes) -> WorkItem:
        """Apply a worker's result for a dispatched item, forget the item, return it.

        Raises:
            NotFoundError: no dispatch matches (stale, done, unknown, superseded).
            StoreError: the result could not be committed. The item stays dispatched for
                the worker to retry; if it has not after a backoff, the item goes out again.
            Whatever else applying the result raises (the item then stays dispatched).
        """
        if kind == "orchestrator":
            # Whatever becomes of this answer, its worker's cache may no longer be what
            # a mark says; only an applied answer sets a new one.
            self._marks.forget(instance_id)
        item = work_item.find(self._pending, kind, token, instance_id, task_id)
        assert item.on_complete is not None
        # Claim it first: a racing duplicate must find nothing (no double append).
        self._forget(item)
        try:
            await item.on_complete(item, result)
        except NotFoundError:
            raise
        except StoreError:
            self._restore(item)
            self._timers.store_failed(item)
            raise
        except BaseException:
            self._restore(item)
            raise
        item.done = True
        if kind == "orchestrator":
            self._marks.applied(item.instance_id, item.stream, item.lineage, item.past_len,
                                item.history_kept)
        self._timers.store_recovered(item)
        return item

    def give_up(self, kind: Kind, token: str, instance_id: str, task_id: int,
                reason: str) -> None:
        """A worker's result for a dispatched item can never be applied (e.g. it is larger
        than the message limit): report the item as poison with ``reason`` now.

        Raises NotFoundError if no dispatch matches."""
        self.reject(work_item.find(self._pending, kind, token, instance_id, task_id), reason)

    def abandon(self, kind: Kind, token: str, *, delay: float = 1.0) -> None:
        """The worker gave the item back (e.g. versioning REJECT): re-queue it after a
        short delay, so a worker that rejects everything cannot spin the daemon.

        Raises NotFoundError if the token is not a current dispatch."""
        item = self._pending.get(token)
        if item is None or item.kind != kind:
            raise NotFoundError(f"unknown work item token {token!r} (already completed, "
                                "abandoned or re-dispatched)")
        self._forget(item)
        self._marks.forget(item.instance_id)
        item.stream = None
        item.attempts -= 1  # a deliberate hand-back is not a lost worker
        self._timers.requeue_later(item, delay)

    def _take_back(self, item: WorkItem, token: str) -> None:
        if self._closed or self._pending.get(token) is not item:
            return  # answered, released or dropped meanwhile
        self._forget(item)
        if item.superseded:
            return  # its owner re-issued the work after the failed commit
        item.stream = None
        item.attempts -= 1  # its worker did not go away; the store failed
        self._hand(item, front=True)

    def _requeue(self, item: WorkItem) -> None:
        if not self._closed:
            self._hand(item, front=False)

    def clear(self) -> int:
        """Drop every queued and dispatched item (task hub reset); return how many.

        Completions still arriving for dropped dispatches are refused as stale.
        """
        dropped = self.queued + len(self._pending)
        for queue in self._queues.values():
            queue.clear()
        self._pending.clear()
        for tokens in self._streams.held.values():
            tokens.clear()
        self._timers.reset()
        self._marks.clear()
        return dropped

    def store_writable(self) -> None:
        """The store commits again: what waited out its failed commits goes now."""
        if not self._closed:
            self._timers.store_writable()

    def close(self) -> None:
        """End every waiting stream; undelivered work stays in the store for next start."""
        self._closed = True
        self._timers.cancel()
        self._streams.wake_all()
        for waiters in self._waiters.values():
            while waiters:
                waiter, _ = waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(ShuttingDownError("wfsidecar is shutting down"))

    def _restore(self, item: WorkItem) -> None:
        if item.stream is not None and item.stream in self._streams.held:
            self._pending[item.token] = item
            self._streams.hold(item.stream, item.token)
        else:
            item.stream = None
            self._hand(item, front=True)

    def _forget(self, item: WorkItem) -> None:
        self._pending.pop(item.token, None)
        if item.stream is not None:
            self._streams.release_token(item.stream, item.token)

    def _hand(self, item: WorkItem, *, front: bool) -> None:
        if item.superseded:
            return
        item.queued_at = time.perf_counter()  # its wait for a worker starts (telemetry)
        waiters = self._waiters[item.dialect]
        for entry in list(waiters):
            waiter, accepts = entry
            if waiter.done():
                waiters.remove(entry)
            elif accepts(item):
                waiters.remove(entry)
                waiter.set_result(item)
                return
        if front:
            self._queues[item.dialect].appendleft(item)
        else:
            self._queues[item.dialect].append(item)
