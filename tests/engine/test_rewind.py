"""RewindInstance: the exact worker contract and what the server does with the answer."""

from __future__ import annotations

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import history as h
from wfsidecar.engine import rewind

from .builders import T0, Instance, child, complete, kinds, schedule, started, timer


def failed_parent() -> Instance:
    wf = Instance(inbox=[started()])
    wf.turn(T0 + 1, schedule(0, "ok"), child(1, "Child", "wf-child"))
    done = engine.task_completed(0, "1", T0 + 2)
    failure = pb.TaskFailureDetails(errorType="ValueError", errorMessage="boom")
    child_failed = engine.sub_orchestration_failed(1, failure, T0 + 3)
    wf.inbox = [done, child_failed]
    wf.turn(T0 + 4, complete(2, pb.ORCHESTRATION_STATUS_FAILED, failure=failure))
    return wf


def rewind_response(new_history: list[pb.HistoryEvent]) -> pb.OrchestratorResponse:
    action = pb.OrchestratorAction(id=-1)
    action.rewindOrchestration.newHistory.extend(new_history)
    return pb.OrchestratorResponse(instanceId="wf", actions=[action])


def test_worker_sees_exactly_started_and_rewound_with_the_old_completion() -> None:
    wf = failed_parent()
    assert engine.begin_turn(wf.history, [], T0 + 10) is None  # failed: closed
    request = rewind.execution_rewound("retry", T0 + 10)
    turn = engine.begin_turn(wf.history, [request], T0 + 10)
    assert turn is not None
    assert kinds(turn.new) == ["orchestratorStarted", "executionRewound"]
    assert kinds(turn.past)[-1] == "executionCompleted"  # the SDK needs to see it


def test_new_history_replaces_and_failed_children_are_rewound() -> None:
    wf = failed_parent()
    turn = engine.begin_turn(wf.history, [rewind.execution_rewound(None, T0 + 10)], T0 + 10)
    assert turn is not None
    keep = [e for e in wf.history if not e.HasField("subOrchestrationInstanceFailed")
            and not e.HasField("executionCompleted")]
    result = engine.apply_response("wf", turn, rewind_response(keep), T0 + 11,
                                   new_execution_id=lambda: "exec-2")
    assert result.history == keep
    assert result.view.status is engine.RuntimeStatus.RUNNING
    assert [(o.instance_id, o.event.WhichOneof("eventType")) for o in result.outbox
            if isinstance(o, engine.DeliverEvent)] == [("wf-child", "executionRewound")]
    [sent] = [o.event.executionRewound for o in result.outbox
              if isinstance(o, engine.DeliverEvent)]
    assert sent.parentExecutionId.value == result.view.execution_id
    # The follow-up turn shows the worker nothing new but OrchestratorStarted.
    assert [rewind.is_replay_marker(e) for e in result.next_inbox] == [True]
    replay = engine.begin_turn(result.history, result.next_inbox, T0 + 12)
    assert replay is not None and kinds(replay.new) == ["orchestratorStarted"]


def test_rewind_of_a_completed_instance_does_not_reopen_it() -> None:
    wf = Instance(inbox=[started()])
    wf.turn(T0 + 1, complete(0, result='"done"'))
    assert engine.begin_turn(wf.history, [rewind.execution_rewound(None, T0 + 2)],
                             T0 + 2) is None


def test_rewind_re_arms_timers_the_failure_dropped() -> None:
    # A failed instance keeps no timer reminders (they are deleted when it ends), so the
    # reopened instance must schedule its unfired timers again or wait on them forever.
    wf = Instance(inbox=[started()])
    wf.turn(T0 + 1, schedule(0, "boom"), timer(1, T0 + 60_000), timer(2, T0 + 5))
    failure = pb.TaskFailureDetails(errorType="ValueError", errorMessage="boom")
    wf.inbox = [engine.task_failed(0, failure, T0 + 2), h.timer_fired(2, T0 + 5, T0 + 6)]
    wf.turn(T0 + 7, complete(3, pb.ORCHESTRATION_STATUS_FAILED, failure=failure))
    turn = engine.begin_turn(wf.history, [rewind.execution_rewound(None, T0 + 10)], T0 + 10)
    assert turn is not None
    keep = [e for e in wf.history if not e.HasField("taskFailed")
            and not e.HasField("executionCompleted")]
    result = engine.apply_response("wf", turn, rewind_response(keep), T0 + 11,
                                   new_execution_id=lambda: "exec-2")
    timers = [o for o in result.outbox if isinstance(o, engine.ScheduleTimer)]
    assert [(t.timer_id, t.fire_at_ms) for t in timers] == [(1, T0 + 60_000)]  # 2 fired
    assert timers[0].fired.timerFired.timerId == 1


def test_a_purged_child_is_created_again_from_what_its_rewind_carries() -> None:
    # The parent's rewind carries the child's original creation and a parent link to the
    # parent's new run, so a child purged since it failed can be started again.
    wf = failed_parent()
    turn = engine.begin_turn(wf.history, [rewind.execution_rewound(None, T0 + 10)], T0 + 10)
    assert turn is not None
    keep = [e for e in wf.history if not e.HasField("subOrchestrationInstanceFailed")
            and not e.HasField("executionCompleted")]
    at = next(i for i, e in enumerate(keep) if e.HasField("executionStarted"))
    rerun = pb.HistoryEvent()
    rerun.CopyFrom(keep[at])  # the SDK gives the rewound run a new execution id
    rerun.executionStarted.orchestrationInstance.executionId.value = "parent-run-2"
    keep[at] = rerun
    result = engine.apply_response("wf", turn, rewind_response(keep), T0 + 11,
                                   new_execution_id=lambda: "unused")
    [message] = [o.event for o in result.outbox if isinstance(o, engine.DeliverEvent)]
    again = rewind.recreated_child(message, "child-run-2", T0 + 12)
    assert again is not None
    es = again.executionStarted
    [created] = [e for e in wf.history if e.HasField("subOrchestrationInstanceCreated")]
    assert (es.name, es.orchestrationInstance.instanceId, es.input.value) == (
        "Child", "wf-child", created.subOrchestrationInstanceCreated.input.value)
    assert es.orchestrationInstance.executionId.value == "child-run-2"
    parent = es.parentInstance
    assert (parent.taskScheduledId, parent.name.value) == (created.eventId, "Flow")
    assert parent.orchestrationInstance.instanceId == "wf"
    assert parent.orchestrationInstance.executionId.value == "parent-run-2"
    # A client's RewindInstance carries no creation: nothing to create from it.
    assert rewind.recreated_child(rewind.execution_rewound("why", T0), "x", T0) is None
