"""engine.md §7 correctness hazards 21-40, one or more tests each, named after the number.

Most tests drive a real daemon (``App`` in-process, real gRPC on 127.0.0.1, a SQLite file in
``tmp_path``) acting as the app's worker by hand; time-heavy ones run it on a ``FakeClock``.

Hazards the design rules out, with the test that shows the property doing it:

Hazard 21 (lease renewal / heartbeat): there is no lease to expire. A dispatched work item
belongs to its worker stream until the stream ends or the item is completed, however long
that takes, so no heartbeat exists and none is needed. The tests hold an activity and an
orchestrator turn for hours of (fake) time and check that nothing is re-dispatched and the
original token still completes.

Hazard 27 (fencing two hosts): one SQLite file is owned by one daemon through an exclusive
file lock taken at open; a second daemon on the same file is refused at start-up, so two
writers can never interleave history writes. Inside the daemon, one actor runs one turn at a
time. The test shows the refusal.

Hazard 35 (state-store transaction limits): SQLite has no cap on operations per
transaction, and a turn is always one caller's changes in one transaction (group commit
merges callers, never splits one). The test commits a turn of 1,000 timers and then the
continue-as-new that discards them in one go.

Hazard 39 (orchestration spans): wfsidecar emits no spans yet; there is no OpenTelemetry
code or dependency in ``wfsidecar/`` (features.md lists OTel export as a later feature;
no issue up to #5 adds it). Whoever adds it must emit one span per instance or generation
and reuse a persisted span id. The only trace state the daemon keeps today is the
worker's orchestration span context (Microsoft dialect), and the test checks that it is
persisted and echoed after a restart, not kept in memory only.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.fakes import FakeClock
from tests.hazards._support_21_40 import (
    Stream,
    answer,
    answer_activity,
    code_of,
    complete,
    daemon,
    eventually,
    history,
    kinds,
    make_app,
    raise_event,
    reminder_names,
    results,
    schedule,
    state,
    state_keys,
    timer,
)
from tests.server._raw_worker import channel_to, work_items
from tests.server.test_dapr_rpcs import Client
from tests.stored_state import delete_state_key
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar._proto.internal import orchestrator_service_pb2 as ipb
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms
from wfsidecar.actors import ActorRuntime, ReminderScheduler
from wfsidecar.actors.reminders import SchedulerSettings
from wfsidecar.engine import history as h
from wfsidecar.errors import StartupError, StoreUnavailable
from wfsidecar.store.base import Changes
from wfsidecar.store.memory import MemoryStore
from wfsidecar.workflow import StatusWaiters, WorkItemDispatcher, register_actor_types
from wfsidecar.workflow.service import StartRequest, WorkflowService
from wfsidecar.workflow.state import WORKFLOW_ACTOR
from wfsidecar.workflow.workflow_actor import workflow_ref

HOUR = 3600.0
DAY = 24 * HOUR


# -- 21 ------------------------------------------------------------------------------------


async def test_hazard_21_long_activity_is_not_redispatched_while_running(
        tmp_path: Path) -> None:
    clock = FakeClock()
    async with daemon(tmp_path / "wf.db", clock) as (_, client):
        await client.start("long")
        worker = Stream(client)
        await answer(client, await worker.next(), schedule(0, "slow"))
        running_item = await worker.next()
        assert running_item.activityRequest.name == "slow"
        idle = Stream(client)  # another worker, ready to take anything re-dispatched
        clock.advance(2 * HOUR)  # far beyond any lease, idle timeout or reminder retry
        assert await idle.nothing_for(0.5)
        await answer_activity(client, running_item, '"done"')
        turn = await worker.next()
        assert kinds(list(turn.orchestratorRequest.newEvents)) == [
            "orchestratorStarted", "taskCompleted"]
        worker.close()


async def test_hazard_21_long_orchestrator_turn_outlives_idle_deactivation(
        tmp_path: Path) -> None:
    # Found by this test: the workflow actor was deactivated as idle (actors.idle_timeout)
    # while its turn was out with a worker, so the late answer was refused as stale and the
    # instance hung with its `run` reminder parked. Actors with work out now stay active.
    clock = FakeClock()
    async with daemon(tmp_path / "wf.db", clock, **{"actors.idle_timeout": 1.0}) as (
            app, client):
        await client.start("slow-turn")
        worker = Stream(client)
        item = await worker.next()
        clock.advance(HOUR)
        await asyncio.sleep(0.1)  # let the idle reaper run
        await answer(client, item, complete(0, result='"ok"'))
        assert (await state(client, "slow-turn")).orchestrationStatus == \
            pb.ORCHESTRATION_STATUS_COMPLETED
        worker.close()
        # Once nothing is in flight, the actor is deactivated as usual.
        runtime = app.runtime
        assert runtime is not None

        async def active() -> bool:
            return runtime.is_active(workflow_ref("slow-turn"))

        clock.advance(HOUR)
        await eventually(active, lambda is_active: not is_active)


# -- 22 ------------------------------------------------------------------------------------


async def test_hazard_22_lost_stream_invalidates_only_its_own_dispatches(
        tmp_path: Path) -> None:
    async with daemon(tmp_path / "wf.db") as (_, client):
        first = Stream(client)  # two streams of one process, over one channel
        await client.start("x")
        lost = await first.next()
        second = Stream(client)
        await asyncio.sleep(0.05)
        first.close()  # this stream's dispatch of "x" is lost ...
        again = await second.next()
        assert again.orchestratorRequest.instanceId == "x"
        await client.start("y")
        other = await second.next()
        tokens = {lost.completionToken, again.completionToken, other.completionToken}
        assert len(tokens) == 3  # one token per dispatch, not per process or connection
        # ... so its token is dead, while the same process's other dispatches stay valid.
        assert await code_of(answer(client, lost, complete(0))) == grpc.StatusCode.NOT_FOUND
        await answer(client, other, complete(0, result='"y"'))
        await answer(client, again, complete(0, result='"x"'))
        assert (await state(client, "x")).output.value == '"x"'
        second.close()


# -- 23 ------------------------------------------------------------------------------------


async def test_hazard_23_completion_of_a_superseded_turn_is_rejected(tmp_path: Path) -> None:
    async with daemon(tmp_path / "wf.db") as (_, client):
        await client.start("x")
        first = Stream(client)
        old = await first.next()
        first.close()
        worker = Stream(client)
        turn1 = await worker.next()
        assert turn1.completionToken != old.completionToken
        await answer(client, turn1)
        await raise_event(client, "x", "go")
        turn2 = await worker.next()
        before = await history(client, "x")
        # The superseded dispatch answers late, with a completion: refused, not applied.
        late = answer(client, old, complete(0, result='"stale"'))
        assert await code_of(late) == grpc.StatusCode.NOT_FOUND
        replay = answer(client, turn1, complete(0, result='"replayed"'))
        assert await code_of(replay) == grpc.StatusCode.NOT_FOUND
        assert await history(client, "x") == before
        assert (await state(client, "x")).orchestrationStatus == pb.ORCHESTRATION_STATUS_RUNNING
        await answer(client, turn2, complete(0, result='"current"'))
        assert (await state(client, "x")).output.value == '"current"'
        worker.close()


# -- 24 ------------------------------------------------------------------------------------


async def test_hazard_24_disconnect_mid_turn_requeues_every_item_uncompleted(
        tmp_path: Path) -> None:
    async with daemon(tmp_path / "wf.db") as (_, client):
        ids = ["a", "b", "c"]
        for instance_id in ids:
            await client.start(instance_id)
        dropped = Stream(client)
        held = [await dropped.next() for _ in ids]
        dropped.close()  # the worker dies with three turns in hand
        for instance_id in ids:
            got = await state(client, instance_id)
            assert got.orchestrationStatus == pb.ORCHESTRATION_STATUS_PENDING
            assert await history(client, instance_id) == []  # nothing committed for them
        worker = Stream(client)
        redone = [await worker.next() for _ in ids]
        assert sorted(i.orchestratorRequest.instanceId for i in redone) == ids
        for item in redone:
            assert kinds(list(item.orchestratorRequest.newEvents)) == [
                "orchestratorStarted", "executionStarted"]
        for item in held:
            assert await code_of(answer(client, item)) == grpc.StatusCode.NOT_FOUND
        for item in redone:
            await answer(client, item, complete(0))
        for instance_id in ids:
            assert (await state(client, instance_id)).orchestrationStatus == \
                pb.ORCHESTRATION_STATUS_COMPLETED
        worker.close()


# -- 25 ------------------------------------------------------------------------------------


async def test_hazard_25_no_worker_connected_blocks_nothing(tmp_path: Path) -> None:
    async with daemon(tmp_path / "wf.db") as (_, client):
        started = time.monotonic()
        await client.start("alone")  # its first turn is dispatched to nobody
        for n in range(3):
            await raise_event(client, "alone", f"e{n}")
        assert (await state(client, "alone")).orchestrationStatus == \
            pb.ORCHESTRATION_STATUS_PENDING
        await client.start("other")
        await client.call("TerminateInstance", pb.TerminateRequest(instanceId="other"),
                          pb.TerminateResponse, deadline=2)
        # Each call returned after its commit; none waited for a worker.
        assert time.monotonic() - started < 5
        worker = Stream(client)
        first = [await worker.next(), await worker.next()]
        assert {i.orchestratorRequest.instanceId for i in first} == {"alone", "other"}
        worker.close()


# -- 26 ------------------------------------------------------------------------------------


class FlakyStore(MemoryStore):
    """A memory store whose next commit can be made to fail."""

    fail_next = False

    async def commit(self, changes: Changes) -> None:
        if self.fail_next:
            self.fail_next = False
            raise StoreUnavailable("injected commit failure")
        await super().commit(changes)


async def test_hazard_26_failed_turn_leaves_no_event_in_the_cached_inbox() -> None:
    clock, store = FakeClock(), FlakyStore()
    runtime = ActorRuntime(store, clock, idle_timeout=60)
    dispatcher, waiters = WorkItemDispatcher(), StatusWaiters()
    register_actor_types(runtime, dispatcher, waiters, clock)
    service = WorkflowService(runtime, store, waiters, clock)
    scheduler = ReminderScheduler(store, runtime, clock, SchedulerSettings())
    task = asyncio.create_task(scheduler.run())
    try:
        stream = dispatcher.open_stream()
        await service.start(StartRequest(name="wf", instance_id="w"))
        first = await asyncio.wait_for(dispatcher.next(stream), 5)
        await dispatcher.complete("orchestrator", first.token, "w", -1,
                                  ipb.OrchestratorResponse(instanceId="w").SerializeToString())
        store.fail_next = True
        with pytest.raises(StoreUnavailable):
            await service.raise_event("w", "lost", None)  # appended, then not committed
        await service.raise_event("w", "kept", None)
        second = await asyncio.wait_for(dispatcher.next(stream), 5)
        request = ipb.OrchestratorRequest.FromString(second.request_bytes())
        raised = [e.eventRaised.name for e in request.newEvents if e.HasField("eventRaised")]
        assert raised == ["kept"]
    finally:
        scheduler.stop()
        await task
        await store.close()


# -- 27 ------------------------------------------------------------------------------------


async def test_hazard_27_second_daemon_on_the_same_file_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    async with daemon(db) as (_, client):
        await client.start("owned")
        intruder = make_app(db)
        with pytest.raises(StartupError, match="in use by another wfsidecar"):
            await intruder.serve(asyncio.Event().wait)
        await client.start("still-owned")  # the owner is unaffected
    async with daemon(db) as (_, client):  # once the owner is gone, the file is free
        assert (await client.get("owned")).exists
        assert (await client.get("still-owned")).exists


# -- 28 ------------------------------------------------------------------------------------


async def test_hazard_28_history_keys_follow_persisted_positions_when_events_drop(
        tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    async with daemon(db) as (app, client):
        await client.start("x")
        worker = Stream(client)
        await answer(client, await worker.next(), schedule(0, "a"))
        await answer_activity(client, await worker.next(), '"r"')
        turn = await worker.next()
        # Before that turn is answered: a TimerFired for a timer this generation never
        # created (dropped by the next turn) and an event that is kept.
        assert app.runtime is not None
        await app.runtime.invoke(workflow_ref("x"), "add_event", h.timer_fired(7, 0, 1))
        await raise_event(client, "x", "kept")
        await answer(client, turn)
        last = await worker.next()
        assert kinds(list(last.orchestratorRequest.newEvents)) == [
            "orchestratorStarted", "eventRaised"]
        await answer(client, last, complete(0))
        events = await history(client, "x")
        keys = await state_keys(db, WORKFLOW_ACTOR, "x")
        meta = json.loads(keys["metadata"])
        assert (meta["historyLength"], meta["inboxLength"]) == (len(events), 0)
        stored = sorted(k for k in keys if k.startswith("history-"))
        assert stored == [f"history-{i:06d}" for i in range(len(events))]
        assert [ipb.HistoryEvent.FromString(keys[k]) for k in stored] == [
            ipb.HistoryEvent.FromString(e.SerializeToString()) for e in events]
        assert "timerFired" not in kinds(events)
        worker.close()


# -- 29 ------------------------------------------------------------------------------------


async def test_hazard_29_inbox_events_are_processed_in_enqueue_order(tmp_path: Path) -> None:
    async with daemon(tmp_path / "wf.db") as (_, client):
        await client.start("ordered")
        names = [f"e{n}" for n in range(12)]  # raised before ExecutionStarted is processed
        for name in names:
            await raise_event(client, "ordered", name, f'"{name}"')
        worker = Stream(client)
        seen: list[str] = []
        while len([s for s in seen if s != "executionStarted"]) < len(names):
            item = await worker.next()
            for event in item.orchestratorRequest.newEvents:
                if event.HasField("executionStarted"):
                    seen.append("executionStarted")
                elif event.HasField("eventRaised"):
                    assert event.eventRaised.input.value == f'"{event.eventRaised.name}"'
                    seen.append(event.eventRaised.name)
            await answer(client, item)
        assert seen == ["executionStarted", *names]
        worker.close()


# -- 30 ------------------------------------------------------------------------------------


async def test_hazard_30_event_for_unknown_instance_is_not_found_and_stores_nothing(
        tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    async with daemon(db) as (_, client):
        assert await code_of(raise_event(client, "ghost", "e")) == grpc.StatusCode.NOT_FOUND
        await client.start("gone")
        worker = Stream(client)
        await answer(client, await worker.next(), complete(0))
        worker.close()
        purged = await client.call("PurgeInstances", pb.PurgeInstancesRequest(
            instanceId="gone"), pb.PurgeInstancesResponse)
        assert purged.deletedInstanceCount == 1
        assert await code_of(raise_event(client, "gone", "e")) == grpc.StatusCode.NOT_FOUND
        for orphan in ("ghost", "gone"):
            assert await state_keys(db, WORKFLOW_ACTOR, orphan) == {}
            assert await reminder_names(db, WORKFLOW_ACTOR, orphan) == []
        assert not (await client.get("ghost")).exists


# -- 31 ------------------------------------------------------------------------------------


async def test_hazard_31_same_name_events_fifo_verbatim_and_carried_over(
        tmp_path: Path) -> None:
    async with daemon(tmp_path / "wf.db") as (_, client):
        await client.start("waiter")
        worker = Stream(client)
        first = await worker.next()
        sent = [("Approval", '"1"'), ("approval", '"2"'), ("APPROVAL", '"3"')]
        for name, data in sent:  # queued while the first turn is out: one turn gets all
            await raise_event(client, "waiter", name, data)
        await answer(client, first)
        turn = await worker.next()
        got = [(e.eventRaised.name, e.eventRaised.input.value)
               for e in turn.orchestratorRequest.newEvents if e.HasField("eventRaised")]
        # In order, names untouched: the SDK matches them case-insensitively.
        assert got == sent
        buffered = [e for e in turn.orchestratorRequest.newEvents if e.HasField("eventRaised")]
        await answer(client, turn)  # still not consumed: they stay in the history
        await raise_event(client, "waiter", "approval", '"4"')
        later = await worker.next()
        past = [e.eventRaised.input.value for e in later.orchestratorRequest.pastEvents
                if e.HasField("eventRaised")]
        assert past == ['"1"', '"2"', '"3"']
        # Continue-as-new carrying the unconsumed events over, in order.
        carry = (*buffered[1:], *[e for e in later.orchestratorRequest.newEvents
                                  if e.HasField("eventRaised")])
        await answer(client, later, complete(0, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW,
                                             result='"next"', carryover=carry))
        fresh = await worker.next()
        new = list(fresh.orchestratorRequest.newEvents)
        assert kinds(new)[:2] == ["orchestratorStarted", "executionStarted"]
        assert [e.eventRaised.input.value for e in new if e.HasField("eventRaised")] == [
            '"2"', '"3"', '"4"']
        assert list(fresh.orchestratorRequest.pastEvents) == []
        worker.close()


# -- 32 ------------------------------------------------------------------------------------


async def test_hazard_32_send_event_arrives_as_event_raised(tmp_path: Path) -> None:
    async with daemon(tmp_path / "wf.db") as (_, client):
        await client.start("target")
        worker = Stream(client)
        await answer(client, await worker.next())
        await client.start("sender")
        send = pb.OrchestratorAction(id=0)
        send.sendEvent.instance.instanceId = "target"
        send.sendEvent.name = "ping"
        send.sendEvent.data.value = '"hello"'
        await answer(client, await worker.next(), send, complete(1))
        delivered = await worker.next()
        request = delivered.orchestratorRequest
        assert request.instanceId == "target"
        assert kinds(list(request.newEvents)) == ["orchestratorStarted", "eventRaised"]
        raised = request.newEvents[1].eventRaised
        assert (raised.name, raised.input.value) == ("ping", '"hello"')
        assert "eventSent" in kinds(await history(client, "sender"))
        worker.close()


# -- 33 ------------------------------------------------------------------------------------


def create_child(id: int, instance_id: str) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.createSubOrchestration.name = "kid"
    action.createSubOrchestration.instanceId = instance_id
    return action


async def test_hazard_33_child_ids_that_break_actor_ids_are_refused(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    async with daemon(db) as (_, client):
        await client.start("parent")
        worker = Stream(client)
        item = await worker.next()
        for bad in ("kid#1", "kid::1", "kid\n1"):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await answer(client, item, create_child(0, bad))
            assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert repr(bad) in (raised.value.details() or "")
            assert await state_keys(db, WORKFLOW_ACTOR, bad) == {}
        assert await history(client, "parent") == []
        # The SDKs' default child id form ("<parent>:<hex>") is fine, and the refused
        # answers did not use up the dispatch.
        await answer(client, item, create_child(0, "parent:0000"))
        child = await worker.next()
        assert child.orchestratorRequest.instanceId == "parent:0000"
        worker.close()


# -- 34 ------------------------------------------------------------------------------------


async def test_hazard_34_child_outcome_reaches_the_parent_by_task_id(tmp_path: Path) -> None:
    async with daemon(tmp_path / "wf.db") as (_, client):
        await client.start("p")
        worker = Stream(client)
        await answer(client, await worker.next(), create_child(3, "ok-kid"),
                     create_child(4, "doomed-kid"))
        children = {}
        for _ in range(2):
            item = await worker.next()
            children[item.orchestratorRequest.instanceId] = item
        assert set(children) == {"ok-kid", "doomed-kid"}
        await answer(client, children["ok-kid"], complete(0, result='"fine"'))
        done = await worker.next()
        assert done.orchestratorRequest.instanceId == "p"
        [ok] = [e for e in done.orchestratorRequest.newEvents
                if e.HasField("subOrchestrationInstanceCompleted")]
        assert ok.subOrchestrationInstanceCompleted.taskScheduledId == 3
        assert ok.subOrchestrationInstanceCompleted.result.value == '"fine"'
        await answer(client, done)
        await client.call("TerminateInstance", pb.TerminateRequest(
            instanceId="doomed-kid"), pb.TerminateResponse)
        await answer(client, children["doomed-kid"])  # any answer: terminate wins
        terminated = await worker.next()
        if terminated.orchestratorRequest.instanceId == "doomed-kid":
            await answer(client, terminated)
            terminated = await worker.next()
        assert terminated.orchestratorRequest.instanceId == "p"
        [failed] = [e for e in terminated.orchestratorRequest.newEvents
                    if e.HasField("subOrchestrationInstanceFailed")]
        assert failed.subOrchestrationInstanceFailed.taskScheduledId == 4
        details = failed.subOrchestrationInstanceFailed.failureDetails
        assert "TERMINATED" in details.errorMessage and details.errorType
        worker.close()


async def take(worker: Stream, *instance_ids: str) -> dict[str, Any]:
    """The next work item of each instance, in whatever order they come."""
    items: dict[str, Any] = {}
    while set(items) != set(instance_ids):
        item = await worker.next()
        assert item.orchestratorRequest.instanceId in instance_ids, item
        items[item.orchestratorRequest.instanceId] = item
    return items


@pytest.mark.parametrize("how", ["re-created", "continued as new"])
async def test_hazard_34_old_childs_result_skips_a_newer_parent_execution(
        tmp_path: Path, how: str) -> None:
    # Both parent executions start a child under task id 0; only the current one's
    # child may resolve it, since the notification names the parent execution.
    async with daemon(tmp_path / "wf.db") as (_, client):
        await client.start("p")
        worker = Stream(client)
        first = await worker.next()
        if how == "re-created":
            await answer(client, first, create_child(0, "old-kid"))
            old_kid = (await take(worker, "old-kid"))["old-kid"]
            await client.call("TerminateInstance", pb.TerminateRequest(instanceId="p"),
                              pb.TerminateResponse)
            await answer(client, await worker.next())  # terminate wins; "old-kid" runs on
            await client.start("p")
            new_gen = (await take(worker, "p"))["p"]
        else:
            await answer(client, first, create_child(0, "old-kid"),
                         complete(1, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW))
            items = await take(worker, "old-kid", "p")
            old_kid, new_gen = items["old-kid"], items["p"]
        await answer(client, new_gen, create_child(0, "new-kid"))
        new_kid = (await take(worker, "new-kid"))["new-kid"]
        await answer(client, old_kid, complete(0, result='"stale"'))
        await answer(client, new_kid, complete(0, result='"fresh"'))
        turn = (await take(worker, "p"))["p"]
        child = "subOrchestrationInstanceCompleted"
        assert results(turn.orchestratorRequest.newEvents, child) == ['"fresh"']
        await answer(client, turn, complete(1, result='"done"'))
        assert results(await history(client, "p"), child) == ['"fresh"']
        worker.close()


# -- 35 ------------------------------------------------------------------------------------


async def test_hazard_35_huge_turn_and_long_history_reset_commit_whole(
        tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    count = 1000
    async with daemon(db) as (_, client):
        await client.start("big")
        worker = Stream(client)
        far = int(time.time() * 1000) + 10 * 365 * 86_400_000
        await answer(client, await worker.next(),
                     *[timer(i, far + i) for i in range(count)])
        keys = await state_keys(db, WORKFLOW_ACTOR, "big")
        assert json.loads(keys["metadata"])["historyLength"] == count + 2
        assert sum(k.startswith("history-") for k in keys) == count + 2
        assert sum(n.startswith("timer-") for n in
                   await reminder_names(db, WORKFLOW_ACTOR, "big")) == count
        await raise_event(client, "big", "restart")
        await answer(client, await worker.next(),
                     complete(0, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, result='"2"'))
        keys = await state_keys(db, WORKFLOW_ACTOR, "big")
        meta = json.loads(keys["metadata"])
        assert (meta["historyLength"], meta["generation"]) == (0, 2)
        assert not [k for k in keys if k.startswith("history-")]
        fresh = await worker.next()
        assert [e.executionStarted.input.value for e in fresh.orchestratorRequest.newEvents
                if e.HasField("executionStarted")] == ['"2"']
        worker.close()


# -- 36 ------------------------------------------------------------------------------------


async def test_hazard_36_missing_history_key_is_detected_not_skipped(tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    async with daemon(db) as (_, client):
        await client.start("damaged")
        worker = Stream(client)
        await answer(client, await worker.next(), complete(0, result='"x"'))
        worker.close()
        assert len(await history(client, "damaged")) >= 3
    await asyncio.to_thread(delete_state_key, db, "damaged", "history-000001")
    async with daemon(db) as (_, client):
        for read in (lambda: client.get("damaged"), lambda: history(client, "damaged")):
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await read()
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "history-000001" in (raised.value.details() or "")


# -- 37 ------------------------------------------------------------------------------------


async def test_hazard_37_past_and_far_timers_fire_once_and_late_ones_drop(
        tmp_path: Path) -> None:
    db, clock = tmp_path / "wf.db", FakeClock()
    async with daemon(db, clock) as (_, client):
        await client.start("timed")
        worker = Stream(client)
        now = clock.now_ms()
        await answer(client, await worker.next(), timer(0, now - 3_600_000),
                     timer(1, now + 365 * 86_400_000))
        past = await worker.next()  # already due: fires at once
        assert [e.timerFired.timerId for e in past.orchestratorRequest.newEvents
                if e.HasField("timerFired")] == [0]
        await answer(client, past)
        clock.advance(366 * DAY)
        far = await worker.next()
        assert [e.timerFired.timerId for e in far.orchestratorRequest.newEvents
                if e.HasField("timerFired")] == [1]
        # A third timer, then the instance completes before it is due.
        await answer(client, far, timer(2, clock.now_ms() + 30 * 86_400_000), complete(3))
        worker.close()
        clock.advance(31 * DAY)
        idle = Stream(client)
        assert await idle.nothing_for(0.5)  # the late timer does not reopen the instance
        await eventually(lambda: reminder_names(db, WORKFLOW_ACTOR, "timed"),
                         lambda names: names == [])
        fired = [e.timerFired.timerId for e in await history(client, "timed")
                 if e.HasField("timerFired")]
        assert fired == [0, 1]
        assert (await state(client, "timed")).orchestrationStatus == \
            pb.ORCHESTRATION_STATUS_COMPLETED


# -- 38 ------------------------------------------------------------------------------------


async def test_hazard_38_status_matches_history_after_every_commit(tmp_path: Path) -> None:
    async with daemon(tmp_path / "wf.db") as (app, client):
        await client.start("s")
        assert (await state(client, "s")).orchestrationStatus == \
            pb.ORCHESTRATION_STATUS_PENDING
        worker = Stream(client)

        async def status_after(item: Any, *actions: pb.OrchestratorAction) -> Any:
            await answer(client, item, *actions)
            got = await state(client, "s")
            events = await history(client, "s")
            if events:
                # createdAt is always this generation's ExecutionStarted
                [start] = [e for e in events if e.HasField("executionStarted")]
                assert got.createdTimestamp == start.timestamp
            return got, events

        got, _ = await status_after(await worker.next())
        assert got.orchestrationStatus == pb.ORCHESTRATION_STATUS_RUNNING
        await client.call("SuspendInstance", pb.SuspendRequest(instanceId="s"),
                          pb.SuspendResponse)
        got, _ = await status_after(await worker.next())
        assert got.orchestrationStatus == pb.ORCHESTRATION_STATUS_SUSPENDED
        await client.call("ResumeInstance", pb.ResumeRequest(instanceId="s"),
                          pb.ResumeResponse)
        got, _ = await status_after(await worker.next())
        assert got.orchestrationStatus == pb.ORCHESTRATION_STATUS_RUNNING
        first_created = got.createdTimestamp.ToMilliseconds()
        await raise_event(client, "s", "again")
        await asyncio.sleep(0.01)
        got, events = await status_after(
            await worker.next(),
            complete(0, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, result='"two"'))
        # Between generations: the new one's start, RUNNING (as durabletask-go and Dapr
        # report a continued instance), never PENDING, terminal or CONTINUED_AS_NEW.
        assert events == []
        assert got.orchestrationStatus == pb.ORCHESTRATION_STATUS_RUNNING
        waited = await client.call("WaitForInstanceStart", pb.GetInstanceRequest(
            instanceId="s"), pb.GetInstanceResponse, deadline=5)
        assert waited.orchestrationState.orchestrationStatus == \
            pb.ORCHESTRATION_STATUS_RUNNING
        async with channel_to(app, ms) as channel:  # QueryInstances: Microsoft only
            query = ms.QueryInstancesRequest()
            query.query.runtimeStatus.append(ms.ORCHESTRATION_STATUS_RUNNING)
            found = await Client(channel).call("QueryInstances", query,
                                               ms.QueryInstancesResponse)
        assert [s.instanceId for s in found.orchestrationState] == ["s"]
        assert got.createdTimestamp.ToMilliseconds() > first_created
        assert got.input.value == '"two"'
        second_gen = got.createdTimestamp
        got, events = await status_after(await worker.next())
        assert got.orchestrationStatus == pb.ORCHESTRATION_STATUS_RUNNING
        assert got.createdTimestamp == second_gen
        assert [e.executionStarted.input.value for e in events
                if e.HasField("executionStarted")] == ['"two"']
        await raise_event(client, "s", "finish")
        got, _ = await status_after(await worker.next(), complete(0, result='"end"'))
        assert got.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
        assert got.output.value == '"end"'
        worker.close()


# -- 39 ------------------------------------------------------------------------------------


async def test_hazard_39_orchestration_span_context_survives_a_restart(
        tmp_path: Path) -> None:
    db = tmp_path / "wf.db"
    app = make_app(db)
    async with running(app), channel_to(app, ms) as channel:
        client = Client(channel)
        await client.call("StartInstance", ms.CreateInstanceRequest(
            instanceId="traced", name="flow"), ms.CreateInstanceResponse)
        stream = work_items(channel, ms)
        first = await asyncio.wait_for(stream.read(), 10)
        response = ms.OrchestratorResponse(instanceId="traced",
                                           completionToken=first.completionToken)
        response.orchestrationTraceContext.spanID.value = "span-of-the-run"
        await client.call("CompleteOrchestratorTask", response, ms.CompleteTaskResponse)
        stream.cancel()
    app = make_app(db)  # a new process on the same file
    async with running(app), channel_to(app, ms) as channel:
        client = Client(channel)
        await client.call("RaiseEvent", ms.RaiseEventRequest(
            instanceId="traced", name="go"), ms.RaiseEventResponse)
        stream = work_items(channel, ms)
        second = await asyncio.wait_for(stream.read(), 10)
        context = second.orchestratorRequest.orchestrationTraceContext
        assert context.spanID.value == "span-of-the-run"
        stream.cancel()


# -- 40 ------------------------------------------------------------------------------------


async def test_hazard_40_poison_turn_backs_off_then_stops(tmp_path: Path) -> None:
    overrides: dict[str, object] = {"work_items.max_attempts": 7,
                                    "work_items.redispatch_initial": 0.1,
                                    "work_items.redispatch_max": 0.2}
    async with daemon(tmp_path / "wf.db", **overrides) as (_, client):
        await client.start("poison")
        gaps: list[float] = []
        lost_at: float | None = None
        for _ in range(7):  # a worker that crashes on every dispatch of this turn
            stream = Stream(client)
            item = await stream.next()
            assert item.orchestratorRequest.instanceId == "poison"
            if lost_at is not None:
                gaps.append(time.monotonic() - lost_at)
            stream.close()
            lost_at = time.monotonic()
        # Re-dispatch delays after each loss: 0, 0.1, 0.2, then capped at 0.2 (uncapped
        # doubling would make the last one 1.6 s).
        assert gaps[1] >= 0.08 and gaps[2] >= 0.18 and gaps[3] >= 0.18
        assert gaps[-1] < 1.2
        await eventually(lambda: state(client, "poison"), lambda s: (
            s.orchestrationStatus == pb.ORCHESTRATION_STATUS_STALLED))
        assert await Stream(client).nothing_for(0.5)  # no hot loop after giving up
