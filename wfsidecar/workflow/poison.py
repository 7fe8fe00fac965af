"""Surfacing work that keeps killing its worker (issue #5 "poison pills").

The dispatcher gives up on a work item after ``max_attempts`` dispatches that each ended
with the worker's stream. What the client then sees depends on the dialect: the Dapr
dialect has a status for it, STALLED (with the reason in the ExecutionStalled event, and
the next successfully applied event clears it); the Microsoft dialect has none, so the
task fails with an error that says what happened.
"""

from __future__ import annotations

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import TurnContext
from wfsidecar.engine import history as h
from wfsidecar.workflow import effects, projection
from wfsidecar.workflow.dispatch import WorkItem
from wfsidecar.workflow.state import MICROSOFT, WorkflowState

ERROR_TYPE = "WorkItemPoisoned"


def describe(item: WorkItem) -> str:
    what = "orchestration turn" if item.kind == "orchestrator" else f"activity {item.name!r}"
    if item.poison_reason:
        return f"the {what} {item.poison_reason}"
    return (f"the {what} was dispatched {item.attempts} times and its worker went away each "
            "time without completing it (a crash in the app?); wfsidecar stopped retrying")


def failure(item: WorkItem) -> pb.TaskFailureDetails:
    return h.failure_details(ERROR_TYPE, describe(item))


def stall(ctx: TurnContext, instance_id: str, state: WorkflowState, reason: str) -> None:
    """Dapr: record ExecutionStalled so GetInstance reports STALLED with ``reason``."""
    if projection.terminal(instance_id, state):
        return
    before = state.copy()
    if not state.history:
        if not state.inbox or not state.inbox[0].HasField("executionStarted"):
            return
        # Never ran: its start moves into the history so the stall is visible on it.
        state.history, state.inbox = [state.inbox[0]], state.inbox[1:]
    event = h.new_event(ctx.now_ms)
    # No StalledReason code fits a lost worker; the description carries the reason.
    event.executionStalled.description = reason
    state.history = [*state.history, event]
    state.save(ctx, before)


def fail_orchestration(ctx: TurnContext, instance_id: str, state: WorkflowState,
                       details: pb.TaskFailureDetails) -> None:
    """Microsoft: the orchestration fails; its parent hears of it like any child failure."""
    view = projection.view(instance_id, state)
    if view is None or view.status in engine.TERMINAL:
        return
    before = state.copy()
    completed = h.execution_completed(pb.ORCHESTRATION_STATUS_FAILED, None, details,
                                      ctx.now_ms)
    started = [] if state.history else state.inbox[:1]  # never ran: keep its start
    state.history = [*state.history, *started, completed]
    state.inbox = []
    effects.drop_pending_timers(ctx, state.generation, state.history)
    state.save(ctx, before)
    if view.parent_instance_id and view.parent_task_id is not None:
        notice = engine.sub_orchestration_failed(view.parent_task_id, details, ctx.now_ms)
        effects.send(ctx, view.parent_instance_id, notice, MICROSOFT)


def give_up(ctx: TurnContext, instance_id: str, state: WorkflowState, item: WorkItem) -> None:
    """The orchestrator work item is poison: fail (Microsoft) or stall (Dapr) the instance."""
    if state.dialect == MICROSOFT:
        fail_orchestration(ctx, instance_id, state, failure(item))
        ctx.delete_reminder("run")
    else:
        stall(ctx, instance_id, state, describe(item))
