"""rerun_history: Dapr RerunWorkflowFromEvent (protocol.md §3.2)."""

from __future__ import annotations

import pytest

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import RuntimeStatus
from wfsidecar.errors import FailedPreconditionError, InvalidArgumentError

from .builders import T0, Instance, child, complete, kinds, schedule, started, timer

NOW = T0 + 10_000


def _finished_source() -> Instance:
    """Fan-out of a and b plus child C; then c; then a timer; then done."""
    wf = Instance(inbox=[started()])
    wf.turn(T0, schedule(0, "a", '"x"'), schedule(1, "b"), child(2, "C"))
    wf.inbox = [engine.task_completed(0, '"ra"', T0 + 1)]
    wf.turn(T0 + 1, schedule(3, "c", '"c-in"', task_execution_id="te-3"))
    wf.inbox = [engine.task_completed(3, '"rc"', T0 + 2),
                engine.sub_orchestration_completed(2, '"rC"', T0 + 2)]
    wf.turn(T0 + 2, timer(4, T0 + 100))
    wf.inbox = [engine.timer_fired(4, T0 + 100, T0 + 100),
                engine.task_completed(1, '"rb"', T0 + 100)]
    wf.turn(T0 + 100, complete(5, result='"done"'))
    return wf


def _rerun(history: list[pb.HistoryEvent], event_id: int, *, overwrite_input: bool = False,
           input: str | None = None) -> list[pb.HistoryEvent]:
    return engine.rerun_history(history, event_id, new_instance_id="wf2",
                                new_execution_id="x2", overwrite_input=overwrite_input,
                                input=input, now_ms=NOW)


def test_clone_up_to_the_target_with_open_work_moved_last() -> None:
    source = _finished_source()
    seed = _rerun(source.history, 3, overwrite_input=True, input='"new"')
    assert kinds(seed) == [
        "orchestratorStarted", "executionStarted", "taskScheduled",  # a (resolved: stays)
        "orchestratorStarted", "taskCompleted",
        "taskScheduled", "subOrchestrationInstanceCreated",  # b and C were still open
        "taskScheduled",  # the target, last
    ]
    assert [e.eventId for e in seed] == [-1, -1, 0, -1, -1, 1, 2, 3]
    # untouched events are byte-identical, timestamps included (deterministic replay)
    assert seed[0] == source.history[0] and seed[4] == source.history[6]
    es = seed[1].executionStarted
    assert es.orchestrationInstance.instanceId == "wf2"
    assert es.orchestrationInstance.executionId.value == "x2"
    assert seed[1].timestamp.ToMilliseconds() == NOW and es.input.value == '"in"'
    assert seed[6].subOrchestrationInstanceCreated.instanceId == "wf2:0002"
    target = seed[-1].taskScheduled
    assert (target.name, target.input.value, target.taskExecutionId) == ("c", '"new"', "te-3")
    assert target.rerunParentInstanceInfo.instanceID == "wf"
    # the source is not modified
    assert not source.history[7].taskScheduled.HasField("rerunParentInstanceInfo")


def test_input_kept_unless_overwritten() -> None:
    seed = _rerun(_finished_source().history, 3)
    assert seed[-1].taskScheduled.input.value == '"c-in"'
    seed = _rerun(_finished_source().history, 3, overwrite_input=True, input=None)
    assert not seed[-1].taskScheduled.HasField("input")


def test_first_turn_reschedules_only_the_open_work() -> None:
    rerun = Instance(instance_id="wf2", inbox=_rerun(_finished_source().history, 3))
    turn = engine.begin_turn([], rerun.inbox, NOW)
    assert turn is not None and turn.dropped == 0 and len(turn.new) == 9
    result = rerun.turn(NOW)
    scheduled = [(type(o).__name__, getattr(o, "task_id", None) or o.instance_id)  # type: ignore[union-attr]
                 for o in result.outbox]
    assert scheduled == [("ScheduleActivity", 1), ("StartChild", "wf2:0002"),
                         ("ScheduleActivity", 3)]
    start_child = result.outbox[1]
    assert isinstance(start_child, engine.StartChild)
    assert start_child.started.executionStarted.parentInstance.taskScheduledId == 2
    assert result.view.status is RuntimeStatus.RUNNING and result.view.instance_id == "wf2"
    assert result.view.execution_id == "x2" and result.view.created_ms == NOW
    assert len(result.history) == 9


def test_open_timer_is_rescheduled() -> None:
    wf = Instance(inbox=[started()])
    wf.turn(T0, timer(0, T0 + 50), schedule(1, "a"))
    wf.inbox = [engine.task_completed(1, "1", T0 + 1)]
    wf.turn(T0 + 1, schedule(2, "b"))
    wf.inbox = [engine.timer_fired(0, T0 + 50, T0 + 50), engine.task_completed(2, "2", T0 + 50)]
    wf.turn(T0 + 50, complete(3))
    seed = _rerun(wf.history, 2)
    assert kinds(seed)[-2:] == ["timerCreated", "taskScheduled"]
    result = Instance(instance_id="wf2", inbox=seed).turn(NOW)
    (timer_item, activity) = result.outbox
    assert isinstance(timer_item, engine.ScheduleTimer) and timer_item.fire_at_ms == T0 + 50
    assert isinstance(activity, engine.ScheduleActivity) and activity.task_id == 2


def test_rerun_errors() -> None:
    source = _finished_source()
    with pytest.raises(InvalidArgumentError, match="event 2 is not a TaskScheduled"):
        _rerun(source.history, 2)  # a sub-orchestration, not an activity
    with pytest.raises(InvalidArgumentError, match="event 99"):
        _rerun(source.history, 99)
    with pytest.raises(InvalidArgumentError, match="no ExecutionStarted"):
        _rerun([], 0)
    running = Instance(inbox=[started()])
    running.turn(T0, schedule(0, "a"))
    with pytest.raises(FailedPreconditionError, match="RUNNING"):
        _rerun(running.history, 0)
