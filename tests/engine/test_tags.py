"""Microsoft tags and trace context ride from actions to events and work items."""

from __future__ import annotations

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

from .builders import T0, Instance, started


def test_activity_and_child_tags_pass_through() -> None:
    wf = Instance(inbox=[started()])
    task = pb.OrchestratorAction(id=0)
    task.scheduleTask.name = "work"
    task.scheduleTask.tags["team"] = "a"
    task.scheduleTask.parentTraceContext.traceParent = "00-trace-span-01"
    child = pb.OrchestratorAction(id=1)
    child.createSubOrchestration.name = "Child"
    child.createSubOrchestration.instanceId = "kid"
    child.createSubOrchestration.tags["team"] = "b"
    result = wf.turn(T0 + 1, task, child)
    scheduled = next(o for o in result.outbox if isinstance(o, engine.ScheduleActivity))
    assert dict(scheduled.scheduled.taskScheduled.tags) == {"team": "a"}
    request = engine.build_activity_request("wf", "exec-1", scheduled.scheduled)
    assert dict(request.tags) == {"team": "a"}
    assert request.parentTraceContext.traceParent == "00-trace-span-01"
    start = next(o for o in result.outbox if isinstance(o, engine.StartChild))
    assert dict(start.started.executionStarted.tags) == {"team": "b"}
    created = [e for e in result.history if e.HasField("subOrchestrationInstanceCreated")]
    assert dict(created[0].subOrchestrationInstanceCreated.tags) == {"team": "b"}


def test_completion_tags_are_the_instance_s_and_carry_on_through_continue_as_new() -> None:
    first = started()
    first.executionStarted.tags.update({"owner": "a", "stage": "start"})
    wf = Instance(inbox=[first])
    done = pb.OrchestratorAction(id=0)
    done.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_COMPLETED
    done.completeOrchestration.tags.update({"stage": "done", "result": "ok"})
    assert wf.turn(T0 + 1, done).completion_tags == {"stage": "done", "result": "ok"}

    wf = Instance(inbox=[first])
    again = pb.OrchestratorAction(id=0)
    again.completeOrchestration.orchestrationStatus = pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW
    again.completeOrchestration.tags["stage"] = "second"
    result = wf.turn(T0 + 1, again)
    assert result.continued_as_new and result.completion_tags == {}
    assert dict(result.next_inbox[0].executionStarted.tags) == {"owner": "a",
                                                                 "stage": "second"}
