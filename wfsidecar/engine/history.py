"""Constructors for the HistoryEvent kinds the sidecar creates itself.

Every event gets a real timestamp: the SDKs derive ``current_utc_datetime`` and
deterministic GUIDs from them, so they are stored and replayed byte for byte (protocol.md
§0 finding 4). ``eventId`` is -1 except for events that record an action, which carry the
action id (protocol.md §5.1); those are built in ``actions.py`` with ``event_id=``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

if TYPE_CHECKING:
    from google.protobuf.timestamp_pb2 import Timestamp


def new_event(now_ms: int, event_id: int = -1) -> pb.HistoryEvent:
    """An empty HistoryEvent with its id and timestamp set; callers fill the payload."""
    event = pb.HistoryEvent(eventId=event_id)
    event.timestamp.FromMilliseconds(now_ms)
    return event


def execution_started(*, name: str, instance_id: str, execution_id: str, input: str | None,
                      version: str | None, now_ms: int, scheduled_start_ms: int | None = None,
                      parent: pb.ParentInstanceInfo | None = None,
                      parent_trace_context: pb.TraceContext | None = None,
                      tags: Mapping[str, str] | None = None,
                      app_id: str | None = None,
                      span_id: str | None = None) -> pb.HistoryEvent:
    """The first event of a generation (StartInstance, child start, continue-as-new).

    ``span_id``: the instance span's id, for a traced instance (telemetry/trace_ids.py).
    """
    event = new_event(now_ms)
    es = event.executionStarted
    es.name = name
    es.orchestrationInstance.instanceId = instance_id
    es.orchestrationInstance.executionId.value = execution_id
    if input is not None:
        es.input.value = input
    if version:
        es.version.value = version
    if scheduled_start_ms is not None:
        es.scheduledStartTimestamp.FromMilliseconds(scheduled_start_ms)
    if parent is not None:
        es.parentInstance.CopyFrom(parent)
    if parent_trace_context is not None:
        es.parentTraceContext.CopyFrom(parent_trace_context)
    if span_id:
        es.orchestrationSpanID.value = span_id
    if tags:
        es.tags.update(tags)
    if app_id:
        # The Dapr SDK learns ctx.app_id from this router (protocol.md §6, "Router / app id").
        event.router.sourceAppID = app_id
    return event


def event_raised(name: str, input: str | None, now_ms: int) -> pb.HistoryEvent:
    event = new_event(now_ms)
    event.eventRaised.name = name
    if input is not None:
        event.eventRaised.input.value = input
    return event


def execution_terminated(output: str | None, recurse: bool, now_ms: int) -> pb.HistoryEvent:
    event = new_event(now_ms)
    if output is not None:
        event.executionTerminated.input.value = output
    event.executionTerminated.recurse = recurse
    return event


def execution_suspended(reason: str | None, now_ms: int) -> pb.HistoryEvent:
    event = new_event(now_ms)
    event.executionSuspended.SetInParent()
    if reason is not None:
        event.executionSuspended.input.value = reason
    return event


def execution_resumed(reason: str | None, now_ms: int) -> pb.HistoryEvent:
    event = new_event(now_ms)
    event.executionResumed.SetInParent()
    if reason is not None:
        event.executionResumed.input.value = reason
    return event


def orchestrator_started(now_ms: int) -> pb.HistoryEvent:
    event = new_event(now_ms)
    event.orchestratorStarted.SetInParent()
    return event


def timer_fired(timer_id: int, fire_at: Timestamp | int, now_ms: int) -> pb.HistoryEvent:
    """``fire_at`` is the TimerCreated's Timestamp or epoch milliseconds."""
    event = new_event(now_ms)
    event.timerFired.timerId = timer_id
    if isinstance(fire_at, int):
        event.timerFired.fireAt.FromMilliseconds(fire_at)
    else:
        event.timerFired.fireAt.CopyFrom(fire_at)
    return event


def unfired_timers(history: Sequence[pb.HistoryEvent]) -> list[pb.HistoryEvent]:
    """The TimerCreated events of ``history`` that no TimerFired has resolved."""
    fired = {e.timerFired.timerId for e in history if e.HasField("timerFired")}
    return [e for e in history if e.HasField("timerCreated") and e.eventId not in fired]


def task_completed(task_id: int, result: str | None, now_ms: int,
                   task_execution_id: str = "") -> pb.HistoryEvent:
    event = new_event(now_ms)
    tc = event.taskCompleted
    tc.taskScheduledId = task_id
    if result is not None:
        tc.result.value = result
    # Dapr SDKs use taskExecutionId as the retry identity (protocol.md §6).
    tc.taskExecutionId = task_execution_id
    return event


def task_failed(task_id: int, failure: pb.TaskFailureDetails, now_ms: int,
                task_execution_id: str = "") -> pb.HistoryEvent:
    event = new_event(now_ms)
    tf = event.taskFailed
    tf.taskScheduledId = task_id
    tf.failureDetails.CopyFrom(failure)
    tf.taskExecutionId = task_execution_id
    return event


def sub_orchestration_completed(task_id: int, result: str | None,
                                now_ms: int) -> pb.HistoryEvent:
    event = new_event(now_ms)
    sc = event.subOrchestrationInstanceCompleted
    sc.taskScheduledId = task_id
    if result is not None:
        sc.result.value = result
    return event


def sub_orchestration_failed(task_id: int, failure: pb.TaskFailureDetails,
                             now_ms: int) -> pb.HistoryEvent:
    event = new_event(now_ms)
    sf = event.subOrchestrationInstanceFailed
    sf.taskScheduledId = task_id
    sf.failureDetails.CopyFrom(failure)
    return event


def execution_completed(status: pb.OrchestrationStatus, result: str | None,
                        failure: pb.TaskFailureDetails | None, now_ms: int,
                        event_id: int = -1) -> pb.HistoryEvent:
    event = new_event(now_ms, event_id)
    ec = event.executionCompleted
    ec.orchestrationStatus = status
    if result is not None:
        ec.result.value = result
    if failure is not None:
        ec.failureDetails.CopyFrom(failure)
    return event


def execution_stalled(description: str, now_ms: int) -> pb.HistoryEvent:
    event = new_event(now_ms)
    event.executionStalled.reason = pb.VERSION_NOT_AVAILABLE
    event.executionStalled.description = description
    return event


def failure_details(error_type: str, message: str) -> pb.TaskFailureDetails:
    """Synthetic failure details for outcomes no worker reported (protocol.md §5.2 row 3)."""
    return pb.TaskFailureDetails(errorType=error_type, errorMessage=message)
