"""Stateful-history watermarks: a delta only where the worker provably holds the prefix.

Drives the real dispatcher with turns the way the workflow actor makes them (the past of
each dispatch, its lineage from ``Lineage``), and checks when ``cached`` — how many past
events the receiving worker is said to hold — is set and when it must be 0 (a full send).
"""

from __future__ import annotations

import asyncio

import pytest

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.errors import NotFoundError, StoreError
from wfsidecar.workflow.dispatch import WorkItem, WorkItemDispatcher
from wfsidecar.workflow.history_marks import Lineage


class Instance:
    """One workflow instance's history as the actor keeps it, and its dispatches."""

    def __init__(self, d: WorkItemDispatcher, instance_id: str = "wf") -> None:
        self.d, self.id = d, instance_id
        self.history: list[pb.HistoryEvent] = []
        self.lineage = Lineage()
        self.fail_next: BaseException | None = None
        self.kept = True

    async def _apply(self, item: WorkItem, result: bytes) -> None:
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        self.history = [*self.history, *(pb.HistoryEvent(eventId=len(self.history) + i)
                                         for i in range(3))]
        item.history_kept = self.kept

    def submit(self) -> None:
        past = list(self.history)
        self.d.submit(WorkItem("orchestrator", self.id, b"", on_complete=self._apply,
                               past_len=len(past), lineage=self.lineage.of(past)))

    async def turn(self, stream: int, *, complete: bool = True) -> WorkItem:
        self.submit()
        item = await asyncio.wait_for(self.d.next(stream), 1)
        if complete:
            await self.d.complete("orchestrator", item.token, self.id, -1, b"")
        return item


async def test_each_turn_after_an_applied_answer_is_a_delta_of_what_it_replayed() -> None:
    d = WorkItemDispatcher()
    stream = d.open_stream(stateful_history=True)
    wf = Instance(d)
    cached = [(await wf.turn(stream)).cached for _ in range(4)]
    # First turn: empty past. Second: the worker replayed nothing yet. Then 3, 6.
    assert cached == [0, 0, 3, 6]


async def test_no_delta_without_the_capability() -> None:
    d = WorkItemDispatcher()
    stream = d.open_stream()
    wf = Instance(d)
    assert [(await wf.turn(stream)).cached for _ in range(4)] == [0, 0, 0, 0]


async def test_another_stream_or_a_closed_one_gets_a_full_send() -> None:
    d = WorkItemDispatcher()
    first = d.open_stream(stateful_history=True)
    second = d.open_stream(stateful_history=True)
    wf = Instance(d)
    await wf.turn(first)
    await wf.turn(first)
    assert (await wf.turn(second)).cached == 0  # re-dispatched to another worker
    assert (await wf.turn(second)).cached == 6  # the past its worker replayed
    d.release(second)  # the stream ends: its worker reconnects cold
    third = d.open_stream(stateful_history=True)
    assert (await wf.turn(third)).cached == 0


async def test_a_rewritten_history_never_matches_an_old_mark() -> None:
    d = WorkItemDispatcher()
    stream = d.open_stream(stateful_history=True)
    wf = Instance(d)
    for _ in range(3):
        await wf.turn(stream)
    # Same length, other events (a rewind, a re-created id): a new lineage.
    wf.history = [pb.HistoryEvent(eventId=100 + i) for i in range(len(wf.history))]
    assert (await wf.turn(stream)).cached == 0
    wf.history = wf.history[:3]  # shorter (continue-as-new, purge and re-create)
    assert (await wf.turn(stream)).cached == 0
    wf.lineage = Lineage()  # the actor was rebuilt after a failed turn, or reloaded
    assert (await wf.turn(stream)).cached == 0


async def test_an_answer_that_ended_the_execution_leaves_no_mark() -> None:
    d = WorkItemDispatcher()
    stream = d.open_stream(stateful_history=True)
    wf = Instance(d)
    await wf.turn(stream)
    wf.kept = False  # e.g. completed and then rewound: the worker dropped its cache
    await wf.turn(stream)
    assert (await wf.turn(stream)).cached == 0


@pytest.mark.parametrize("error", [StoreError("disk full"), NotFoundError("stale")])
async def test_a_failed_or_refused_answer_forgets_the_mark(error: Exception) -> None:
    d = WorkItemDispatcher()
    stream = d.open_stream(stateful_history=True)
    wf = Instance(d)
    await wf.turn(stream)
    await wf.turn(stream)
    item = await wf.turn(stream, complete=False)
    assert item.cached == 3
    wf.fail_next = error
    with pytest.raises(type(error)):
        await d.complete("orchestrator", item.token, wf.id, -1, b"")
    d.release(stream)
    stream = d.open_stream(stateful_history=True)
    assert (await wf.turn(stream)).cached == 0


async def test_a_dispatch_that_was_never_answered_uses_the_mark_up() -> None:
    d = WorkItemDispatcher()
    stream = d.open_stream(stateful_history=True)
    wf = Instance(d)
    await wf.turn(stream)
    await wf.turn(stream)
    lost = await wf.turn(stream, complete=False)  # the worker runs it and caches its past
    assert lost.cached == 3
    lost.superseded = True  # its owner was rebuilt and dispatches the turn anew
    assert (await wf.turn(stream)).cached == 0
    with pytest.raises(NotFoundError):  # the old answer is refused ...
        await d.complete("orchestrator", "stale-token", wf.id, -1, b"")
    assert (await wf.turn(stream)).cached == 0  # ... and forgets what the new one set
