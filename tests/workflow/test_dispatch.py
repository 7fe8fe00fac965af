from __future__ import annotations

import asyncio

import pytest

from wfsidecar.errors import NotFoundError, ShuttingDownError
from wfsidecar.workflow.dispatch import WorkItem, WorkItemDispatcher


class Applied:
    def __init__(self, fail_first: bool = False) -> None:
        self.results: list[tuple[str, bytes]] = []
        self.fail_first = fail_first

    async def __call__(self, item: WorkItem, result: bytes) -> None:
        await asyncio.sleep(0.01)
        if self.fail_first:
            self.fail_first = False
            raise RuntimeError("commit failed")
        self.results.append((item.instance_id, result))


def item(applied: Applied, instance: str = "i1", task: int = -1) -> WorkItem:
    kind = "orchestrator" if task < 0 else "activity"
    return WorkItem(kind, instance, b"payload", task_id=task, on_complete=applied)


async def test_dispatch_and_complete_once() -> None:
    d, applied = WorkItemDispatcher(), Applied()
    d.submit(item(applied))
    stream = d.open_stream()
    got = await d.next(stream)
    assert got.token and d.in_flight == 1
    await d.complete("orchestrator", got.token, "i1", -1, b"r")
    assert applied.results == [("i1", b"r")] and d.in_flight == 0
    with pytest.raises(NotFoundError, match="unknown instance ID/task ID combo"):
        await d.complete("orchestrator", got.token, "i1", -1, b"again")


async def test_waiting_stream_gets_item_handed_over() -> None:
    d, applied = WorkItemDispatcher(), Applied()
    stream = d.open_stream()
    waiting = asyncio.create_task(d.next(stream))
    await asyncio.sleep(0)
    d.submit(item(applied, task=3))
    got = await asyncio.wait_for(waiting, 1)
    assert (got.kind, got.task_id) == ("activity", 3)


async def test_closed_stream_requeues_and_old_token_is_stale() -> None:
    d, applied = WorkItemDispatcher(), Applied()
    d.submit(item(applied))
    first = d.open_stream()
    got = await d.next(first)
    old_token = got.token
    d.release(first)
    assert d.queued == 1 and d.in_flight == 0
    second = d.open_stream()
    again = await d.next(second)
    assert again is got and again.token != old_token and again.attempts == 2
    with pytest.raises(NotFoundError):
        await d.complete("orchestrator", old_token, "i1", -1, b"late")
    await d.complete("orchestrator", again.token, "i1", -1, b"ok")
    assert applied.results == [("i1", b"ok")]


async def test_duplicate_completions_racing_apply_once() -> None:
    d, applied = WorkItemDispatcher(), Applied()
    d.submit(item(applied, task=1))
    got = await d.next(d.open_stream())
    results = await asyncio.gather(
        d.complete("activity", got.token, "i1", 1, b"a"),
        d.complete("activity", got.token, "i1", 1, b"b"), return_exceptions=True)
    assert sum(isinstance(r, NotFoundError) for r in results) == 1
    assert len(applied.results) == 1


async def test_failed_apply_keeps_the_item_completable() -> None:
    d, applied = WorkItemDispatcher(), Applied(fail_first=True)
    d.submit(item(applied))
    got = await d.next(d.open_stream())
    with pytest.raises(RuntimeError):
        await d.complete("orchestrator", got.token, "i1", -1, b"r")
    await d.complete("orchestrator", got.token, "i1", -1, b"r")
    assert applied.results == [("i1", b"r")]


async def test_empty_token_matches_the_single_dispatch() -> None:
    d, applied = WorkItemDispatcher(), Applied()
    d.submit(item(applied, "a", 1))
    d.submit(item(applied, "a", 2))
    stream = d.open_stream()
    await d.next(stream)
    await d.next(stream)
    await d.complete("activity", "", "a", 2, b"two")
    assert applied.results == [("a", b"two")]


async def test_abandon_requeues_and_close_ends_waiting_streams() -> None:
    d, applied = WorkItemDispatcher(), Applied()
    d.submit(item(applied))
    stream = d.open_stream()
    got = await d.next(stream)
    d.abandon("orchestrator", got.token, delay=0.05)
    assert d.queued == 0  # not at once: a rejecting worker must not spin
    await asyncio.sleep(0.1)
    assert d.queued == 1
    await d.next(stream)
    waiting = asyncio.create_task(d.next(stream))
    await asyncio.sleep(0)
    d.close()
    with pytest.raises(ShuttingDownError):
        await waiting


async def test_filtered_streams_leave_unaccepted_items_queued() -> None:
    d, applied = WorkItemDispatcher(), Applied()
    only_b = d.open_stream("ms", lambda i: i.name == "b")
    d.submit(WorkItem("orchestrator", "i1", b"", on_complete=applied, dialect="ms", name="a"))
    waiting = asyncio.create_task(d.next(only_b))
    await asyncio.sleep(0)
    assert not waiting.done() and d.queued == 1  # "a" stays queued for another worker
    d.submit(WorkItem("orchestrator", "i2", b"", on_complete=applied, dialect="ms", name="b"))
    got = await asyncio.wait_for(waiting, 1)
    assert got.instance_id == "i2"
    dapr_stream = d.open_stream("dapr")
    other = asyncio.create_task(d.next(dapr_stream))
    await asyncio.sleep(0.01)
    assert not other.done()  # a Dapr worker never gets Microsoft-dialect work
    anything = d.open_stream("ms")
    assert (await asyncio.wait_for(d.next(anything), 1)).instance_id == "i1"
    other.cancel()


async def test_lost_worker_backoff_then_poison() -> None:
    poisoned: list[WorkItem] = []

    async def on_poison(item: WorkItem) -> None:
        poisoned.append(item)

    d, applied = WorkItemDispatcher(max_attempts=3, backoff_initial=0.05), Applied()
    handler = asyncio.create_task(d.run_poison_handler())
    d.submit(WorkItem("orchestrator", "p", b"", on_complete=applied, on_poison=on_poison))
    stream = d.open_stream()
    await d.next(stream)
    d.release(stream)  # first loss: straight back
    assert d.queued == 1
    stream = d.open_stream()
    await d.next(stream)
    d.release(stream)  # second loss: after a backoff
    assert d.queued == 0
    await asyncio.sleep(0.08)
    assert d.queued == 1
    stream = d.open_stream()
    await d.next(stream)
    d.release(stream)  # third loss: poison, not re-queued
    await asyncio.sleep(0.01)
    assert d.queued == 0 and [i.instance_id for i in poisoned] == ["p"]
    handler.cancel()


async def test_superseded_items_are_never_sent_again() -> None:
    poisoned: list[WorkItem] = []

    async def on_poison(item: WorkItem) -> None:
        poisoned.append(item)

    d, applied = WorkItemDispatcher(max_attempts=1), Applied()
    handler = asyncio.create_task(d.run_poison_handler())
    old = WorkItem("orchestrator", "s", b"", on_complete=applied, on_poison=on_poison)
    queued = WorkItem("orchestrator", "q", b"", on_complete=applied)
    d.submit(old)
    d.submit(queued)
    stream = d.open_stream()
    assert await d.next(stream) is old
    old.superseded = queued.superseded = True  # their owners re-issued the work
    d.release(stream)  # a lost worker: neither re-queued nor reported as poison
    fresh = WorkItem("orchestrator", "s", b"", on_complete=applied)
    d.submit(fresh)
    stream = d.open_stream()
    assert await d.next(stream) is fresh  # the queued superseded one is skipped
    await asyncio.sleep(0.01)
    assert d.queued == 0 and poisoned == []
    handler.cancel()
