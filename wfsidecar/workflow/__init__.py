"""The workflow feature: workflow and activity actors, the work-item dispatcher, the service."""

from __future__ import annotations

from wfsidecar.actors import ActorRuntime
from wfsidecar.clock import Clock
from wfsidecar.telemetry.observer import NULL, Observer
from wfsidecar.workflow.activity_actor import ActivityActor
from wfsidecar.workflow.dispatch import WorkItemDispatcher
from wfsidecar.workflow.entity_actor import EntityActor
from wfsidecar.workflow.state import (
    ACTIVITY_ACTOR,
    ENTITY_ACTOR,
    WORKFLOW_ACTOR,
    parse_activity_actor_id,
)
from wfsidecar.workflow.waiters import StatusWaiters
from wfsidecar.workflow.workflow_actor import WorkflowActor


def register_actor_types(runtime: ActorRuntime, dispatcher: WorkItemDispatcher,
                         waiters: StatusWaiters, clock: Clock,
                         observer: Observer = NULL) -> None:
    """Host the three internal actor types of the workflow engine on ``runtime``."""
    runtime.register(WORKFLOW_ACTOR, lambda ref, host: WorkflowActor(
        ref, host, dispatcher, waiters.publish, observer))
    runtime.register(ACTIVITY_ACTOR,
                     lambda ref, host: ActivityActor(ref, host, dispatcher, clock),
                     instance_of=lambda actor_id: parse_activity_actor_id(actor_id)[0])
    runtime.register(ENTITY_ACTOR, lambda ref, host: EntityActor(ref, host, dispatcher))


__all__ = ["StatusWaiters", "WorkItemDispatcher", "register_actor_types"]
