"""engine.md §7 correctness hazards 1-20, one or more tests named after each number.

Real components throughout: an in-process daemon over real gRPC with a real SQLite file
(``_support_01_20.Daemon``; its store can fail or "crash" on a chosen commit, after which
the daemon is restarted on the same file), or the pure engine where the hazard is about
history semantics. The worker is the test itself, answering work items by hand, so every
step is explicit and waits poll with deadlines, never sleep-and-hope.

Where the design answers a hazard differently from its wording, the test checks the
property the design provides instead; the reasons:

Hazard 2: Dapr's actor backend acks a purged instance's activity job and drops the result
(engine.md §2.3); so does wfsidecar. The worker gets OK, nothing is re-created, and no
reminder is left that could retry it; repeating the result is refused as NOT_FOUND.

Hazard 8: there is no continue-as-new loop inside the sidecar to bound. Each generation is
its own work item that needs a worker round trip and queues behind other instances' work,
so the test shows one dispatch per generation and another instance being served meanwhile.

Hazard 13: a recursive purge that fails part-way reports the failure, not a count; children
go first, so the parent is still there and repeating the purge deletes (and counts) the rest.

Hazard 17: the "re-read before a no-op" half cannot arise: a workflow actor's inbox is only
written by that actor's own turns, in the same commit as its ``run`` reminder, and a failed
turn throws the actor's cache away. The tests show the other half (the event is durable
before it is acknowledged, on both the client and the instance-to-instance path).

Hazards 16, 18 and 19 hold by construction (a turn's effects, an inbox event and its
wake-up, an activity result and its reminder's deletion are each one transaction); the
tests crash on exactly that commit and restart to show nothing is lost or duplicated.
"""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from tests.engine import builders as b
from tests.fakes import FakeClock
from tests.hazards._support_01_20 import (
    daemon,
    deletes,
    deletes_actor,
    history,
    inbox_writes_without_wake_up,
    kinds,
    new_kinds,
    puts,
    raise_event,
    results,
    set_reminder,
    sets_reminder,
    stored,
    terminate,
    wait_status,
    wait_stored,
)
from wfsidecar import engine
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.actors import ReminderResult, TurnContext
from wfsidecar.types import ActorRef
from wfsidecar.workflow.activity_actor import ActivityActor
from wfsidecar.workflow.state import ACTIVITY_ACTOR, WORKFLOW_ACTOR

RUNNING = pb.ORCHESTRATION_STATUS_RUNNING
COMPLETED = pb.ORCHESTRATION_STATUS_COMPLETED
TERMINATED = pb.ORCHESTRATION_STATUS_TERMINATED
SUSPENDED = pb.ORCHESTRATION_STATUS_SUSPENDED
CAN = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW


# -- 1: a late activity result for a finished instance -----------------------------------


@pytest.mark.parametrize("ending", ["terminated", "completed"])
async def test_hazard_01_late_activity_result_is_dropped_without_reopening(
        tmp_path: Path, ending: str) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h1")
        worker = d.worker()
        await worker.answer(await worker.turn("h1"), b.schedule(0, "slow"))
        late = await worker.activity("slow")
        if ending == "terminated":
            await terminate(d.client, "h1")
        else:
            await raise_event(d.client, "h1", "done")
        last = await worker.turn("h1")
        if ending == "terminated":
            await worker.answer(last)  # the engine completes it as TERMINATED
        else:
            await worker.answer(last, b.complete(1, result='"ok"'))
        final = TERMINATED if ending == "terminated" else COMPLETED
        await wait_status(d.client, "h1", final)
        before = await history(d.client, "h1")

        await worker.finish(late, '"too late"')  # acknowledged: no error for the worker

        after = await stored(d.db)
        assert await history(d.client, "h1") == before
        assert after.meta("h1")["inboxLength"] == 0
        assert "run" not in after.workflow_reminders("h1")  # no turn is pending
        assert after.activity("h1#0") == {} and after.activity_reminders("h1#0") == {}
        await wait_status(d.client, "h1", final, within=0)
        worker.close()


# -- 2: a late activity result for a purged instance --------------------------------------


async def test_hazard_02_result_after_purge_is_acknowledged_and_never_retried(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h2")
        worker = d.worker()
        await worker.answer(await worker.turn("h2"), b.schedule(0, "slow"))
        late = await worker.activity("slow")
        purged = await d.client.call("PurgeInstances", pb.PurgeInstancesRequest(
            instanceId="h2", force=True), pb.PurgeInstancesResponse)
        assert purged.deletedInstanceCount == 1
        assert (await stored(d.db)).everything_of("h2") == []

        # Dapr's actor backend acks the job and drops the result (engine.md §2.3); the
        # worker is not told to retry, and nothing is left that could retry it later.
        await worker.finish(late, '"orphan"')
        assert (await stored(d.db)).everything_of("h2") == []  # not re-created
        assert not (await d.client.get("h2")).exists
        with pytest.raises(grpc.aio.AioRpcError) as again:
            await worker.finish(late, '"orphan"')
        assert again.value.code() == grpc.StatusCode.NOT_FOUND
        worker.close()


# -- 3: duplicate results for one scheduled task --------------------------------------------


async def test_hazard_03_duplicate_and_conflicting_results_append_once(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h3")
        worker = d.worker()
        await worker.answer(await worker.turn("h3"), b.schedule(0, "act"))
        first = await worker.activity("act")
        worker.close()  # the worker dies holding it: the activity goes out again
        worker = d.worker()
        second = await worker.activity("act")
        assert second.completionToken != first.completionToken

        await worker.finish(second, '"winner"')
        for item, kwargs in ((second, {"result": '"again"'}),   # duplicate TaskCompleted
                             (second, {"failure": "after"}),    # TaskFailed after it
                             (first, {"result": '"stale"'})):   # superseded dispatch
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await worker.finish(item, **kwargs)
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND

        turn = await worker.turn("h3")
        resolved = [e for e in turn.orchestratorRequest.newEvents
                    if e.HasField("taskCompleted") or e.HasField("taskFailed")]
        assert [e.taskCompleted.result.value for e in resolved] == ['"winner"']
        await worker.answer(turn, b.complete(1))
        await wait_status(d.client, "h3", COMPLETED)
        done = kinds(await history(d.client, "h3"))
        assert done.count("taskCompleted") == 1 and "taskFailed" not in done
        worker.close()


# -- 4: a duplicate TimerFired ---------------------------------------------------------------


def test_hazard_04_engine_ignores_a_second_timer_fired() -> None:
    wf = b.Instance(inbox=[b.started()])
    wf.turn(b.T0, b.timer(1, b.T0 + 1000))
    fired = engine.timer_fired(1, b.T0 + 1000, b.T0 + 1000)
    wf.inbox = [fired, fired]  # the reminder was re-created and fired twice
    turn = engine.begin_turn(wf.history, wf.inbox, b.T0 + 1000)
    assert turn is not None and b.kinds(turn.new) == ["orchestratorStarted", "timerFired"]
    assert turn.dropped == 1
    wf.turn(b.T0 + 1000)
    wf.inbox = [fired]  # and once more after it was applied
    assert engine.begin_turn(wf.history, wf.inbox, b.T0 + 2000) is None


async def test_hazard_04_recreated_timer_reminder_does_not_reach_the_worker(
        tmp_path: Path) -> None:
    clock = FakeClock()
    async with daemon(tmp_path, clock) as d:
        await d.client.start("h4")
        worker = d.worker()
        fire_at = clock.now_ms() + 5000
        await worker.answer(await worker.turn("h4"), b.timer(0, fire_at))
        clock.advance(5)
        fired = await worker.turn("h4")
        assert new_kinds(fired)[1:] == ["timerFired"]
        await worker.answer(fired)
        # A replayed turn re-creates the same timer reminder (the hazard's cause).
        duplicate = engine.timer_fired(0, fire_at, clock.now_ms())
        await set_reminder(d, WORKFLOW_ACTOR, "h4", "timer-1-0", duplicate)
        await wait_stored(d.db, lambda s: "timer-1-0" not in s.workflow_reminders("h4"))
        await raise_event(d.client, "h4", "probe")
        probe = await worker.turn("h4")
        assert new_kinds(probe) == ["orchestratorStarted", "eventRaised"]
        assert kinds(await history(d.client, "h4")).count("timerFired") == 1
        worker.close()


# -- 5: a timer of an older generation ------------------------------------------------------


async def test_hazard_05_timer_of_a_previous_generation_is_not_injected(
        tmp_path: Path) -> None:
    clock = FakeClock()
    async with daemon(tmp_path, clock) as d:
        await d.client.start("h5")
        worker = d.worker()
        far = clock.now_ms() + 3_600_000
        await worker.answer(await worker.turn("h5"), b.timer(0, far))
        await raise_event(d.client, "h5", "restart")
        await worker.answer(await worker.turn("h5"),
                            b.complete(1, CAN, result='"gen2"'))
        gen2 = await worker.turn("h5")
        assert new_kinds(gen2)[1] == "executionStarted"
        await worker.answer(gen2, b.timer(0, far + 1))  # timer ids restart at 0 too
        assert (await stored(d.db)).meta("h5")["generation"] == 2

        # Generation 1's timer 0 fires now (a reminder already firing when the generation
        # ended): its id collides with generation 2's timer 0, so only the generation in
        # the reminder's name can tell them apart.
        stale = engine.timer_fired(0, far, clock.now_ms())
        await set_reminder(d, WORKFLOW_ACTOR, "h5", "timer-1-0", stale)
        await wait_stored(d.db, lambda s: "timer-1-0" not in s.workflow_reminders("h5"))
        await raise_event(d.client, "h5", "probe")
        probe = await worker.turn("h5")
        assert new_kinds(probe) == ["orchestratorStarted", "eventRaised"]
        assert "timer-2-0" in (await stored(d.db)).workflow_reminders("h5")
        worker.close()


# -- 6: task ids restart at 0 after continue-as-new -----------------------------------------


async def test_hazard_06_same_task_id_in_the_next_generation_runs_and_is_not_confused(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h6")
        worker = d.worker()
        await worker.answer(await worker.turn("h6"), b.schedule(0, "old"))
        old = await worker.activity("old")  # still running when the generation ends
        await raise_event(d.client, "h6", "restart")
        await worker.answer(await worker.turn("h6"), b.complete(1, CAN, result='"g2"'))
        await worker.answer(await worker.turn("h6"), b.schedule(0, "new"))

        # Same activity actor h6#0, next generation: it must be dispatched although the
        # old generation's task 0 is still in flight on that actor.
        new = await worker.activity("new")
        await worker.finish(old, '"from generation 1"')  # dropped as stale
        # The stale result must not take the new generation's reminder with it, or a
        # crash now would lose task 0 of generation 2.
        assert "run-activity" in (await stored(d.db)).activity_reminders("h6#0")
        await worker.finish(new, '"from generation 2"')
        turn = await worker.turn("h6")
        assert results(turn.orchestratorRequest.newEvents, "taskCompleted") == [
            '"from generation 2"']
        await worker.answer(turn, b.complete(1))
        after = await stored(d.db)
        assert after.activity("h6#0") == {} and after.activity_reminders("h6#0") == {}
        worker.close()


async def test_hazard_06_older_generations_request_never_stays_behind(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h6b")
        worker = d.worker()
        await worker.answer(await worker.turn("h6b"), b.schedule(0, "old"))
        await worker.activity("old")  # taken, never answered
        await raise_event(d.client, "h6b", "restart")
        await worker.answer(await worker.turn("h6b"), b.complete(1, CAN, result='"g2"'))
        await worker.answer(await worker.turn("h6b"), b.schedule(0, "new"))
        worker.close()
        # The old dispatch lived only in memory; after a restart only generation 2's
        # run-activity reminder (it replaced generation 1's) is left to fire.
        await d.restart()
        worker = d.worker()
        await worker.finish(await worker.activity("new"), '"from generation 2"')
        await worker.answer(await worker.turn("h6b"), b.complete(1))
        await wait_status(d.client, "h6b", pb.ORCHESTRATION_STATUS_COMPLETED)
        after = await stored(d.db)
        assert after.activity("h6b#0") == {}  # activityreq-1 did not leak
        worker.close()


# -- 7: continue-as-new resets the history atomically ---------------------------------------


async def test_hazard_07_continue_as_new_swaps_history_in_one_commit_keeping_order(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h7")
        worker = d.worker()
        await worker.answer(await worker.turn("h7"))
        await raise_event(d.client, "h7", "x")
        await worker.answer(await worker.turn("h7"))
        await raise_event(d.client, "h7", "go")
        turn = await worker.turn("h7")
        await raise_event(d.client, "h7", "late")  # arrives while the turn is out
        old_length = (await stored(d.db)).meta("h7")["historyLength"]
        assert old_length == 4
        carry = [engine.event_raised(n, None, b.T0) for n in ("a", "b", "c")]
        d.app.store.commits.clear()
        await worker.answer(turn, b.complete(1, CAN, result='"g2"', carryover=carry))

        # One transaction drops every old history key and writes the new first inbox.
        swap = [c for c in d.app.store.commits
                if deletes(c, WORKFLOW_ACTOR, "h7", "history-")]
        assert len(swap) == 1
        assert sorted(deletes(swap[0], WORKFLOW_ACTOR, "h7", "history-")) == [
            f"history-{i:06d}" for i in range(old_length)]
        assert "inbox-000000" in puts(swap[0], WORKFLOW_ACTOR, "h7", "inbox-")
        assert "metadata" in puts(swap[0], WORKFLOW_ACTOR, "h7", "metadata")
        after = await stored(d.db)
        # The new start, the marker that it continues a running instance (it reads RUNNING,
        # hazard 38), the three carried-over events and the late one.
        assert after.meta("h7") == {"inboxLength": 6, "historyLength": 0, "generation": 2}
        assert not any(k.startswith("history-") for k in after.workflow("h7"))

        gen2 = (await worker.turn("h7")).orchestratorRequest
        assert list(gen2.pastEvents) == []
        assert [e.WhichOneof("eventType") for e in gen2.newEvents] == [
            "orchestratorStarted", "executionStarted", *["eventRaised"] * 4]
        assert [e.eventRaised.name for e in gen2.newEvents[2:]] == ["a", "b", "c", "late"]
        worker.close()


# -- 8: continue-as-new loops and completions -----------------------------------------------


def test_hazard_08_continue_as_new_after_a_completion_is_ignored() -> None:
    wf = b.Instance(inbox=[b.started()])
    result = wf.turn(b.T0, b.complete(0, result='"done"'), b.complete(1, CAN, result='"x"'))
    assert not result.continued_as_new
    assert result.view.status is engine.RuntimeStatus.COMPLETED
    assert result.view.output == '"done"'
    assert b.kinds(result.history).count("executionCompleted") == 1


async def test_hazard_08_continue_as_new_loop_is_one_dispatch_per_generation(
        tmp_path: Path) -> None:
    # There is no loop inside the sidecar to bound: each generation is its own work item,
    # queued behind everyone else's, so an instance that always continues as new cannot
    # hog the daemon (durabletask-go needs its cap of 20 because it loops in place).
    async with daemon(tmp_path) as d:
        await d.client.start("loop")
        worker = d.worker()
        served_b_after: int | None = None
        for generation in range(1, 31):
            if generation == 5:
                await d.client.start("other")
            item = await worker.next(lambda i: i.HasField("orchestratorRequest"))
            request = item.orchestratorRequest
            if request.instanceId == "other":
                served_b_after = generation
                await worker.answer(item, b.complete(0))
                item = await worker.turn("loop")
                request = item.orchestratorRequest
            assert request.instanceId == "loop"
            if generation > 1:
                started = [e for e in request.newEvents if e.HasField("executionStarted")]
                assert started[0].executionStarted.input.value == f'"{generation}"'
            await worker.answer(item, b.complete(0, CAN, result=f'"{generation + 1}"'))
        assert (await stored(d.db)).meta("loop")["generation"] == 31
        assert served_b_after is not None and served_b_after <= 10
        await wait_status(d.client, "other", COMPLETED)
        worker.close()


# -- 9: terminate beats continue-as-new -----------------------------------------------------


def test_hazard_09_terminate_wins_over_continue_as_new_in_the_same_turn() -> None:
    wf = b.Instance(inbox=[b.started()])
    wf.turn(b.T0)
    wf.inbox = [engine.execution_terminated('"stop"', False, b.T0 + 10)]
    result = wf.turn(b.T0 + 20, b.schedule(1, "more"), b.complete(2, CAN, result='"again"'))
    assert not result.continued_as_new and wf.inbox == []
    assert result.view.status is engine.RuntimeStatus.TERMINATED
    assert result.outbox == []  # nothing of the void continue-as-new goes out
    assert "taskScheduled" not in b.kinds(result.history)


# -- 10: terminating a suspended instance ---------------------------------------------------


async def test_hazard_10_terminating_a_suspended_instance_reads_terminated(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h10")
        worker = d.worker()
        await worker.answer(await worker.turn("h10"))
        await d.client.call("SuspendInstance", pb.SuspendRequest(instanceId="h10"),
                            pb.SuspendResponse)
        await worker.answer(await worker.turn("h10"))
        await wait_status(d.client, "h10", SUSPENDED)
        await terminate(d.client, "h10")
        turn = await worker.turn("h10")
        assert "executionTerminated" in new_kinds(turn)
        await worker.answer(turn)  # an SDK suppresses every action while suspended
        await wait_status(d.client, "h10", TERMINATED)
        last = (await history(d.client, "h10"))[-1]
        assert last.executionCompleted.orchestrationStatus == TERMINATED
        worker.close()


# -- 11: events and timers while suspended --------------------------------------------------


async def test_hazard_11_events_while_suspended_are_durable_ordered_and_timers_keep_time(
        tmp_path: Path) -> None:
    clock = FakeClock()
    async with daemon(tmp_path, clock) as d:
        await d.client.start("h11")
        worker = d.worker()
        fire_at = clock.now_ms() + 10_000
        await worker.answer(await worker.turn("h11"), b.timer(0, fire_at))
        worker.close()  # no worker while it is suspended
        await d.client.call("SuspendInstance", pb.SuspendRequest(instanceId="h11"),
                            pb.SuspendResponse)
        for name in ("e1", "e2", "e3"):
            await raise_event(d.client, "h11", name)
        await d.restart()  # only what is in the file survives
        clock.advance(10)  # the timer is due during the suspension
        await wait_stored(d.db, lambda s: "timer-1-0" not in s.workflow_reminders("h11"))
        worker = d.worker()
        seen: list[pb.HistoryEvent] = []
        while "timerFired" not in [e.WhichOneof("eventType") for e in seen]:
            turn = await worker.turn("h11")
            seen += turn.orchestratorRequest.newEvents[1:]
            await worker.answer(turn)  # the SDK buffers while suspended
        await d.client.call("ResumeInstance", pb.ResumeRequest(instanceId="h11"),
                            pb.ResumeResponse)
        await worker.answer(await worker.turn("h11"))
        events = [e for e in await history(d.client, "h11")
                  if not e.HasField("orchestratorStarted")]
        assert kinds(events) == ["executionStarted", "timerCreated", "executionSuspended",
                                 "eventRaised", "eventRaised", "eventRaised", "timerFired",
                                 "executionResumed"]
        assert [e.eventRaised.name for e in events[3:6]] == ["e1", "e2", "e3"]
        assert events[6].timerFired.fireAt.ToMilliseconds() == fire_at
        await wait_status(d.client, "h11", RUNNING)
        worker.close()


# -- 12: recursive terminate ----------------------------------------------------------------


async def test_hazard_12_recursive_terminate_reaches_every_child_and_retries_delivery(
        tmp_path: Path) -> None:
    async with daemon(tmp_path, overrides={"reminders.retry_initial": 0.05}) as d:
        await d.client.start("p12", name="Parent")
        worker = d.worker()
        await worker.answer(await worker.turn("p12"), b.child(0, "Child", "c1"))
        await worker.answer(await worker.turn("c1"))
        await raise_event(d.client, "p12", "more")
        await worker.answer(await worker.turn("p12"), b.child(1, "Child", "c2"),
                            b.child(2, "Child", "c3"))
        await worker.answer(await worker.turn("c2"))
        await worker.answer(await worker.turn("c3"), b.complete(0, result='"early"'))
        await worker.answer(await worker.turn("p12"))  # it hears c3 completed
        await wait_status(d.client, "c3", COMPLETED)

        # The first delivery to c1 fails after the parent's terminal state is saved.
        d.app.store.fail_once(lambda c: bool(puts(c, WORKFLOW_ACTOR, "c1", "inbox-")))
        await terminate(d.client, "p12", recursive=True)
        await worker.answer(await worker.turn("p12"))
        await wait_status(d.client, "p12", TERMINATED)
        for child in ("c1", "c2"):
            turn = await worker.turn(child)
            assert "executionTerminated" in new_kinds(turn)
            await worker.answer(turn)
            await wait_status(d.client, child, TERMINATED)
        assert d.app.store._fail is None  # the failure did happen and was retried
        await wait_status(d.client, "c3", COMPLETED, within=0)
        worker.close()


# -- 13: recursive purge --------------------------------------------------------------------


async def test_hazard_13_recursive_purge_refuses_running_goes_children_first_cleans_all(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("p13", name="Parent")
        worker = d.worker()
        await worker.answer(await worker.turn("p13"), b.child(0, "Child", "a13"),
                            b.child(1, "Child", "b13"))
        far = 4_102_444_800_000  # 2100: a timer that will not fire during the test
        await worker.answer(await worker.turn("a13"), b.schedule(0, "work"), b.timer(1, far))
        await worker.answer(await worker.turn("b13"))
        await worker.activity("work")  # left running
        purge = pb.PurgeInstancesRequest(instanceId="p13", recursive=True)
        with pytest.raises(grpc.aio.AioRpcError) as running:
            await d.client.call("PurgeInstances", purge, pb.PurgeInstancesResponse)
        assert running.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        before = await stored(d.db)
        assert all(before.everything_of(i) for i in ("p13", "a13", "b13"))

        await terminate(d.client, "p13", recursive=True)
        await worker.answer(await worker.turn("p13"))
        for child in ("a13", "b13"):
            await worker.answer(await worker.turn(child))
            await wait_status(d.client, child, TERMINATED)
        # Purging b13 fails: a13 is gone by then, the parent must still be there.
        d.app.store.fail_once(lambda c: deletes_actor(c, WORKFLOW_ACTOR, "b13"))
        with pytest.raises(grpc.aio.AioRpcError):
            await d.client.call("PurgeInstances", purge, pb.PurgeInstancesResponse)
        partial = await stored(d.db)
        assert partial.everything_of("a13") == [] and partial.everything_of("b13")
        assert partial.everything_of("p13")
        rest = await d.client.call("PurgeInstances", purge, pb.PurgeInstancesResponse)
        assert rest.deletedInstanceCount == 2  # b13 and p13: what this call deleted
        final = await stored(d.db)
        # Every key and reminder is gone: activity actor a13#0, a13's timer, the rest.
        assert [final.everything_of(i) for i in ("p13", "a13", "b13")] == [[], [], []]
        worker.close()


# -- 14: re-creating an instance id -----------------------------------------------------------


async def test_hazard_14_recreate_only_when_terminal_and_old_generation_is_rejected(
        tmp_path: Path) -> None:
    clock = FakeClock()
    async with daemon(tmp_path, clock) as d:
        await d.client.start("h14")
        worker = d.worker()
        t0 = clock.now_ms()
        await worker.answer(await worker.turn("h14"), b.schedule(0, "old"),
                            b.timer(1, t0 + 10_000))
        old = await worker.activity("old")
        with pytest.raises(grpc.aio.AioRpcError) as active:
            await d.client.start("h14")
        assert active.value.code() == grpc.StatusCode.ALREADY_EXISTS
        await terminate(d.client, "h14")
        await worker.answer(await worker.turn("h14"))
        await wait_status(d.client, "h14", TERMINATED)

        await d.client.start("h14")  # terminal: may be replaced
        assert (await stored(d.db)).meta("h14")["generation"] == 2
        await worker.answer(await worker.turn("h14"), b.schedule(0, "new"),
                            b.timer(1, t0 + 60_000))
        new = await worker.activity("new")
        # Generation 1's leftovers arrive: its timer 1 (if its reminder survived) and its
        # task 0's result. Both ids are live in generation 2.
        await set_reminder(d, WORKFLOW_ACTOR, "h14", "timer-1-1",
                           engine.timer_fired(1, t0 + 10_000, t0 + 10_000), t0 + 10_000)
        clock.advance(10)
        await wait_stored(d.db, lambda s: "timer-1-1" not in s.workflow_reminders("h14"))
        await worker.finish(old, '"generation 1"')
        await worker.finish(new, '"generation 2"')
        turn = await worker.turn("h14")
        assert new_kinds(turn) == ["orchestratorStarted", "taskCompleted"]
        assert turn.orchestratorRequest.newEvents[1].taskCompleted.result.value == \
            '"generation 2"'
        worker.close()


# -- 15: a re-sent child creation -------------------------------------------------------------


async def test_hazard_15_child_creation_is_idempotent(tmp_path: Path) -> None:
    async with daemon(tmp_path, overrides={"work_items.redispatch_initial": 0.05}) as d:
        await d.client.start("p15", name="Parent")
        worker = d.worker()
        turn = await worker.turn("p15")
        # The parent's save fails: the child must not exist, and the retried turn then
        # creates it exactly once.
        d.app.store.fail_once(lambda c: bool(puts(c, WORKFLOW_ACTOR, "p15", "history-")))
        with pytest.raises(grpc.aio.AioRpcError):
            await worker.answer(turn, b.child(0, "Child", "c15"))
        assert (await stored(d.db)).everything_of("c15") == []
        await worker.answer_until_accepted("p15", b.child(0, "Child", "c15"))
        child_turn = await worker.turn("c15")
        await worker.answer(child_turn)
        started = next(e for e in child_turn.orchestratorRequest.newEvents
                       if e.HasField("executionStarted"))

        # The creation message delivered again, while the child runs and after it is done:
        # neither restarts it nor disturbs the parent.
        for attempt in range(2):
            name = f"evt-dapr-dup{attempt}"
            await set_reminder(d, WORKFLOW_ACTOR, "c15", name, started)
            await wait_stored(d.db, lambda s: not any(n.startswith("evt-dapr-dup")
                                                      for n in s.workflow_reminders("c15")))
            assert (await stored(d.db)).meta("c15")["generation"] == 1
            if attempt == 0:
                await raise_event(d.client, "c15", "finish")
                await worker.answer(await worker.turn("c15"), b.complete(1, result='"c"'))
                await wait_status(d.client, "c15", COMPLETED)
                # (a superseded dispatch of the failed turn may still be buffered: skip it)
                done = await worker.next(lambda i: i.orchestratorRequest.instanceId == "p15"
                                         and "subOrchestrationInstanceCompleted" in
                                         new_kinds(i))
                assert new_kinds(done)[1:] == ["subOrchestrationInstanceCompleted"]
                await worker.answer(done, b.complete(1, result='"p"'))
        await wait_status(d.client, "c15", COMPLETED, within=0)
        await wait_status(d.client, "p15", COMPLETED)
        assert kinds(await history(d.client, "c15")).count("executionStarted") == 1
        parent = kinds(await history(d.client, "p15"))
        assert parent.count("subOrchestrationInstanceCreated") == 1
        assert parent.count("subOrchestrationInstanceCompleted") == 1
        worker.close()


# -- 16: side effects commit with the turn ----------------------------------------------------


async def test_hazard_16_effects_are_committed_with_the_turn_or_not_at_all(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("t16")
        worker = d.worker()
        await worker.answer(await worker.turn("t16"))
        await d.client.start("h16")
        turn = await worker.turn("h16")
        effects = (b.schedule(0, "act"), b.timer(1, 4_102_444_800_000),
                   b.child(2, "Child", "c16"), b.send(3, "t16", "ping"))
        d.app.store.crash_on(lambda c: bool(puts(c, WORKFLOW_ACTOR, "h16", "history-")))
        with pytest.raises(grpc.aio.AioRpcError):
            await worker.answer(turn, *effects)
        await d.restart()
        lost = await stored(d.db)
        assert lost.everything_of("c16") == [] and lost.activity("h16#0") == {}
        assert lost.meta("t16")["inboxLength"] == 0
        assert not any(n.startswith("timer-") for n in lost.workflow_reminders("h16"))

        worker = d.worker()  # the turn is dispatched again after the restart
        await worker.answer(await worker.turn("h16"), *effects)
        commit = next(c for c in d.app.store.commits
                      if puts(c, WORKFLOW_ACTOR, "h16", "history-"))
        assert puts(commit, ACTIVITY_ACTOR, "h16#0", "activityreq-") == ["activityreq-1"]
        assert sets_reminder(commit, WORKFLOW_ACTOR, "h16", "timer-1-1")
        assert sets_reminder(commit, WORKFLOW_ACTOR, "c16", "evt-")
        assert sets_reminder(commit, WORKFLOW_ACTOR, "t16", "evt-")
        await worker.answer(await worker.turn("c16"))
        ping = await worker.turn("t16")
        assert [e.eventRaised.name for e in ping.orchestratorRequest.newEvents[1:]] == ["ping"]
        assert (await worker.activity("act")).activityRequest.taskId == 0
        assert (await stored(d.db)).meta("c16")["generation"] == 1
        worker.close()


# -- 17: the inbox event before its wake-up -------------------------------------------------


async def test_hazard_17_raised_event_is_durable_before_the_call_returns(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h17")
        worker = d.worker()
        await worker.answer(await worker.turn("h17"))
        worker.close()
        await raise_event(d.client, "h17", "kept")
        d.app.store.crash_on(lambda c: True)  # dies the moment the call has returned
        await d.restart()
        worker = d.worker()
        turn = await worker.turn("h17")
        assert [e.eventRaised.name for e in turn.orchestratorRequest.newEvents[1:]] == ["kept"]
        worker.close()


async def test_hazard_17_message_reminder_is_acknowledged_only_with_the_inbox_write(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("t17")
        await d.client.start("s17")
        worker = d.worker()
        await worker.answer(await worker.turn("t17"))
        d.app.store.crash_on(lambda c: bool(puts(c, WORKFLOW_ACTOR, "t17", "inbox-")))
        await worker.answer(await worker.turn("s17"), b.send(0, "t17", "hello"))
        await wait_stored(d.db, lambda s: any(n.startswith("evt-")
                                              for n in s.workflow_reminders("t17")))
        await d.restart()  # the delivery crashed: the message reminder must still be there
        worker = d.worker()
        turn = await worker.turn("t17")
        assert [e.eventRaised.name for e in turn.orchestratorRequest.newEvents[1:]] == [
            "hello"]
        await worker.answer(turn)
        after = await stored(d.db)
        assert not any(n.startswith("evt-") for n in after.workflow_reminders("t17"))
        worker.close()


# -- 18: an inbox event without its wake-up ---------------------------------------------------


async def test_hazard_18_no_commit_writes_an_inbox_event_without_its_wake_up(
        tmp_path: Path) -> None:
    clock = FakeClock()
    async with daemon(tmp_path, clock) as d:
        await d.client.start("h18", name="Parent")
        worker = d.worker()
        await worker.answer(await worker.turn("h18"), b.schedule(0, "act"),
                            b.timer(1, clock.now_ms() + 1000), b.child(2, "Child", "c18"))
        await worker.answer(await worker.turn("c18"), b.send(0, "h18", "hi"),
                            b.complete(1, result='"c"'))
        await worker.finish(await worker.activity("act"), '"a"')
        await raise_event(d.client, "h18", "ext")
        clock.advance(1)
        seen: list[str | None] = []
        while len([k for k in seen if k != "orchestratorStarted"]) < 5:
            turn = await worker.turn("h18")
            seen += new_kinds(turn)
            await worker.answer(turn)
        assert d.app.store.commits
        assert inbox_writes_without_wake_up(d.app.store.commits) == []

        # And a failed save of an event leaves neither the event nor a wake-up behind.
        d.app.store.crash_on(lambda c: bool(puts(c, WORKFLOW_ACTOR, "h18", "inbox-")))
        with pytest.raises(grpc.aio.AioRpcError):
            await raise_event(d.client, "h18", "lost")
        await d.restart()
        after = await stored(d.db)
        assert after.meta("h18")["inboxLength"] == 0 and "run" not in \
            after.workflow_reminders("h18")
        worker.close()


# -- 19: the activity result before its acknowledgement ---------------------------------------


async def test_hazard_19_unsaved_activity_result_is_not_acknowledged_and_reruns(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h19")
        worker = d.worker()
        await worker.answer(await worker.turn("h19"), b.schedule(0, "act"))
        first = await worker.activity("act")
        d.app.store.crash_on(lambda c: bool(puts(c, WORKFLOW_ACTOR, "h19", "inbox-")))
        with pytest.raises(grpc.aio.AioRpcError):  # the worker learns it was not taken
            await worker.finish(first, '"first run"')
        await d.restart()
        worker = d.worker()
        again = await worker.activity("act")  # executed again, not lost
        await worker.finish(again, '"second run"')
        turn = await worker.turn("h19")
        assert results(turn.orchestratorRequest.newEvents, "taskCompleted") == [
            '"second run"']
        worker.close()


# -- 20: activities may run twice ---------------------------------------------------------------


async def test_hazard_20_redelivery_keeps_the_idempotency_key_and_is_deduped_locally(
        tmp_path: Path) -> None:
    async with daemon(tmp_path) as d:
        await d.client.start("h20")
        worker = d.worker()
        await worker.answer(await worker.turn("h20"),
                            b.schedule(0, "act", task_execution_id="tx-1"))
        first = await worker.activity("act")
        assert first.activityRequest.taskExecutionId == "tx-1"

        # The activity's reminder fires again while it runs: no second dispatch.
        async def refire(actor: object, ctx: TurnContext) -> ReminderResult:
            assert isinstance(actor, ActivityActor)
            return await actor.on_reminder(ctx, "run-activity", b"1:dapr")

        assert d.app.runtime is not None
        result = await d.app.runtime.turn(ActorRef(ACTIVITY_ACTOR, "h20#0"), refire)
        assert result is ReminderResult.PARK
        await d.client.start("probe20")  # queued after any duplicate would have been
        assert (await worker.next()).orchestratorRequest.instanceId == "probe20"

        worker.close()  # stream churn: the activity goes out again
        worker = d.worker()
        second = await worker.activity("act")
        assert second.activityRequest.taskExecutionId == "tx-1"
        assert second.completionToken != first.completionToken
        await worker.finish(second, '"once"')
        turn = await worker.turn("h20")
        done = [e for e in turn.orchestratorRequest.newEvents if e.HasField("taskCompleted")]
        assert [e.taskCompleted.taskExecutionId for e in done] == ["tx-1"]
        worker.close()
