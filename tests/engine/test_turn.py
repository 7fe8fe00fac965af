"""begin_turn and the work-item builders: engine.md §1.2/§1.3, protocol.md §5.2, §6."""

from __future__ import annotations

import pytest

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.errors import InvalidArgumentError

from .builders import APP, T0, Instance, complete, kinds, schedule, started, timer


def test_first_turn_starts_with_orchestrator_started() -> None:
    start = started()
    raised = engine.event_raised("go", '"x"', T0 + 1)
    turn = engine.begin_turn([], [start, raised], T0 + 10)
    assert turn is not None
    assert turn.past == [] and turn.dropped == 0
    assert turn.new[0].HasField("orchestratorStarted")
    assert turn.new[0].eventId == -1 and turn.new[0].timestamp.ToMilliseconds() == T0 + 10
    assert turn.new[1:] == [start, raised]


def test_nothing_to_dispatch() -> None:
    assert engine.begin_turn([], [], T0) is None
    # events for an instance that never started
    assert engine.begin_turn([], [engine.event_raised("e", None, T0)], T0) is None
    # invalid history: events but no ExecutionStarted (durabletask-go drops the item)
    assert engine.begin_turn([engine.orchestrator_started(T0)],
                             [engine.event_raised("e", None, T0)], T0) is None


def test_duplicate_execution_started_is_dropped() -> None:
    wf = Instance(inbox=[started()])
    wf.turn(T0 + 1)
    raised = engine.event_raised("go", None, T0 + 2)
    turn = engine.begin_turn(wf.history, [started(execution_id="other"), raised], T0 + 3)
    assert turn is not None
    assert turn.dropped == 1 and turn.new[1:] == [raised]
    # and two starts in one inbox keep only the first
    turn = engine.begin_turn([], [started(), started(execution_id="x")], T0)
    assert turn is not None and turn.dropped == 1 and len(turn.new) == 2
    # an inbox holding only a duplicate start dispatches nothing
    assert engine.begin_turn(wf.history, [started()], T0 + 4) is None


def test_events_after_completion_are_dropped_and_no_turn_runs() -> None:
    wf = Instance(inbox=[started()])
    result = wf.turn(T0 + 1, complete(0, result='"done"'))
    assert result.view.status is engine.RuntimeStatus.COMPLETED
    late = [engine.event_raised("late", None, T0 + 5), engine.task_completed(0, "1", T0 + 6),
            engine.execution_terminated("bye", True, T0 + 7)]
    assert engine.begin_turn(wf.history, late, T0 + 8) is None


def test_orchestrator_started_strictly_increases_even_if_the_clock_stalls() -> None:
    wf = Instance(inbox=[started()])
    for n in range(4):
        wf.inbox.append(engine.event_raised(f"e{n}", None, T0))
        wf.turn(T0, schedule(n, "act"))  # the clock never moves
    markers = [e.timestamp.ToMilliseconds() for e in wf.history
               if e.HasField("orchestratorStarted")]
    assert markers == [T0, T0 + 1, T0 + 2, T0 + 3]


def test_turn_time_is_never_before_a_delivered_timer() -> None:
    wf = Instance(inbox=[started()])
    result = wf.turn(T0, timer(0, T0 + 60_000))
    (timer_item,) = result.outbox
    assert isinstance(timer_item, engine.ScheduleTimer)
    # the reminder fires a little early by the local clock
    turn = engine.begin_turn(wf.history, [timer_item.fired], T0 + 59_990)
    assert turn is not None
    assert turn.new[0].timestamp.ToMilliseconds() == T0 + 60_000


def test_duplicate_and_stale_timer_firings_are_dropped() -> None:
    wf = Instance(inbox=[started()])
    wf.turn(T0, timer(0, T0 + 5))
    fired = engine.timer_fired(0, T0 + 5, T0 + 5)
    stale = engine.timer_fired(7, T0 + 5, T0 + 5)  # no TimerCreated 7: older generation
    turn = engine.begin_turn(wf.history, [fired, fired, stale], T0 + 6)
    assert turn is not None and turn.new[1:] == [fired] and turn.dropped == 2
    wf.inbox = [fired]
    wf.turn(T0 + 6)
    assert engine.begin_turn(wf.history, [fired], T0 + 7) is None


def test_results_for_unknown_tasks_are_dropped_but_repeated_ids_are_not() -> None:
    wf = Instance(inbox=[started()])
    wf.turn(T0, schedule(0, "act"))
    first = engine.task_failed(0, pb.TaskFailureDetails(errorMessage="boom"), T0 + 1)
    again = engine.task_completed(0, '"ok"', T0 + 2)
    unknown = engine.task_completed(9, '"?"', T0 + 2)
    turn = engine.begin_turn(wf.history, [first, again, unknown], T0 + 3)
    assert turn is not None
    # both results for task 0 reach the SDK (MS Python retries under the same id)
    assert turn.new[1:] == [first, again] and turn.dropped == 1


def test_orchestrator_request_carries_ids_router_and_events() -> None:
    wf = Instance(inbox=[started()])
    wf.turn(T0, schedule(0, "act"))
    turn = engine.begin_turn(wf.history, [engine.task_completed(0, "1", T0 + 1)], T0 + 2)
    assert turn is not None
    request = engine.build_orchestrator_request("wf", "exec-1", turn)
    assert request.instanceId == "wf" and request.executionId.value == "exec-1"
    assert list(request.pastEvents) == wf.history and list(request.newEvents) == turn.new
    assert request.router.sourceAppID == APP


def test_activity_request_copies_the_scheduled_event() -> None:
    scheduled = pb.HistoryEvent(eventId=4)
    ts = scheduled.taskScheduled
    ts.name, ts.taskExecutionId = "charge", "te-1"
    ts.input.value, ts.version.value = '"5"', "v1"
    ts.parentTraceContext.traceParent = "00-abc-def-01"
    request = engine.build_activity_request("wf", "exec-1", scheduled)
    assert (request.name, request.taskId, request.taskExecutionId) == ("charge", 4, "te-1")
    assert (request.input.value, request.version.value) == ('"5"', "v1")
    assert request.parentTraceContext.traceParent == "00-abc-def-01"
    assert request.orchestrationInstance.instanceId == "wf"
    assert request.orchestrationInstance.executionId.value == "exec-1"
    with pytest.raises(InvalidArgumentError, match="taskScheduled"):
        engine.build_activity_request("wf", "x", engine.event_raised("e", None, T0))


def _suspend(at: int) -> pb.HistoryEvent:
    return engine.execution_suspended(None, at)


def _resume(at: int) -> pb.HistoryEvent:
    return engine.execution_resumed(None, at)


def test_a_suspend_while_suspended_and_a_resume_while_running_never_reach_history() -> None:
    # Every Python SDK re-buffers a second ExecutionSuspended and, on the resume, loops
    # forever over its own growing buffer (issue #10); a repeated suspend call can queue
    # one because the service checks only the committed status.
    wf = Instance(inbox=[started()])
    wf.turn(T0)
    go = engine.event_raised("go", '"x"', T0 + 3)
    batch = [_suspend(T0 + 1), _suspend(T0 + 2), go, _resume(T0 + 4), _resume(T0 + 5)]
    turn = engine.begin_turn(wf.history, batch, T0 + 6)
    assert turn is not None
    assert turn.new[1:] == [batch[0], go, batch[3]] and turn.dropped == 2
    # suspend, resume, suspend again in one batch is a real change each time
    batch = [_suspend(T0 + 1), _resume(T0 + 2), _suspend(T0 + 3)]
    turn = engine.begin_turn(wf.history, batch, T0 + 4)
    assert turn is not None and turn.new[1:] == batch and turn.dropped == 0
    # a resume of a running instance is nothing to dispatch
    assert engine.begin_turn(wf.history, [_resume(T0 + 1)], T0 + 2) is None

    # once the suspend is history, a late duplicate is dropped (alone: no turn at all)
    wf.inbox = [_suspend(T0 + 7)]
    wf.turn(T0 + 8)
    assert engine.begin_turn(wf.history, [_suspend(T0 + 9)], T0 + 10) is None
    late = [_suspend(T0 + 9), go, _resume(T0 + 11), _resume(T0 + 12)]
    turn = engine.begin_turn(wf.history, late, T0 + 13)
    assert turn is not None
    assert turn.new[1:] == [go, late[2]] and turn.dropped == 2


def test_a_stored_history_with_redundant_suspends_is_shown_and_kept_without_them() -> None:
    wf = Instance(inbox=[started()])
    wf.turn(T0)
    clean = list(wf.history)
    # as a database written before the rule may hold it
    first, second, resumed, again = _suspend(T0 + 1), _suspend(T0 + 2), _resume(T0 + 3), \
        _resume(T0 + 4)
    go = engine.event_raised("go", None, T0 + 2)
    wf.history = [*clean, first, second, go, resumed, again]
    wf.inbox = [engine.event_raised("e", None, T0 + 5)]
    turn = engine.begin_turn(wf.history, wf.inbox, T0 + 6)
    assert turn is not None
    assert turn.past == [*clean, first, go, resumed]
    result = wf.turn(T0 + 6)
    assert kinds(result.history).count("executionSuspended") == 1
    assert kinds(result.history).count("executionResumed") == 1
    # a history without any shows the very same events (the delta lineage relies on it)
    turn = engine.begin_turn(wf.history, [engine.event_raised("f", None, T0 + 7)], T0 + 8)
    assert turn is not None
    assert all(a is b for a, b in zip(turn.past, wf.history, strict=True))
