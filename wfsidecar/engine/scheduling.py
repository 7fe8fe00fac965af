"""Which history events schedule work and which resolve it, matched oldest first.

Used where a history must be read for what is still open: applying a rerun's copied
scheduling events (apply.py, rerun.py) and diagnostics' pending activities.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

_RESOLVED_BY = {
    "taskScheduled": ("taskCompleted", "taskFailed"),
    "timerCreated": ("timerFired",),
    "subOrchestrationInstanceCreated": (
        "subOrchestrationInstanceCompleted", "subOrchestrationInstanceFailed"),
}
_SCHEDULING_OF = {kind: sched for sched, kinds in _RESOLVED_BY.items() for kind in kinds}


def schedules(event: pb.HistoryEvent) -> bool:
    """True if ``event`` schedules something a later event resolves (a task, timer or
    child)."""
    return event.WhichOneof("eventType") in _RESOLVED_BY


def unresolved_scheduling(events: Sequence[pb.HistoryEvent]) -> set[int]:
    """Indexes of scheduling events whose result is not (yet) in ``events``.

    Matched oldest-first per id, so an id reused by an MS-style retry pairs correctly.
    """
    open_by_key: dict[tuple[str, int], list[int]] = {}
    for index, event in enumerate(events):
        kind = event.WhichOneof("eventType")
        if kind in _RESOLVED_BY:
            open_by_key.setdefault((kind, event.eventId), []).append(index)
        elif kind in _SCHEDULING_OF:
            key_id = event.timerFired.timerId if kind == "timerFired" \
                else resolved_task_id(event)
            pending = open_by_key.get((_SCHEDULING_OF[kind], key_id))
            if pending:
                pending.pop(0)
    return {index for pending in open_by_key.values() for index in pending}


def resolved_task_id(event: pb.HistoryEvent) -> int:
    """``taskScheduledId`` of a task or sub-orchestration result event."""
    kind = event.WhichOneof("eventType")
    assert kind is not None
    resolution: pb.TaskCompletedEvent = getattr(event, kind)  # all share the field
    return resolution.taskScheduledId
