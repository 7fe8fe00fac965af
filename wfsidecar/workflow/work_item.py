"""WorkItem: one unit of work handed to an app worker, as the dispatcher and actors see it.

Kept apart from the dispatcher so that the actors that build work items and the retry
timing that re-sends them share the type without importing the dispatcher's queues.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from wfsidecar.errors import NotFoundError
from wfsidecar.telemetry.observer import WorkItemEvent
from wfsidecar.workflow import request_wire

logger = logging.getLogger("wfsidecar.workflow.dispatch")

Kind = Literal["orchestrator", "activity", "entity"]


@dataclass(slots=True, eq=False)
class WorkItem:
    """One unit of work for an app worker."""

    kind: Kind
    instance_id: str
    # serialized OrchestratorRequest / ActivityRequest / EntityBatchRequest (internal model);
    # an OrchestratorRequest without its past, which is ``past[:past_len]`` (request_bytes)
    payload: bytes
    task_id: int = -1
    token: str = ""
    # Applies a completion; set by the submitting actor side.
    on_complete: Callable[[WorkItem, bytes], Awaitable[None]] | None = field(
        default=None, repr=False
    )
    on_poison: Callable[[WorkItem], Awaitable[None]] | None = field(default=None, repr=False)
    # Why it was given up on, when not for lost workers (e.g. it is too large to send).
    poison_reason: str | None = None
    stream: int | None = None
    attempts: int = 0
    done: bool = False
    # Set by its owner when it no longer wants an answer (it issued newer work for the
    # instance, or was rebuilt after a failed turn): the dispatcher never sends it again,
    # since a worker would only replay it to have its answer refused as stale.
    superseded: bool = False
    # Which wire dialect can run it: a worker only gets work its SDK family started.
    dialect: str = "dapr"
    # Orchestration or activity name and version, for workers' work-item filters.
    name: str = ""
    version: str = ""
    # Orchestrator items (history_marks.py): how many past events the request carries and
    # their lineage; how many of them the receiving worker holds already (set when it is
    # dispatched, 0 = send them all); whether the applied answer left the worker holding
    # that past (False once it ended the execution).
    past_len: int = 0
    past: Sequence[bytes] = ()
    queued_at: float = 0.0  # perf_counter() when it last became ready for a worker (telemetry)
    dispatched_at: float = 0.0  # perf_counter() when it last went to a worker (telemetry)
    lineage: int = 0
    cached: int = 0
    history_kept: bool = True


    def request_bytes(self) -> bytes:
        """The serialized request this item carries: for an orchestrator item, its past
        included, less the ``cached`` events the receiving worker holds already."""
        if self.kind != "orchestrator":
            return self.payload
        return request_wire.request_bytes(self.payload, self.past, self.past_len, self.cached)


def observed(item: WorkItem, *, failed: bool = False) -> WorkItemEvent:
    """``item``'s result applied, as the telemetry seam sees it; ``seconds`` since its
    dispatch."""
    return WorkItemEvent(item.kind, item.dialect, item.name, item.instance_id, item.task_id,
                         item.attempts, item.stream,
                         time.perf_counter() - item.dispatched_at if item.dispatched_at else 0.0,
                         failed)


def dispatched(item: WorkItem) -> WorkItemEvent:
    """``item`` handed to a worker, as the telemetry seam sees it; ``seconds`` it waited
    for a worker since it was queued (or re-queued)."""
    waited = item.dispatched_at - item.queued_at if item.queued_at else 0.0
    return WorkItemEvent(item.kind, item.dialect, item.name, item.instance_id, item.task_id,
                         item.attempts, item.stream, max(waited, 0.0))


# A worker stream's work-item filter: True if that worker can run the item.
Accepts = Callable[[WorkItem], bool]


def accept_all(item: WorkItem) -> bool:
    """The filter of a worker that sent none: it runs every item of its dialect."""
    return True


def find(pending: Mapping[str, WorkItem], kind: Kind, token: str, instance_id: str,
         task_id: int) -> WorkItem:
    """The dispatched item a worker's result is for.

    Raises:
        NotFoundError: no dispatch matches (stale, done, unknown, superseded).
    """
    item = pending.get(token) if token else None
    if item is None and not token:
        # Clients that do not echo tokens: match the single dispatch of that task.
        item = next((i for i in pending.values() if i.kind == kind
                     and i.instance_id == instance_id
                     and (kind == "orchestrator" or i.task_id == task_id)), None)
    # EntityBatchResult carries no instance id (""): the token alone identifies it.
    if item is None or item.kind != kind or (instance_id and item.instance_id != instance_id):
        raise NotFoundError(
            f"unknown instance ID/task ID combo: {instance_id}/{task_id} "
            "(the work item was already completed or re-dispatched)"
        )
    return item


def first_wanted(queue: deque[WorkItem], accepts: Accepts) -> WorkItem | None:
    """The first queued item ``accepts`` takes; superseded ones met on the way are
    dropped from ``queue``."""
    stale: list[WorkItem] = []
    found = None
    for item in queue:
        if item.superseded:
            stale.append(item)
        elif accepts(item):
            found = item
            break
    for item in stale:
        queue.remove(item)
    return found


Waiters = deque[tuple["asyncio.Future[WorkItem]", Accepts]]


async def wait_for_item(waiters: Waiters, accepts: Accepts,
                        keep: Callable[[WorkItem], None]) -> WorkItem:
    """Wait in ``waiters`` for an item ``accepts`` takes (the dispatcher's ``_hand``
    fulfils the first waiting stream that accepts it). An item handed over in the same
    tick the waiting stream went away is given back through ``keep``."""
    waiter: asyncio.Future[WorkItem] = asyncio.get_running_loop().create_future()
    entry = (waiter, accepts)
    waiters.append(entry)
    try:
        return await waiter
    except asyncio.CancelledError:
        if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
            keep(waiter.result())
        raise
    finally:
        if entry in waiters:
            waiters.remove(entry)


class PoisonReports:
    """Work items given up on, reported to their owners (``on_poison``) one at a time by
    one task, so the dispatcher never waits for an owner's turn."""

    def __init__(self) -> None:
        self._items: asyncio.Queue[WorkItem] = asyncio.Queue()
        self.given_up: Counter[str] = Counter()  # items given up on since start, per kind

    def add(self, item: WorkItem) -> None:
        self.given_up[item.kind] += 1
        self._items.put_nowait(item)

    async def run(self) -> None:
        """Report until cancelled; a failed report is logged and the next one goes."""
        while True:
            item = await self._items.get()
            assert item.on_poison is not None
            try:
                await item.on_poison(item)
            except Exception:
                logger.exception("could not report poisoned work item for %s",
                                 item.instance_id)
