"""The end of a generation: completion, parent notification, cascade, continue-as-new.

protocol.md §5.2 row 6 and engine.md §1.4/§1.7.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import history as h
from wfsidecar.engine.outbox import (
    NotifyParent,
    Recorder,
    TerminateInstance,
)
from wfsidecar.engine.status import RuntimeStatus
from wfsidecar.errors import InvalidArgumentError

_COMPLETION_STATUSES = frozenset({
    RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED,
    RuntimeStatus.CANCELED, RuntimeStatus.CONTINUED_AS_NEW,
})


def completion_status(action: pb.OrchestratorAction) -> RuntimeStatus:
    """The validated status of a completeOrchestration action."""
    raw = int(action.completeOrchestration.orchestrationStatus)
    try:
        status = RuntimeStatus(raw)
    except ValueError:
        status = RuntimeStatus.RUNNING  # rejected just below
    if status not in _COMPLETION_STATUSES:
        raise InvalidArgumentError(
            f"completeOrchestration action {action.id} has status {raw}; expected COMPLETED, "
            "FAILED, TERMINATED, CANCELED or CONTINUED_AS_NEW")
    return status


def complete(rec: Recorder, status: RuntimeStatus, result: str | None,
             failure: pb.TaskFailureDetails | None, *, event_id: int,
             terminate: pb.HistoryEvent | None,
             history: Sequence[pb.HistoryEvent]) -> None:
    """Append ExecutionCompleted and emit the parent notification and terminate cascade.

    ``terminate`` is the ExecutionTerminated that ended the instance, if any; ``history``
    is every event of this generation so far (for the cascade's child list).
    """
    # RuntimeStatus mirrors the wire enum value for value (status.py).
    wire = cast("pb.OrchestrationStatus", int(status))
    rec.events.append(h.execution_completed(wire, result, failure, rec.now_ms, event_id))
    _notify_parent(rec, status, result, failure)
    if status is RuntimeStatus.TERMINATED and terminate is not None \
            and terminate.executionTerminated.recurse:
        # Recursive terminate reaches every child created in any turn of this generation;
        # children already finished simply drop it (engine.md §1.7, hazard 12).
        reason = terminate.executionTerminated
        output = reason.input.value if reason.HasField("input") else None
        for child_id in _children([*history, *rec.events]):
            rec.outbox.append(TerminateInstance(
                child_id, h.execution_terminated(output, True, rec.now_ms)))


def _notify_parent(rec: Recorder, status: RuntimeStatus, result: str | None,
                   failure: pb.TaskFailureDetails | None) -> None:
    es = rec.started.executionStarted
    if not es.HasField("parentInstance"):
        return
    parent = es.parentInstance
    task_id = parent.taskScheduledId
    if status is RuntimeStatus.COMPLETED:
        event = h.sub_orchestration_completed(task_id, result, rec.now_ms)
    else:
        # Failed for every other terminal status, with synthetic details when the worker
        # gave none (a TERMINATED child has none; protocol.md §5.2 row 3, hazard 34).
        if failure is None:
            failure = h.failure_details(
                f"Orchestration{status.name.title()}",
                f"sub-orchestration '{rec.instance_id}' ended with status {status.name}"
                + (f": {result}" if result else ""))
        event = h.sub_orchestration_failed(task_id, failure, rec.now_ms)
    rec.outbox.append(NotifyParent(parent.orchestrationInstance.instanceId, event,
                                   parent.orchestrationInstance.executionId.value))


def _children(events: Sequence[pb.HistoryEvent]) -> list[str]:
    seen: dict[str, None] = {}
    for event in events:
        if event.HasField("subOrchestrationInstanceCreated"):
            seen[event.subOrchestrationInstanceCreated.instanceId] = None
    return list(seen)


def continue_as_new(rec: Recorder, action: pb.OrchestratorAction,
                    after_ms: int) -> list[pb.HistoryEvent]:
    """Build the next generation's first inbox: a fresh ExecutionStarted + carryover events.

    ``after_ms`` is this turn's OrchestratorStarted time: the new ExecutionStarted is
    stamped later than it, so the next generation's "now" keeps increasing (begin_turn
    never stamps a turn before an ExecutionStarted it delivers).
    """
    old = rec.started.executionStarted
    co = action.completeOrchestration
    version = co.newVersion.value if co.HasField("newVersion") else old.version.value
    started = h.execution_started(
        name=old.name, instance_id=rec.instance_id, execution_id=rec.new_execution_id(),
        input=co.result.value if co.HasField("result") else None,
        version=version or None, now_ms=max(rec.now_ms, after_ms + 1),
        parent=old.parentInstance if old.HasField("parentInstance") else None,
        parent_trace_context=(old.parentTraceContext
                              if old.HasField("parentTraceContext") else None),
        # One instance span across generations: its id goes on (hazard 39).
        span_id=old.orchestrationSpanID.value if old.HasField("orchestrationSpanID") else None,
        tags={**old.tags, **co.tags})  # Microsoft: the completion's tags carry on
    if rec.started.HasField("router"):
        started.router.CopyFrom(rec.started.router)
    carryover = []
    for event in co.carryoverEvents:
        copy = pb.HistoryEvent()
        copy.CopyFrom(event)
        carryover.append(copy)
    return [started, *carryover]
