"""Continue-as-new: protocol.md §5.2 row 6, engine.md §1.4 and hazards 6-9."""

from __future__ import annotations

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import RuntimeStatus

from .builders import APP, T0, Instance, complete, kinds, schedule, send, started

CAN = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW


def _child_of_papa() -> Instance:
    parent = pb.ParentInstanceInfo(taskScheduledId=2)
    parent.orchestrationInstance.instanceId = "papa"
    return Instance(inbox=[started(parent=parent)])


def test_new_generation_inbox() -> None:
    wf = _child_of_papa()
    carry = [engine.event_raised("e1", '"a"', T0), engine.event_raised("e2", None, T0)]
    result = wf.turn(T0 + 5, complete(0, CAN, result='"1"', carryover=carry, new_version="v2"))
    assert result.continued_as_new and result.history == []
    new_start, *rest = result.next_inbox
    assert rest == carry  # carry-over events keep their order (hazard 7)
    es = new_start.executionStarted
    assert (es.name, es.input.value, es.version.value) == ("Flow", '"1"', "v2")
    assert es.orchestrationInstance.instanceId == "wf"
    assert es.orchestrationInstance.executionId.value == "exec-2"
    assert es.parentInstance.orchestrationInstance.instanceId == "papa"
    assert es.parentInstance.taskScheduledId == 2
    assert new_start.router.sourceAppID == APP
    assert result.outbox == []  # no parent notification for continue-as-new
    view = result.view
    assert (view.status, view.execution_id, view.input) == (RuntimeStatus.RUNNING, "exec-2",
                                                          '"1"')
    assert view.output is None and view.completed_ms is None


def test_version_is_kept_without_new_version() -> None:
    wf = Instance(inbox=[engine.execution_started(
        name="Flow", instance_id="wf", execution_id="e1", input=None, version="v1",
        now_ms=T0)])
    result = wf.turn(T0, complete(0, CAN, result='"1"'))
    assert result.next_inbox[0].executionStarted.version.value == "v1"


def test_messages_before_it_are_sent_but_own_tasks_are_not() -> None:
    wf = Instance(inbox=[started()])
    result = wf.turn(T0, schedule(0, "act"), send(1, "peer", "bye"),
                     complete(2, CAN, result='"1"'))
    assert result.continued_as_new
    # Task ids restart at 0 in the next generation: a result for this activity would be
    # taken for the next generation's task 0 (hazard 6), so only the message survives.
    assert [type(o) for o in result.outbox] == [engine.DeliverEvent]
    assert result.outbox[0].instance_id == "peer"


def test_next_generation_runs_from_next_inbox() -> None:
    wf = Instance(inbox=[started()])
    wf.turn(T0, schedule(0, "act"))
    wf.inbox = [engine.task_completed(0, '"r"', T0)]
    first = wf.turn(T0, complete(1, CAN, result='"1"',
                                 carryover=[engine.event_raised("kept", None, T0)]))
    old_marker = max(e.timestamp.ToMilliseconds() for e in first.next_inbox)
    late = engine.task_completed(0, '"old"', T0)  # result from the previous generation
    wf.inbox.append(late)
    turn = engine.begin_turn(wf.history, wf.inbox, T0)  # the clock did not move
    assert turn is not None
    assert kinds(turn.new) == ["orchestratorStarted", "executionStarted", "eventRaised"]
    assert turn.dropped == 1
    assert turn.new[0].timestamp.ToMilliseconds() >= old_marker > T0 + 1  # strictly later
    second = wf.turn(T0, schedule(0, "act"))
    assert [e.eventId for e in second.history] == [-1, -1, -1, 0]
    assert second.view.execution_id == "exec-2" and second.view.input == '"1"'


def test_entity_unlocks_before_it_are_sent() -> None:
    # The MS SDK releases a critical section's locks in the same response as the
    # continue-as-new (protocol.md §5.2 row 6, "Caution").
    wf = Instance(inbox=[started()])
    unlock = pb.OrchestratorAction(id=0)
    sent = unlock.sendEntityMessage.entityUnlockSent
    sent.criticalSectionId = "cs"
    sent.targetInstanceId.value = "@counter@k"
    result = wf.turn(T0, unlock, complete(1, CAN, result='"1"'))
    assert [type(o) for o in result.outbox] == [engine.MessageEntity]
    assert result.outbox[0].entity_id == "@counter@k"
