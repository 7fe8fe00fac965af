"""What a turn asks the world to do: the outbox items an actor commits with the history.

Each item becomes durable state or a reminder on its target in the same transaction as
the turn that produced it (docs/workflow-engine.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine.entities import MessageEntity
from wfsidecar.telemetry.trace_ids import InstanceTrace


@dataclass(frozen=True, slots=True)
class ScheduleActivity:
    """Run activity ``task_id``; ``scheduled`` is its TaskScheduled event."""

    task_id: int
    scheduled: pb.HistoryEvent
    # A traced instance's activity span: the ActivityRequest's parentTraceContext, so the
    # worker's spans nest under it (telemetry/trace_ids.py).
    trace_context: pb.TraceContext | None = None


@dataclass(frozen=True, slots=True)
class ScheduleTimer:
    """Deliver the pre-built ``fired`` event to this instance at ``fire_at_ms``."""

    timer_id: int
    fire_at_ms: int
    fired: pb.HistoryEvent


@dataclass(frozen=True, slots=True)
class StartChild:
    """Create instance ``instance_id`` from ``started`` (an ExecutionStarted)."""

    instance_id: str
    started: pb.HistoryEvent


@dataclass(frozen=True, slots=True)
class DeliverEvent:
    """EventRaised for another instance; dropped silently if it is missing or terminal."""

    instance_id: str
    event: pb.HistoryEvent


@dataclass(frozen=True, slots=True)
class TerminateInstance:
    """ExecutionTerminated for another instance (action or recursive cascade)."""

    instance_id: str
    event: pb.HistoryEvent


@dataclass(frozen=True, slots=True)
class NotifyParent:
    """SubOrchestrationInstanceCompleted/Failed for the parent instance, meant only for
    the parent's execution ``execution_id`` (a re-created or continued-as-new parent has
    a new one and must not take an old child's result for its own task of that id)."""

    instance_id: str
    event: pb.HistoryEvent
    execution_id: str = ""


Outbox = ScheduleActivity | ScheduleTimer | StartChild | DeliverEvent | TerminateInstance | \
    NotifyParent | MessageEntity


@dataclass(slots=True)
class Recorder:
    """Accumulates one turn's action events and side effects."""

    instance_id: str
    started: pb.HistoryEvent  # this generation's ExecutionStarted
    now_ms: int
    new_execution_id: Callable[[], str]
    trace: InstanceTrace | None = None  # the instance's trace identity, if it is traced
    events: list[pb.HistoryEvent] = field(default_factory=list)
    outbox: list[Outbox] = field(default_factory=list)
