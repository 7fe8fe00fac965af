"""apply_response: each action row of protocol.md §5.2 and the turn rules of engine.md §1."""

from __future__ import annotations

import pytest

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import RuntimeStatus
from wfsidecar.errors import InvalidArgumentError

from .builders import (
    APP,
    T0,
    Instance,
    child,
    complete,
    kinds,
    response,
    schedule,
    send,
    started,
    terminate,
    timer,
    version_not_available,
    view_of,
)


def test_timer_created_and_fired() -> None:
    wf = Instance(inbox=[started()])
    result = wf.turn(T0, timer(3, T0 + 60_000, name="nap"))
    created = result.history[-1]
    assert created.eventId == 3 and created.timerCreated.name == "nap"
    assert created.timerCreated.fireAt.ToMilliseconds() == T0 + 60_000
    (item,) = result.outbox
    assert isinstance(item, engine.ScheduleTimer)
    assert (item.timer_id, item.fire_at_ms) == (3, T0 + 60_000)
    assert item.fired.eventId == -1 and item.fired.timerFired.timerId == 3
    assert item.fired.timerFired.fireAt == created.timerCreated.fireAt


def test_sub_orchestration_default_id_and_parent_link() -> None:
    wf = Instance(inbox=[started()])
    result = wf.turn(T0, child(10, "Child", input='"c"'), child(11, "Child", instance_id="mine"))
    first, second = result.history[-2:]
    assert first.eventId == 10 and first.subOrchestrationInstanceCreated.instanceId == "wf:000a"
    assert first.subOrchestrationInstanceCreated.input.value == '"c"'
    assert first.router.sourceAppID == APP
    assert second.subOrchestrationInstanceCreated.instanceId == "mine"
    start_a, start_b = result.outbox
    assert isinstance(start_a, engine.StartChild) and isinstance(start_b, engine.StartChild)
    assert (start_a.instance_id, start_b.instance_id) == ("wf:000a", "mine")
    es = start_a.started.executionStarted
    assert (es.name, es.input.value) == ("Child", '"c"')
    assert es.orchestrationInstance.instanceId == "wf:000a"
    assert es.orchestrationInstance.executionId.value == "exec-2"  # fresh execution id
    assert es.parentInstance.taskScheduledId == 10
    assert es.parentInstance.name.value == "Flow" and es.parentInstance.appID == APP
    assert es.parentInstance.orchestrationInstance.instanceId == "wf"
    assert es.parentInstance.orchestrationInstance.executionId.value == "exec-1"
    assert start_a.started.router.sourceAppID == APP  # the child's SDK learns its app id
    assert result.view.child_instance_ids == ("wf:000a", "mine")


def _child_instance() -> Instance:
    parent = pb.ParentInstanceInfo(taskScheduledId=4)
    parent.orchestrationInstance.instanceId = "papa"
    return Instance(instance_id="kid", inbox=[started("kid", parent=parent)])


def test_child_completion_notifies_the_parent() -> None:
    kid = _child_instance()
    result = kid.turn(T0, complete(0, result='"r"'))
    (note,) = result.outbox
    assert isinstance(note, engine.NotifyParent) and note.instance_id == "papa"
    assert note.event.subOrchestrationInstanceCompleted.taskScheduledId == 4
    assert note.event.subOrchestrationInstanceCompleted.result.value == '"r"'


def test_child_failure_forwards_the_failure_details() -> None:
    kid = _child_instance()
    failure = pb.TaskFailureDetails(errorType="ValueError", errorMessage="bad")
    result = kid.turn(T0, complete(2, pb.ORCHESTRATION_STATUS_FAILED, failure=failure))
    assert result.history[-1].eventId == 2  # ExecutionCompleted carries the action id
    assert result.view.status is RuntimeStatus.FAILED and result.view.failure == failure
    (note,) = result.outbox
    assert isinstance(note, engine.NotifyParent)
    assert note.event.subOrchestrationInstanceFailed.taskScheduledId == 4
    assert note.event.subOrchestrationInstanceFailed.failureDetails == failure


def test_terminated_child_reports_failed_with_synthetic_details() -> None:
    kid = _child_instance()
    kid.inbox.append(engine.execution_terminated('"stop"', False, T0))
    result = kid.turn(T0, complete(0, pb.ORCHESTRATION_STATUS_TERMINATED, result='"stop"'))
    assert result.view.status is RuntimeStatus.TERMINATED and result.view.output == '"stop"'
    (note,) = result.outbox
    assert isinstance(note, engine.NotifyParent)
    details = note.event.subOrchestrationInstanceFailed.failureDetails
    assert details.errorType and "TERMINATED" in details.errorMessage


def _parent_with_children() -> Instance:
    wf = Instance(inbox=[started()])
    wf.turn(T0, child(0, "C"), child(1, "C"))
    wf.inbox = [engine.task_completed(5, "x", T0)]  # stale, dropped: keeps the test honest
    wf.inbox.append(engine.event_raised("go", None, T0 + 1))
    wf.turn(T0 + 1, child(2, "C", instance_id="wf:0000"), child(3, "C"))  # id reused
    return wf


def test_recursive_terminate_cascades_to_every_child() -> None:
    wf = _parent_with_children()
    wf.inbox = [engine.execution_terminated('"why"', True, T0 + 2)]
    result = wf.turn(T0 + 3, complete(4, pb.ORCHESTRATION_STATUS_TERMINATED, result='"why"'))
    assert result.view.status is RuntimeStatus.TERMINATED
    targets = [(o.instance_id, o.event.executionTerminated.recurse,
                o.event.executionTerminated.input.value)
               for o in result.outbox if isinstance(o, engine.TerminateInstance)]
    assert targets == [("wf:0000", True, '"why"'), ("wf:0001", True, '"why"'),
                       ("wf:0003", True, '"why"')]


def test_non_recursive_terminate_leaves_children_alone() -> None:
    wf = _parent_with_children()
    wf.inbox = [engine.execution_terminated('"why"', False, T0 + 2)]
    result = wf.turn(T0 + 3, complete(4, pb.ORCHESTRATION_STATUS_TERMINATED, result='"why"'))
    assert result.view.status is RuntimeStatus.TERMINATED and result.outbox == []


def test_terminate_is_forced_when_the_worker_ignores_it() -> None:
    # An SDK that suppresses actions while suspended answers with nothing (hazard 10).
    wf = Instance(inbox=[started(), engine.execution_suspended(None, T0)])
    wf.turn(T0, child(0, "C"))
    assert view_of(wf.history).status is RuntimeStatus.SUSPENDED
    wf.inbox = [engine.execution_terminated('"stop"', True, T0 + 1)]
    result = wf.turn(T0 + 2, schedule(1, "ignored"))
    assert result.view.status is RuntimeStatus.TERMINATED and result.view.output == '"stop"'
    assert kinds(result.history)[-1] == "executionCompleted"
    assert "taskScheduled" not in kinds(result.history)
    assert [type(o) for o in result.outbox] == [engine.TerminateInstance]


def test_terminate_wins_over_continue_as_new() -> None:
    wf = Instance(inbox=[started(), engine.execution_terminated(None, False, T0)])
    result = wf.turn(T0 + 1, complete(0, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, '"2"'))
    assert not result.continued_as_new and result.next_inbox == []
    assert result.view.status is RuntimeStatus.TERMINATED


def test_terminate_action_only_sends_a_message() -> None:
    wf = Instance(inbox=[started()])
    result = wf.turn(T0, terminate(0, "other", reason='"r"', recurse=True))
    assert kinds(result.history) == ["orchestratorStarted", "executionStarted"]
    (item,) = result.outbox
    assert isinstance(item, engine.TerminateInstance) and item.instance_id == "other"
    assert item.event.executionTerminated.input.value == '"r"'
    assert item.event.executionTerminated.recurse


def test_send_event_records_event_sent_and_delivers_event_raised() -> None:
    wf = Instance(inbox=[started()])
    result = wf.turn(T0, send(2, "peer", "ping", '"hi"'))
    sent = result.history[-1]
    assert sent.eventId == 2 and sent.eventSent.instanceId == "peer"
    assert (sent.eventSent.name, sent.eventSent.input.value) == ("ping", '"hi"')
    (item,) = result.outbox
    assert isinstance(item, engine.DeliverEvent) and item.instance_id == "peer"
    assert item.event.eventId == -1 and item.event.eventRaised.name == "ping"
    assert item.event.eventRaised.input.value == '"hi"'


def test_version_not_available_stalls_until_the_next_event() -> None:
    wf = Instance(inbox=[started()])
    result = wf.turn(T0, version_not_available(0))
    assert result.view.status is RuntimeStatus.STALLED
    assert result.view.stall_reason == "Version not available: Flow"
    stalled = result.history[-1].executionStalled
    assert stalled.reason == pb.VERSION_NOT_AVAILABLE and result.outbox == []
    wf.inbox = [engine.event_raised("retry", None, T0 + 1)]
    assert wf.turn(T0 + 2, schedule(0, "act")).view.status is RuntimeStatus.RUNNING


def test_custom_status_and_version_are_recorded() -> None:
    wf = Instance(inbox=[started()])
    version = pb.OrchestrationVersion(name="v2", patches=["p1"])
    turn = engine.begin_turn(wf.history, wf.inbox, T0)
    assert turn is not None
    resp = response(custom_status='"busy"')
    resp.version.CopyFrom(version)
    result = engine.apply_response("wf", turn, resp, T0, new_execution_id=lambda: "n")
    assert result.custom_status == '"busy"'
    assert result.history[0].orchestratorStarted.version == version
    assert not turn.new[0].orchestratorStarted.HasField("version")  # the turn is not mutated
    wf.history, wf.inbox = result.history, [engine.event_raised("e", None, T0)]
    assert wf.turn(T0 + 1).custom_status is None  # absent means cleared, like go


def test_ms_style_repeated_action_id_is_accepted() -> None:
    wf = Instance(inbox=[started()])
    wf.turn(T0, schedule(0, "flaky"))
    wf.inbox = [engine.task_failed(0, pb.TaskFailureDetails(errorMessage="x"), T0 + 1)]
    wf.turn(T0 + 1, timer(1, T0 + 2))
    wf.inbox = [engine.timer_fired(1, T0 + 2, T0 + 2)]
    result = wf.turn(T0 + 2, schedule(0, "flaky"))  # the retry reuses id 0
    assert [e.eventId for e in result.history if e.HasField("taskScheduled")] == [0, 0]
    assert isinstance(result.outbox[0], engine.ScheduleActivity)
    wf.inbox = [engine.task_completed(0, '"ok"', T0 + 3)]
    assert wf.turn(T0 + 3, complete(2, result='"ok"')).view.output == '"ok"'


def test_actions_after_a_completion_are_ignored() -> None:
    wf = Instance(inbox=[started()])
    result = wf.turn(T0, complete(0, result='"a"'), schedule(1, "late"),
                     complete(2, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, '"b"'))
    assert not result.continued_as_new and result.outbox == []
    assert result.view.output == '"a"' and kinds(result.history)[-1] == "executionCompleted"


@pytest.mark.parametrize(("action", "message"), [
    (pb.OrchestratorAction(id=1), "no action kind"),
    (complete(1, pb.ORCHESTRATION_STATUS_RUNNING), "has status 0"),
    (complete(1, 42), "has status 42"),
    (schedule(1, ""), "no activity name"),
    (child(1, ""), "no orchestrator name"),
    (pb.OrchestratorAction(id=1, createTimer=pb.CreateTimerAction()), "no fireAt"),
    (send(1, "", "e"), "target instance id"),
    (terminate(1, ""), "no target instance id"),
    (pb.OrchestratorAction(id=1, sendEntityMessage=pb.SendEntityMessageAction()),
     "is empty"),
])
def test_malformed_responses_are_invalid_argument(action: pb.OrchestratorAction,
                                                  message: str) -> None:
    turn = engine.begin_turn([], [started()], T0)
    assert turn is not None
    with pytest.raises(InvalidArgumentError, match=message):
        engine.apply_response("wf", turn, response(action), T0, new_execution_id=lambda: "n")


def test_response_for_another_instance_is_rejected() -> None:
    turn = engine.begin_turn([], [started()], T0)
    assert turn is not None
    with pytest.raises(InvalidArgumentError, match="not 'wf'"):
        engine.apply_response("wf", turn, response(instance_id="zz"), T0,
                              new_execution_id=lambda: "n")


def test_timer_origin_and_propagation_scope_are_copied() -> None:
    action = timer(0, T0 + 5)
    action.createTimer.activityRetry.taskExecutionId = "te-9"
    task = schedule(1, "act")
    task.scheduleTask.historyPropagationScope = pb.HISTORY_PROPAGATION_SCOPE_LINEAGE
    result = Instance(inbox=[started()]).turn(T0, action, task, schedule(2, "plain"))
    created, scheduled, plain = result.history[-3:]
    assert created.timerCreated.activityRetry.taskExecutionId == "te-9"
    assert scheduled.taskScheduled.historyPropagationScope == \
        pb.HISTORY_PROPAGATION_SCOPE_LINEAGE
    assert not plain.taskScheduled.HasField("historyPropagationScope")


def test_detached_workflow_has_no_parent_link() -> None:
    action = pb.OrchestratorAction(id=6)
    detached = action.createDetachedWorkflow
    detached.instanceId, detached.name = "free", "Other"
    detached.input.value = '"d"'
    detached.tags["team"] = "x"
    result = Instance(inbox=[started()]).turn(T0, action)
    record = result.history[-1]
    assert record.eventId == 6 and record.detachedWorkflowInstanceCreated.instanceId == "free"
    (item,) = result.outbox
    assert isinstance(item, engine.StartChild) and item.instance_id == "free"
    es = item.started.executionStarted
    assert (es.name, es.input.value, dict(es.tags)) == ("Other", '"d"', {"team": "x"})
    assert not es.HasField("parentInstance") and item.started.router.sourceAppID == APP
    assert result.view.child_instance_ids == ()  # not a child: no cascade, no purge
