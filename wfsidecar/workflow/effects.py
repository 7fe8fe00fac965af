"""A turn's side effects, written into the turn's own transaction.

Each effect becomes durable state or a reminder on the target actor, committed together
with the history that caused it: an activity request under the activity actor's key plus
its ``run-activity`` reminder; a durable timer as a reminder on the workflow itself; a
message to another instance (child start, event, termination, parent notification) as an
``evt-*`` reminder on that instance, carrying the HistoryEvent as data.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import TurnContext
from wfsidecar.engine import rewind
from wfsidecar.errors import FailedPreconditionError
from wfsidecar.types import ActorRef
from wfsidecar.workflow import projection
from wfsidecar.workflow.messages import ActivityResult, PurgeOutcome
from wfsidecar.workflow.state import (
    ACTIVITY_ACTOR,
    ENTITY_ACTOR,
    WORKFLOW_ACTOR,
    WorkflowState,
    activity_actor_id,
    activity_key,
)

RUN_ACTIVITY = "run-activity"


def activity_ref(instance_id: str, task_id: int) -> ActorRef:
    return ActorRef(ACTIVITY_ACTOR, activity_actor_id(instance_id, task_id))


def send(ctx: TurnContext, target_instance: str, event: pb.HistoryEvent,
         dialect: str = "dapr", *, for_execution: str = "") -> None:
    """Deliver ``event`` to another workflow instance, durably with this turn.

    The sender's dialect rides in the reminder name so that a child it starts is run by
    the same SDK family (``evt-<dialect>-<random>``); a message meant only for one
    execution of the target adds that execution's tag (``evt-<dialect>-<random>-<tag>``).
    """
    tag = f"-{execution_tag(for_execution)}" if for_execution else ""
    ctx.set_reminder(f"evt-{dialect}-{uuid.uuid4().hex[:12]}{tag}", due_ms=ctx.now_ms,
                     data=event.SerializeToString(),
                     ref=ActorRef(WORKFLOW_ACTOR, target_instance))


def execution_tag(execution_id: str) -> str:
    """A reminder-name-safe stand-in for an execution id (those may be any string)."""
    return hashlib.sha256(execution_id.encode()).hexdigest()[:16]


def addressed_here(instance_id: str, state: WorkflowState, wanted: str | None) -> bool:
    """Whether an event tagged for execution ``wanted`` (None: any) is for the current
    one: a child's result names the parent execution that started it, and a parent since
    re-created or continued as new must drop it (engine.md §7 hazard 34)."""
    current = projection.view(instance_id, state)
    return wanted is None or current is None or execution_tag(current.execution_id) == wanted


def read_event_reminder(name: str) -> tuple[str, str | None]:
    """(sender dialect, execution tag or None if meant for any) of an ``evt-*`` reminder
    name written by ``send`` (names from before dialects were recorded mean Dapr)."""
    parts = name.split("-")
    dialect = parts[1] if len(parts) >= 3 else "dapr"
    return dialect, parts[3] if len(parts) == 4 else None


def purged_child_start(state: WorkflowState, event: pb.HistoryEvent,
                       now_ms: int) -> pb.HistoryEvent:
    """``event`` as this instance should take it: a parent's rewind that finds this failed
    child purged becomes the ExecutionStarted that creates it again from the original
    creation the rewind carries (``rewind.child_rewound``); dropping it, as any event for
    a missing instance is, would leave the rewound parent waiting for the child forever."""
    if state.exists or not event.HasField("executionRewound"):
        return event
    return rewind.recreated_child(event, uuid.uuid4().hex, now_ms) or event


def send_entity(ctx: TurnContext, entity_id: str, event: pb.HistoryEvent, due_ms: int) -> None:
    """Deliver an operation request to an entity's queue, durably with this turn
    (``msg-<random>`` on the entity actor; a future ``due_ms`` delays a signal)."""
    ctx.set_reminder(f"msg-{uuid.uuid4().hex[:12]}", due_ms=max(due_ms, ctx.now_ms),
                     data=event.SerializeToString(), ref=ActorRef(ENTITY_ACTOR, entity_id))


def apply_outbox(ctx: TurnContext, instance_id: str, execution_id: str, generation: int,
                 outbox: Iterable[engine.Outbox], dialect: str = "dapr") -> None:
    for item in outbox:
        if isinstance(item, engine.ScheduleActivity):
            request = engine.build_activity_request(instance_id, execution_id, item.scheduled,
                                                    item.trace_context)
            target = activity_ref(instance_id, item.task_id)
            ctx.put_foreign(target, activity_key(generation), request.SerializeToString())
            ctx.set_reminder(RUN_ACTIVITY, due_ms=ctx.now_ms,
                             data=f"{generation}:{dialect}".encode(), ref=target)
        elif isinstance(item, engine.ScheduleTimer):
            ctx.set_reminder(timer_reminder(generation, item.timer_id), due_ms=item.fire_at_ms,
                             data=item.fired.SerializeToString())
        elif isinstance(item, engine.StartChild | engine.DeliverEvent |
                        engine.TerminateInstance | engine.NotifyParent):
            target_id = item.instance_id
            event = item.started if isinstance(item, engine.StartChild) else item.event
            execution = item.execution_id if isinstance(item, engine.NotifyParent) else ""
            send(ctx, target_id, event, dialect, for_execution=execution)
        elif isinstance(item, engine.MessageEntity):
            send_entity(ctx, item.entity_id, item.event, item.due_ms)
        else:  # pragma: no cover - the engine's Outbox union is closed
            raise AssertionError(f"unknown outbox item {item!r}")


def release_consumed_activities(ctx: TurnContext, instance_id: str, generation: int,
                                consumed: Sequence[pb.HistoryEvent]) -> None:
    """Results applied by this turn: their activity actors' request keys go with it."""
    for event in consumed:
        if event.HasField("taskCompleted"):
            task_id = event.taskCompleted.taskScheduledId
        elif event.HasField("taskFailed"):
            task_id = event.taskFailed.taskScheduledId
        else:
            continue
        ctx.delete_foreign(activity_ref(instance_id, task_id), activity_key(generation))


def timer_reminder(generation: int, timer_id: int) -> str:
    return f"timer-{generation}-{timer_id}"


def timer_generation(name: str) -> int:
    """The generation a ``timer_reminder`` name belongs to."""
    return int(name.split("-")[1])


def drop_pending_timers(ctx: TurnContext, generation: int,
                        history: Sequence[pb.HistoryEvent]) -> None:
    """The generation ended (completed, failed, terminated, continued as new, replaced):
    delete its timers that have not fired.

    A late timer would be ignored anyway (its generation is stale or the instance is
    terminal), but its reminder row would stay until it fired, and SDKs create timers
    that never fire: an external-event wait without a timeout is a timer at 9999-12-31.
    """
    for event in engine.unfired_timers(history):
        ctx.delete_reminder(timer_reminder(generation, event.eventId))


def delete_open_activities(ctx: TurnContext, instance_id: str, generation: int,
                           history: Sequence[pb.HistoryEvent]) -> None:
    """Purge: remove activity actors whose result never arrived (force purge)."""
    done = {e.taskCompleted.taskScheduledId for e in history if e.HasField("taskCompleted")}
    done |= {e.taskFailed.taskScheduledId for e in history if e.HasField("taskFailed")}
    for event in history:
        if event.HasField("taskScheduled") and event.eventId not in done:
            ctx.delete_foreign_actor(activity_ref(instance_id, event.eventId))


def settle_activity(ctx: TurnContext, instance_id: str, state: WorkflowState,
                    result: ActivityResult) -> bool:
    """Tidy up after an activity's result; True if it is for the current, live
    generation and must be accepted into the inbox."""
    stale = not state.exists or result.generation != state.generation
    if not (stale and projection.scheduled(state.history, result.item.task_id)):
        # Task ids restart at 0 in every generation: when the current one scheduled this
        # id too, the activity actor's reminder is its, not the stale result's (engine.md
        # §7 hazard 6).
        ctx.delete_reminder(RUN_ACTIVITY, ref=result.activity)
    if stale or projection.terminal(instance_id, state):
        ctx.delete_foreign(result.activity, activity_key(result.generation))
        return False
    return True


def purge(ctx: TurnContext, instance_id: str, state: WorkflowState, *,
          force: bool) -> PurgeOutcome:
    """Delete the instance with its open activities (refused while running, unless forced)."""
    view = projection.view(instance_id, state) if state.exists else None
    if view is None:
        return PurgeOutcome(False, ())
    if view.status not in engine.TERMINAL and not force:
        raise FailedPreconditionError(
            f"workflow '{instance_id}' is {view.status.name}; only completed, "
            "failed or terminated workflows can be purged (or use force)")
    delete_open_activities(ctx, instance_id, state.generation, state.history)
    ctx.delete_actor()
    return PurgeOutcome(True, view.child_instance_ids)
