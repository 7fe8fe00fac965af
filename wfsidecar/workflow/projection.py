"""What a workflow actor's state means to readers: status, snapshot, scheduled start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import RuntimeStatus, rewind
from wfsidecar.workflow.messages import InstanceSnapshot
from wfsidecar.workflow.state import WorkflowState


def view(instance_id: str, state: WorkflowState) -> engine.InstanceView | None:
    """The instance's projection; PENDING while only its start event is queued (unless
    that start continues the instance as new)."""
    if state.history:
        facts = state.facts()
        projected = engine.project(instance_id, state.history, facts=facts)
        if projected is not None and facts.failed and rewind.requested(state.inbox):
            # A rewind was accepted: clients see it running again at once, so a
            # wait-for-completion does not return the old failure (protocol.md §3.2).
            projected = replace(projected, status=RuntimeStatus.RUNNING, output=None,
                                failure=None, completed_ms=None)
        return projected
    started = next((e for e in state.inbox if e.HasField("executionStarted")), None)
    if started is None:
        return None
    projected = engine.project(instance_id, [started])
    if projected is None or continued(state):
        return projected  # RUNNING: the next generation of a running instance
    return replace(projected, status=RuntimeStatus.PENDING)


def continued(state: WorkflowState) -> bool:
    """True while the queued start is the next generation of a continued-as-new instance,
    which apply_completion marks with a replay marker right behind it (hazard 38)."""
    return (not state.history and len(state.inbox) > 1
            and state.inbox[0].HasField("executionStarted")
            and rewind.is_replay_marker(state.inbox[1]))


def snapshot(instance_id: str, state: WorkflowState) -> InstanceSnapshot | None:
    current = view(instance_id, state) if state.exists else None
    if current is None:
        return None
    started = next((e for e in (*state.history[:2], *state.inbox[:1])
                    if e.HasField("executionStarted")), None)
    # The tags it was started with, and those its completion added (Microsoft).
    tags = tuple(sorted({**(started.executionStarted.tags if started else {}),
                         **state.tags}.items()))
    return InstanceSnapshot(current, state.custom_status, tuple(state.history), tags,
                            state.dialect, len(state.inbox))


def terminal(instance_id: str, state: WorkflowState) -> bool:
    current = view(instance_id, state)
    return current is not None and current.status in engine.TERMINAL


def waiting_for_scheduled_start(state: WorkflowState, now_ms: int) -> bool:
    """True while the first turn is held back by a start time still in the future."""
    if state.history or not state.inbox or not state.inbox[0].HasField("executionStarted"):
        return False
    started = state.inbox[0].executionStarted
    when = started.scheduledStartTimestamp.ToMilliseconds()
    if any(e.HasField("executionTerminated") for e in state.inbox):
        return False  # a terminate does not wait for the start time it cancels
    return started.HasField("scheduledStartTimestamp") and when > now_ms


def same_creation(state: WorkflowState, started: pb.HistoryEvent) -> bool:
    """True if the current generation was created by this very message: every child start
    carries a fresh execution id, so the same one means the message came again. (A retry
    of a failed child, which Microsoft SDKs send under the same task id, has a new one.)"""
    new = started.executionStarted.orchestrationInstance.executionId.value
    current = next((e.executionStarted for e in (*state.history, *state.inbox)
                    if e.HasField("executionStarted")), None)
    return bool(new) and current is not None \
        and current.orchestrationInstance.executionId.value == new


def scheduled(history: Sequence[pb.HistoryEvent], task_id: int) -> bool:
    """True if ``history`` scheduled activity ``task_id``."""
    return any(e.eventId == task_id and e.HasField("taskScheduled") for e in history)
