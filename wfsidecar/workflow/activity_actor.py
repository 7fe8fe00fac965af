"""ActivityActor: one per scheduled activity, id ``<instanceId>#<taskId>``.

Its only state is ``activityreq-<generation>`` (the serialized ActivityRequest), written by
the workflow turn that scheduled it, together with its ``run-activity`` reminder. Firing
hands the request to the dispatcher and parks the reminder; the worker's result goes
straight to the workflow actor, whose turn appends it to the inbox and deletes this
actor's reminder in one commit. The request key is deleted by the workflow turn that
consumes the result, so a crash in between re-runs the activity rather than losing it
(at-least-once, engine.md §2.4).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import ActorHost, ReminderResult, TurnContext
from wfsidecar.clock import Clock
from wfsidecar.errors import NotFoundError
from wfsidecar.types import ActorRef
from wfsidecar.workflow import poison
from wfsidecar.workflow.dispatch import WorkItem, WorkItemDispatcher
from wfsidecar.workflow.effects import RUN_ACTIVITY
from wfsidecar.workflow.messages import ActivityResult
from wfsidecar.workflow.state import (
    MICROSOFT,
    WORKFLOW_ACTOR,
    activity_key,
    parse_activity_actor_id,
)

logger = logging.getLogger(__name__)


class ActivityActor:
    def __init__(self, ref: ActorRef, host: ActorHost, dispatcher: WorkItemDispatcher,
                 clock: Clock) -> None:
        self.ref = ref
        self.instance_id, self.task_id = parse_activity_actor_id(ref.id)
        self._host = host
        self._dispatcher = dispatcher
        self._clock = clock
        self._in_flight: WorkItem | None = None
        self._in_flight_generation = 0

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        raise NotFoundError(f"activity actor has no method {method!r}")

    def on_discard(self) -> None:
        """Thrown away (a failed turn, or its partition moved to another daemon and
        maybe back): the work out with a worker is no longer this instance's, so its
        answer is refused as stale rather than applied next to the result of the run
        the reminder's next firing starts (a duplicate TaskCompleted)."""
        if self._in_flight is not None and not self._in_flight.done:
            self._in_flight.superseded = True
        self._in_flight = None

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        if name != RUN_ACTIVITY:
            return ReminderResult.DONE
        generation_text, _, dialect = data.decode().partition(":")
        generation = int(generation_text)
        if self._in_flight is not None and not self._in_flight.done \
                and self._in_flight_generation == generation:
            return ReminderResult.PARK
        for key in list(ctx.keys("activityreq-")):
            # An older generation's request whose reminder this generation's overwrote
            # (task ids restart at 0): it will never run, so it goes now rather than
            # staying behind forever. A result of it still out is dropped as stale.
            if int(key.rpartition("-")[2]) < generation:
                ctx.delete(key)
        raw = ctx.get(activity_key(generation))
        if raw is None:
            return ReminderResult.DONE  # already applied or purged
        request = pb.ActivityRequest.FromString(raw)
        item = WorkItem("activity", self.instance_id, raw, task_id=request.taskId,
                        on_complete=self._deliver(generation), dialect=dialect or "dapr",
                        on_poison=self._give_up(generation),
                        name=request.name, version=request.version.value)
        # A result still out for an older generation (the instance continued as new or
        # was re-created, and task ids restart at 0) must not hold this one back: it is
        # dropped as stale when it arrives (engine.md §7 hazard 6).
        self._in_flight, self._in_flight_generation = item, generation
        self._dispatcher.submit(item)
        return ReminderResult.PARK

    def _give_up(self, generation: int) -> Callable[[WorkItem], Awaitable[None]]:
        async def give_up(item: WorkItem) -> None:
            workflow = ActorRef(WORKFLOW_ACTOR, self.instance_id)
            if item.dialect == MICROSOFT:
                # The orchestration sees an ordinary activity failure it can handle.
                event = engine.task_failed(
                    item.task_id, poison.failure(item),
                    self._clock.now_ms())
                await self._host.invoke(workflow, "activity_result",
                                        ActivityResult(generation, event, self.ref, item))
            else:
                await self._host.invoke(workflow, "stall", poison.describe(item))

        return give_up

    def _deliver(self, generation: int) -> Callable[[WorkItem, bytes], Awaitable[None]]:
        async def deliver(item: WorkItem, raw: bytes) -> None:
            if item.superseded:  # see on_discard
                raise NotFoundError(f"stale activity result for {self.ref.id}: the work"
                                    " item was given up when its actor was discarded")
            response = pb.ActivityResponse.FromString(raw)
            request = pb.ActivityRequest.FromString(item.payload)
            event = _result_event(response, request, self._clock.now_ms())
            await self._host.invoke(ActorRef(WORKFLOW_ACTOR, self.instance_id),
                                    "activity_result",
                                    ActivityResult(generation, event, self.ref, item))

        return deliver


def _result_event(response: pb.ActivityResponse, request: pb.ActivityRequest,
                  now_ms: int) -> pb.HistoryEvent:
    # taskExecutionId carries the Dapr SDK's retry identity from request to result.
    execution_id = request.taskExecutionId
    if response.HasField("failureDetails"):
        return engine.task_failed(request.taskId, response.failureDetails, now_ms,
                                  task_execution_id=execution_id)
    result = response.result.value if response.HasField("result") else None
    return engine.task_completed(request.taskId, result, now_ms,
                                 task_execution_id=execution_id)
