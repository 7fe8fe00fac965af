"""RerunWorkflowFromEvent (Dapr): seed a new instance with a prefix of a finished one.

protocol.md §3.2 "RerunWorkflowFromEvent". The clone keeps the source's events before the
target activity byte for byte (timestamps included, so replay stays deterministic) and
hands the rest to the first turn as new events, the way Dapr's actor backend does:

- scheduling events whose result had not arrived before the target (fan-out peers, open
  timers, running children) move to the end, so the turn that delivers them also
  schedules them again (``actions.record_delivered``);
- the target TaskScheduled comes last, marked with ``rerunParentInstanceInfo`` and
  optionally carrying a new input.

The result is therefore the new instance's first *inbox*, not its committed history:
feed it to ``begin_turn(past=[], inbox=...)`` exactly like a start's ``[ExecutionStarted]``.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine.scheduling import unresolved_scheduling
from wfsidecar.engine.status import TERMINAL, project
from wfsidecar.errors import FailedPreconditionError, InvalidArgumentError
from wfsidecar.telemetry.trace_ids import child_span_id


def rerun_history(source_history: Sequence[pb.HistoryEvent], event_id: int, *,
                  new_instance_id: str, new_execution_id: str, overwrite_input: bool,
                  input: str | None, now_ms: int) -> list[pb.HistoryEvent]:
    """The first inbox of a rerun of ``source_history`` from activity ``event_id``.

    Raises:
        InvalidArgumentError: ``event_id`` is not a TaskScheduled event of the history.
        FailedPreconditionError: the source instance is not terminal (Dapr refuses to
            rerun a workflow that is still in progress).
    """
    view = project("", source_history)
    if view is None:
        raise InvalidArgumentError("the source instance has no ExecutionStarted event")
    if view.status not in TERMINAL:
        raise FailedPreconditionError(
            f"only a completed, failed or terminated workflow can be rerun; it is "
            f"{view.status.name}")
    target = next((i for i, e in enumerate(source_history)
                   if e.eventId == event_id and e.HasField("taskScheduled")), None)
    if target is None:
        raise InvalidArgumentError(
            f"event {event_id} is not a TaskScheduled (activity) event of this history")
    source_id = _source_id(source_history)
    prefix = [_copy(e) for e in source_history[:target]]
    open_ids = unresolved_scheduling(prefix)

    kept: list[pb.HistoryEvent] = []
    reopened: list[pb.HistoryEvent] = []
    for index, event in enumerate(prefix):
        if event.HasField("executionStarted"):
            _rebrand(event, new_instance_id, new_execution_id, now_ms)
        if index not in open_ids:
            kept.append(event)
            continue
        if event.HasField("subOrchestrationInstanceCreated"):
            # A rerun child gets a fresh id under the new parent, as in Dapr.
            event.subOrchestrationInstanceCreated.instanceId = \
                f"{new_instance_id}:{event.eventId:04x}"
        reopened.append(event)

    scheduled = _copy(source_history[target])
    scheduled.taskScheduled.rerunParentInstanceInfo.instanceID = source_id
    if overwrite_input:
        scheduled.taskScheduled.ClearField("input")
        if input is not None:
            scheduled.taskScheduled.input.value = input
    return [*kept, *reopened, scheduled]


def _copy(event: pb.HistoryEvent) -> pb.HistoryEvent:
    copy = pb.HistoryEvent()
    copy.CopyFrom(event)
    return copy


def _source_id(history: Sequence[pb.HistoryEvent]) -> str:
    started = next(e for e in history if e.HasField("executionStarted"))
    return started.executionStarted.orchestrationInstance.instanceId


def _rebrand(event: pb.HistoryEvent, instance_id: str, execution_id: str,
             now_ms: int) -> None:
    es = event.executionStarted
    es.orchestrationInstance.instanceId = instance_id
    es.orchestrationInstance.executionId.value = execution_id
    # The rerun is a new top-level instance created now: it must not report to the
    # source's parent, and it starts at once.
    es.ClearField("parentInstance")
    es.ClearField("scheduledStartTimestamp")
    if es.HasField("orchestrationSpanID"):  # traced like its source, with a span of its own
        es.orchestrationSpanID.value = child_span_id(instance_id, execution_id)
    event.timestamp.FromMilliseconds(now_ms)
