"""RewindInstance (Microsoft): give a FAILED instance another go from its last good state.

The exact contract (protocol.md §3.2 RewindInstance): the worker is shown the old
history, completion included, with ``newEvents == [OrchestratorStarted, ExecutionRewound]``
exactly; it answers with one ``rewindOrchestration`` action whose ``newHistory`` (the old
history minus the failures and the completion) replaces the history. Failed children are
rewound too, and a plain turn (``newEvents == [OrchestratorStarted]``) follows so the
replay re-issues the removed work.
"""

from __future__ import annotations

from collections.abc import Sequence

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import history as h
from wfsidecar.engine.outbox import ScheduleTimer

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


def failed_children(past: Sequence[pb.HistoryEvent]) -> list[str]:
    """Instance ids of the children whose failure the old history recorded."""
    created = {e.eventId: e.subOrchestrationInstanceCreated.instanceId
               for e in past if e.HasField("subOrchestrationInstanceCreated")}
    return [created[e.subOrchestrationInstanceFailed.taskScheduledId] for e in past
            if e.HasField("subOrchestrationInstanceFailed")
            and e.subOrchestrationInstanceFailed.taskScheduledId in created]


def pending_timers(history: Sequence[pb.HistoryEvent], now_ms: int) -> list[ScheduleTimer]:
    """Timers of a rewound history that have not fired: the failure dropped their
    reminders (a terminal instance keeps none), so the reopened instance re-arms them."""
    return [ScheduleTimer(e.eventId, e.timerCreated.fireAt.ToMilliseconds(),
                          h.timer_fired(e.eventId, e.timerCreated.fireAt, now_ms))
            for e in h.unfired_timers(history)]
