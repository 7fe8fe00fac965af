"""RewindInstance (Microsoft): give a FAILED instance another go from its last good state.

The exact contract (protocol.md §3.2 RewindInstance): the worker is shown the old
history, completion included, with ``newEvents == [OrchestratorStarted, ExecutionRewound]``
exactly; it answers with one ``rewindOrchestration`` action whose ``newHistory`` (the old
history minus the failures and the completion) replaces the history. Failed children are
rewound too (or, if purged meanwhile, created again from their original creation, as the
reference backend in durabletask 1.12 does), and a plain turn (``newEvents ==
[OrchestratorStarted]``) follows so the replay re-issues the removed work.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import history as h
from wfsidecar.engine.outbox import ScheduleTimer
from wfsidecar.telemetry.trace_ids import instance_trace

# An inbox entry that asks for a turn with no new events of its own; begin_turn consumes
# it without showing it to the worker.
REPLAY = "wfsidecar:replay"


def execution_rewound(reason: str | None, now_ms: int, *,
                      parent_execution_id: str | None = None) -> pb.HistoryEvent:
    """The rewind request; for a child rewound with its parent, ``parent_execution_id`` is
    the parent's new run, which the child's SDK writes into its ExecutionStarted so that
    its result reaches that run (results are addressed by parent execution id)."""
    event = h.new_event(now_ms)
    event.executionRewound.SetInParent()
    if reason is not None:
        event.executionRewound.reason.value = reason
    if parent_execution_id:
        event.executionRewound.parentExecutionId.value = parent_execution_id
    return event


def replay_marker(now_ms: int) -> pb.HistoryEvent:
    event = h.new_event(now_ms)
    event.genericEvent.data.value = REPLAY
    return event


def is_replay_marker(event: pb.HistoryEvent) -> bool:
    return event.HasField("genericEvent") and event.genericEvent.data.value == REPLAY


def failed(past: Sequence[pb.HistoryEvent]) -> bool:
    return any(e.HasField("executionCompleted") and e.executionCompleted.orchestrationStatus
               == pb.ORCHESTRATION_STATUS_FAILED for e in past)


def rewind_requested(past: Sequence[pb.HistoryEvent],
                     inbox: Sequence[pb.HistoryEvent]) -> pb.HistoryEvent | None:
    """The pending ExecutionRewound of a FAILED instance, if there is one."""
    return requested(inbox) if failed(past) else None


def requested(inbox: Sequence[pb.HistoryEvent]) -> pb.HistoryEvent | None:
    """The ExecutionRewound waiting in ``inbox``, if any (it counts once the instance
    FAILED)."""
    return next((e for e in inbox if e.HasField("executionRewound")), None)


def rewind_action(response: pb.OrchestratorResponse) -> pb.OrchestratorAction | None:
    return next((a for a in response.actions if a.HasField("rewindOrchestration")), None)


def failed_children(past: Sequence[pb.HistoryEvent]) -> list[pb.HistoryEvent]:
    """The SubOrchestrationInstanceCreated events of the children whose failure the old
    history recorded."""
    created = {e.eventId: e for e in past if e.HasField("subOrchestrationInstanceCreated")}
    return [created[e.subOrchestrationInstanceFailed.taskScheduledId] for e in past
            if e.HasField("subOrchestrationInstanceFailed")
            and e.subOrchestrationInstanceFailed.taskScheduledId in created]


def child_rewound(created: pb.HistoryEvent, parent_started: pb.HistoryEvent,
                  now_ms: int) -> pb.HistoryEvent:
    """The rewind a failed child is sent: it names the parent's new run and also carries
    the child's original creation (``created``, the parent's SubOrchestrationInstanceCreated),
    for which ExecutionRewoundEvent has fields. A child purged since its failure is created
    again from it (``recreated_child``); otherwise the parent would wait forever."""
    parent_es = parent_started.executionStarted
    event = execution_rewound(None, now_ms, parent_execution_id=(
        parent_es.orchestrationInstance.executionId.value))
    child, rewound = created.subOrchestrationInstanceCreated, event.executionRewound
    rewound.instanceId.value = child.instanceId
    rewound.name.value = child.name
    if child.HasField("version"):
        rewound.version.CopyFrom(child.version)
    if child.HasField("input"):
        rewound.input.CopyFrom(child.input)
    rewound.tags.update(child.tags)
    # The same parent link a first start gets (actions._child_started), to the new run.
    parent = rewound.parentInstance
    parent.taskScheduledId = created.eventId
    parent.name.value = parent_es.name
    if parent_es.HasField("version"):
        parent.version.CopyFrom(parent_es.version)
    parent.orchestrationInstance.CopyFrom(parent_es.orchestrationInstance)
    traced = instance_trace(parent_es.orchestrationInstance.instanceId, parent_started)
    if traced is not None:  # the child's span is a child of the parent's (actions.py)
        rewound.parentTraceContext.CopyFrom(traced.context())
    elif parent_es.HasField("parentTraceContext"):
        rewound.parentTraceContext.CopyFrom(parent_es.parentTraceContext)
    return event


def recreated_child(rewound: pb.HistoryEvent, execution_id: str,
                    now_ms: int) -> pb.HistoryEvent | None:
    """The ExecutionStarted that creates a purged child again from the creation its
    parent's rewind carries (``child_rewound``); None if the rewind carries none (a
    client's RewindInstance)."""
    carried = rewound.executionRewound
    if not (carried.instanceId.value and carried.name.value
            and carried.HasField("parentInstance")):
        return None
    return h.execution_started(
        name=carried.name.value, instance_id=carried.instanceId.value,
        execution_id=execution_id,
        input=carried.input.value if carried.HasField("input") else None,
        version=carried.version.value or None, now_ms=now_ms, parent=carried.parentInstance,
        parent_trace_context=(carried.parentTraceContext
                              if carried.HasField("parentTraceContext") else None),
        tags=dict(carried.tags))


def pending_timers(history: Sequence[pb.HistoryEvent], now_ms: int) -> list[ScheduleTimer]:
    """Timers of a rewound history that have not fired: the failure dropped their
    reminders (a terminal instance keeps none), so the reopened instance re-arms them."""
    return [ScheduleTimer(e.eventId, e.timerCreated.fireAt.ToMilliseconds(),
                          h.timer_fired(e.eventId, e.timerCreated.fireAt, now_ms))
            for e in h.unfired_timers(history)]
