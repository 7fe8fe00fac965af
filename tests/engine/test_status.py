"""Status projection: protocol.md §5.2 "Runtime status" and engine.md §1.2."""

from __future__ import annotations

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import RuntimeStatus

from .builders import T0, started, view_of


def _marker(ms: int) -> pb.HistoryEvent:
    return engine.orchestrator_started(ms)


def test_enum_matches_the_wire_values() -> None:
    for status in RuntimeStatus:
        assert pb.OrchestrationStatus.Value(f"ORCHESTRATION_STATUS_{status.name}") == status
    assert engine.TERMINAL == {RuntimeStatus.COMPLETED, RuntimeStatus.FAILED,
                               RuntimeStatus.TERMINATED, RuntimeStatus.CANCELED}


def test_no_execution_started_projects_to_none() -> None:
    assert engine.project("wf", []) is None
    assert engine.project("wf", [_marker(T0), engine.event_raised("e", None, T0)]) is None


def test_running_instance_fields() -> None:
    parent = pb.ParentInstanceInfo(taskScheduledId=7)
    parent.orchestrationInstance.instanceId = "papa"
    start = engine.execution_started(
        name="Flow", instance_id="wf", execution_id="x1", input='"hi"', version="v2",
        now_ms=T0, scheduled_start_ms=T0 + 500, parent=parent, tags={"k": "v"})
    history = [_marker(T0 + 1), start, engine.event_raised("go", None, T0 + 9)]
    view = engine.project("wf", history)
    assert view is not None
    assert (view.name, view.version, view.execution_id) == ("Flow", "v2", "x1")
    assert view.status is RuntimeStatus.RUNNING
    assert (view.input, view.output, view.failure) == ('"hi"', None, None)
    assert (view.created_ms, view.last_updated_ms, view.completed_ms) == (T0, T0 + 9, None)
    assert view.scheduled_start_ms == T0 + 500
    assert (view.parent_instance_id, view.parent_task_id) == ("papa", 7)
    assert view_of(history, last_updated_ms=T0 + 99).last_updated_ms == T0 + 99


def test_empty_version_means_none() -> None:
    view = engine.project("wf", [started()])
    assert view is not None and view.version is None and view.parent_instance_id is None


def test_suspend_resume_follow_the_last_event() -> None:
    history = [_marker(T0), started(), engine.execution_suspended("nap", T0 + 1)]
    assert view_of(history).status is RuntimeStatus.SUSPENDED
    history.append(engine.execution_resumed(None, T0 + 2))
    assert view_of(history).status is RuntimeStatus.RUNNING


def test_terminated_event_alone_is_not_terminal() -> None:
    history = [_marker(T0), started(), engine.execution_terminated("bye", True, T0 + 1)]
    assert view_of(history).status is RuntimeStatus.RUNNING


def test_completion_wins_over_suspension() -> None:
    completed = pb.HistoryEvent(eventId=3)
    completed.timestamp.FromMilliseconds(T0 + 5)
    completed.executionCompleted.orchestrationStatus = pb.ORCHESTRATION_STATUS_TERMINATED
    completed.executionCompleted.result.value = '"bye"'
    history = [_marker(T0), started(), engine.execution_suspended(None, T0 + 1), completed]
    view = engine.project("wf", history)
    assert view is not None
    assert view.status is RuntimeStatus.TERMINATED
    assert (view.output, view.completed_ms) == ('"bye"', T0 + 5)


def test_stalled_only_while_the_stall_is_the_last_event() -> None:
    stall = pb.HistoryEvent(eventId=-1)
    stall.executionStalled.reason = pb.VERSION_NOT_AVAILABLE
    stall.executionStalled.description = "Version not available: Flow"
    history = [_marker(T0), started(), stall]
    view = engine.project("wf", history)
    assert view is not None
    assert view.status is RuntimeStatus.STALLED
    assert view.stall_reason == "Version not available: Flow"
    history.append(_marker(T0 + 1))
    view = engine.project("wf", history)
    assert view is not None and view.status is RuntimeStatus.RUNNING
    assert view.stall_reason is None


def test_child_ids_are_distinct_and_ordered() -> None:
    def created(event_id: int, child: str) -> pb.HistoryEvent:
        event = pb.HistoryEvent(eventId=event_id)
        event.subOrchestrationInstanceCreated.instanceId = child
        return event

    history = [started(), created(0, "b"), created(1, "a"), created(2, "b")]
    assert view_of(history).child_instance_ids == ("b", "a")
