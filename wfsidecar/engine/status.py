"""Runtime status and the read-only projection of one instance's history.

Status is never stored: it is derived from the history after every commit, so the value
Get/Query report can never drift from what the worker replays (engine.md hazard 38).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine.facts import HistoryFacts


class RuntimeStatus(enum.IntEnum):
    """Wire values of ``OrchestrationStatus`` (engine.md §1.2); 8 is Dapr-only."""

    RUNNING = 0
    COMPLETED = 1
    CONTINUED_AS_NEW = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    PENDING = 6
    SUSPENDED = 7
    STALLED = 8


# CONTINUED_AS_NEW is not terminal: the next generation keeps running (protocol.md §3.2).
TERMINAL: frozenset[RuntimeStatus] = frozenset(
    {RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED,
     RuntimeStatus.CANCELED}
)


@dataclass(frozen=True, slots=True)
class InstanceView:
    """What Get/Query report about one instance, and what turn decisions look at."""

    instance_id: str
    name: str
    version: str | None
    execution_id: str
    status: RuntimeStatus
    input: str | None
    output: str | None
    failure: pb.TaskFailureDetails | None
    created_ms: int
    last_updated_ms: int
    completed_ms: int | None
    scheduled_start_ms: int | None
    parent_instance_id: str | None
    parent_task_id: int | None
    stall_reason: str | None
    child_instance_ids: tuple[str, ...]


def project(instance_id: str, history: Sequence[pb.HistoryEvent], *,
            last_updated_ms: int | None = None,
            facts: HistoryFacts | None = None) -> InstanceView | None:
    """Project ``history`` into an InstanceView; None if it has no ExecutionStarted.

    ``last_updated_ms`` overrides the default (the newest event timestamp), for callers
    that track the commit time separately. ``facts``, if given, must be the facts of
    exactly ``history`` (facts.py): the projection then costs the same at any length.
    """
    if facts is None:
        facts = HistoryFacts.of(history)
    started, completed = facts.started, facts.completed
    if started is None:
        return None

    status, stall_reason = _status(facts.last, completed, facts.suspended)
    es = started.executionStarted
    parent = es.parentInstance if es.HasField("parentInstance") else None
    output = failure = None
    completed_ms = None
    if completed is not None:
        ec = completed.executionCompleted
        output = ec.result.value if ec.HasField("result") else None
        failure = ec.failureDetails if ec.HasField("failureDetails") else None
        completed_ms = completed.timestamp.ToMilliseconds()
    scheduled = es.scheduledStartTimestamp
    return InstanceView(
        instance_id=instance_id,
        name=es.name,
        # Dapr clients send "" for "no version" (protocol.md §3.2 StartInstance).
        version=es.version.value or None,
        execution_id=es.orchestrationInstance.executionId.value,
        status=status,
        input=es.input.value if es.HasField("input") else None,
        output=output,
        failure=failure,
        created_ms=started.timestamp.ToMilliseconds(),
        last_updated_ms=facts.newest_ms if last_updated_ms is None else last_updated_ms,
        completed_ms=completed_ms,
        scheduled_start_ms=(scheduled.ToMilliseconds()
                            if es.HasField("scheduledStartTimestamp") else None),
        parent_instance_id=parent.orchestrationInstance.instanceId if parent else None,
        parent_task_id=parent.taskScheduledId if parent else None,
        stall_reason=stall_reason,
        child_instance_ids=tuple(facts.children),
    )


def _status(last: pb.HistoryEvent | None, completed: pb.HistoryEvent | None,
            suspended: bool) -> tuple[RuntimeStatus, str | None]:
    # Order of precedence is the Dapr fork's (engine.md §1.2 table): a completion wins over
    # everything (so terminate-while-suspended reads TERMINATED, hazard 10), then a stall,
    # then suspension. ExecutionTerminated alone is not terminal: the SDK answers it with
    # CompleteOrchestration(TERMINATED) and only that commit ends the instance.
    if completed is not None:
        return RuntimeStatus(completed.executionCompleted.orchestrationStatus), None
    if last is not None and last.HasField("executionStalled"):
        # "STALLED if the last event is a stall": any later event clears it (protocol.md §5.2).
        stalled = last.executionStalled
        reason = stalled.description or pb.StalledReason.Name(stalled.reason)
        return RuntimeStatus.STALLED, reason
    if suspended:
        return RuntimeStatus.SUSPENDED, None
    return RuntimeStatus.RUNNING, None
