"""What happens when a faulty store commits again (issue #5): work that backed off goes at
once, and work that a failed commit superseded never goes out again.

Faults are the real SQLite errors set up by ``storage_fault`` (see test_storage_faults).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
from google.protobuf import wrappers_pb2

from tests.server._raw_worker import (
    Worker,
    daemon,
    finish,
    flow_started,
    refused,
    schedule,
    unary,
)
from tests.server.test_storage_faults import storage_fault, store_of
from tests.waiting import eventually
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb

SLOW_BACKOFF = {
    "work_items.redispatch_initial": 30, "work_items.redispatch_max": 60,
    "reminders.retry_initial": 30, "reminders.retry_max": 60}


async def finishes_with_nothing_after(worker: Worker) -> None:
    """The next turn ``worker`` gets is live (its answer is taken), and nothing follows it
    within 1.5 s: superseded work, had it not been dropped, would come at once."""
    await worker.accepted(await worker.next("orchestratorRequest"),
                          actions=[finish(dapr_pb, "ok")])
    try:
        extra = await asyncio.wait_for(worker.stream.read(), 1.5)
    except TimeoutError:
        extra = None
    assert extra is None, extra
    worker.stream.cancel()


async def test_work_that_backed_off_goes_as_soon_as_the_store_recovers(
        tmp_path: Path) -> None:
    # Backoffs of 30 s: without the recovery signal nothing below could happen within
    # the 10 s each wait allows, so the test fails rather than slowing down.
    app = daemon(tmp_path / "wf.db", SLOW_BACKOFF)
    async with flow_started(app) as (_, worker):
        first = await worker.next("orchestratorRequest")
        timer = dapr_pb.OrchestratorAction(id=2)
        fire_at = first.orchestratorRequest.newEvents[0].timestamp.ToMilliseconds() + 300
        timer.createTimer.fireAt.FromMilliseconds(fire_at)
        await worker.accepted(first, actions=[schedule(dapr_pb, "step"), timer])
        activity = await worker.next("activityRequest")
        store = store_of(app)
        async with storage_fault(app, "readonly"):
            failed = store.stats.failed_transactions
            # The worker's result is refused and, like the SDKs, it does not retry.
            assert await worker.complete(activity, result=wrappers_pb2.StringValue(
                value='"r"')) == grpc.StatusCode.UNAVAILABLE

            async def timer_tried() -> bool:  # the result and the timer both failed
                return store.stats.failed_transactions >= failed + 2
            await eventually(timer_tried, bool, what="the timer never tried to commit")
        again = await worker.next("activityRequest")  # taken back now, not in 30 s
        assert again.activityRequest.taskId == activity.activityRequest.taskId
        await worker.accepted(again, result=wrappers_pb2.StringValue(value='"r"'))
        seen: list[str] = []
        while "timerFired" not in seen or "taskCompleted" not in seen:
            turn = await worker.next("orchestratorRequest")
            seen += [e.WhichOneof("eventType") for e in turn.orchestratorRequest.newEvents]
            done = "timerFired" in seen and "taskCompleted" in seen
            await worker.accepted(turn, actions=[finish(dapr_pb, "ok")] if done else [])
        assert seen.count("timerFired") == 1 and seen.count("taskCompleted") == 1
        worker.stream.cancel()


async def test_a_turn_whose_commit_failed_is_replayed_once_not_twice(
        tmp_path: Path) -> None:
    # The failed commit rebuilds the workflow actor, which dispatches the turn anew; the
    # dispatch the worker answered in vain must not be taken back and sent as well
    # (the worker would replay it only to have the answer refused as stale).
    app = daemon(tmp_path / "wf.db", SLOW_BACKOFF)
    async with flow_started(app) as (_, worker):
        first = await worker.next("orchestratorRequest")
        async with storage_fault(app, "readonly"):
            assert await worker.complete(first, actions=[finish(dapr_pb, "ok")]) == \
                grpc.StatusCode.UNAVAILABLE
        await finishes_with_nothing_after(worker)


async def test_a_dispatch_out_when_its_actor_was_rebuilt_is_not_sent_again(
        tmp_path: Path) -> None:
    # A failed turn (here a refused event) rebuilds the actor while a worker holds its
    # orchestrator turn; the rebuilt actor dispatches its own. When that worker goes
    # away, only the live dispatch may go to the next worker.
    app = daemon(tmp_path / "wf.db", SLOW_BACKOFF)
    async with flow_started(app) as (channel, gone):
        held = await gone.next("orchestratorRequest")
        async with storage_fault(app, "readonly"):
            event = dapr_pb.RaiseEventRequest(instanceId="wf", name="go")
            assert (await refused(unary(channel, "RaiseEvent", dapr_pb.RaiseEventResponse)(
                event, timeout=5))).code() == grpc.StatusCode.UNAVAILABLE
        live = await gone.next("orchestratorRequest")
        assert live.completionToken != held.completionToken
        gone.stream.cancel()
        await finishes_with_nothing_after(Worker(channel, dapr_pb))
