"""OrchestratorActions → history events + outbox (protocol.md §5.2, engine.md §1.4).

Completion actions (complete / continue-as-new) live in ``completion.py``; this module
handles every action that leaves the instance running.
"""

from __future__ import annotations

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import entities
from wfsidecar.engine import history as h
from wfsidecar.engine.outbox import (
    DeliverEvent,
    Recorder,
    ScheduleActivity,
    ScheduleTimer,
    StartChild,
    TerminateInstance,
)
from wfsidecar.errors import InvalidArgumentError
from wfsidecar.telemetry.trace_ids import child_span_id


def own_app_id(started: pb.HistoryEvent) -> str:
    # Same rule the Dapr SDK applies to learn ctx.app_id from ExecutionStarted.router.
    return started.router.targetAppID or started.router.sourceAppID


def _router(action: pb.OrchestratorAction, inner: pb.TaskRouter) -> pb.TaskRouter | None:
    # The Dapr SDK sets the router both on the action (field 9) and inside the payload.
    if action.HasField("router"):
        return action.router
    return inner if inner.ByteSize() else None


def record_action(rec: Recorder, action: pb.OrchestratorAction, kind: str) -> None:
    """Apply one non-completion action; raise InvalidArgumentError if it is malformed."""
    if kind == "scheduleTask":
        st = action.scheduleTask
        if not st.name:
            raise InvalidArgumentError(f"scheduleTask action {action.id} has no activity name")
        event = h.new_event(rec.now_ms, action.id)  # eventId = action id (protocol.md §0 finding 4)
        ts = event.taskScheduled
        ts.name = st.name
        if st.HasField("version"):
            ts.version.CopyFrom(st.version)
        if st.HasField("input"):
            ts.input.CopyFrom(st.input)
        ts.taskExecutionId = st.taskExecutionId
        # Microsoft: tags and the trace context ride from the action to the event and on
        # to the ActivityRequest (protocol.md §7 "Tags", "Trace context").
        ts.tags.update(st.tags)
        if st.HasField("parentTraceContext"):
            ts.parentTraceContext.CopyFrom(st.parentTraceContext)
        activity_context = _activity_context(rec, action.id)
        if activity_context is not None and not st.HasField("parentTraceContext"):
            # What the worker sees in history: the activity span's context.
            ts.parentTraceContext.CopyFrom(activity_context)
        if st.HasField("historyPropagationScope"):  # optional: copy presence too
            ts.historyPropagationScope = st.historyPropagationScope
        _copy_router(event, _router(action, st.router))
        rec.events.append(event)
        rec.outbox.append(ScheduleActivity(action.id, event, activity_context))
    elif kind == "createTimer":
        ct = action.createTimer
        if not ct.HasField("fireAt"):
            raise InvalidArgumentError(f"createTimer action {action.id} has no fireAt")
        event = h.new_event(rec.now_ms, action.id)
        event.timerCreated.fireAt.CopyFrom(ct.fireAt)
        event.timerCreated.name = ct.name
        origin = ct.WhichOneof("origin")
        if origin is not None:  # Dapr 1.18: why the SDK created the timer (retry, event)
            getattr(event.timerCreated, origin).CopyFrom(getattr(ct, origin))
        rec.events.append(event)
        rec.outbox.append(_timer(rec, event))
    elif kind == "createSubOrchestration":
        _create_child(rec, action)
    elif kind == "sendEvent":
        se = action.sendEvent
        target = se.instance.instanceId
        if not target or not se.name:
            raise InvalidArgumentError(
                f"sendEvent action {action.id} needs a target instance id and an event name")
        event = h.new_event(rec.now_ms, action.id)
        event.eventSent.instanceId = target
        event.eventSent.name = se.name
        if se.HasField("data"):
            event.eventSent.input.CopyFrom(se.data)
        rec.events.append(event)
        # Deliver an EventRaised, not the raw EventSent the reference engines forward
        # (hazard 32): SDKs only understand EventRaised.
        data = se.data.value if se.HasField("data") else None
        rec.outbox.append(DeliverEvent(target, h.event_raised(se.name, data, rec.now_ms)))
    elif kind == "terminateOrchestration":
        to = action.terminateOrchestration
        if not to.instanceId:
            raise InvalidArgumentError(
                f"terminateOrchestration action {action.id} has no target instance id")
        reason = to.reason.value if to.HasField("reason") else None
        # Nothing goes into our own history (protocol.md §5.2 row 7).
        rec.outbox.append(TerminateInstance(
            to.instanceId, h.execution_terminated(reason, to.recurse, rec.now_ms)))
    elif kind == "orchestratorVersionNotAvailable":
        # Dapr versioning: the worker has no code for this version. Record the stall; the
        # next applied event clears it (protocol.md §5.2 row 10).
        name = rec.started.executionStarted.name
        rec.events.append(h.execution_stalled(f"Version not available: {name}", rec.now_ms))
    elif kind == "createDetachedWorkflow":
        _create_detached(rec, action)
    elif kind == "sendEntityMessage":
        _entity_message(rec, action)
    else:
        raise InvalidArgumentError(
            f"action {action.id} of kind {kind!r} is not supported by this sidecar")


def record_delivered(rec: Recorder, event: pb.HistoryEvent) -> None:
    """Side effects of scheduling events that arrived in the inbox instead of as actions.

    Only a rerun (``rerun.py``) delivers these: the cloned-but-unfinished activities,
    timers and children of the source instance must run again in the new instance.
    """
    kind = event.WhichOneof("eventType")
    if kind == "taskScheduled":
        rec.outbox.append(ScheduleActivity(event.eventId, event,
                                           _activity_context(rec, event.eventId)))
    elif kind == "timerCreated":
        rec.outbox.append(_timer(rec, event))
    elif kind == "subOrchestrationInstanceCreated":
        sc = event.subOrchestrationInstanceCreated
        router = event.router if event.HasField("router") else None
        rec.outbox.append(StartChild(sc.instanceId, _child_started(
            rec, sc.instanceId, sc.name, sc.version.value or None,
            sc.input.value if sc.HasField("input") else None, event.eventId, router)))


# Scheduling event kind → the kinds that resolve it (matched by taskScheduledId/timerId).
def _activity_context(rec: Recorder, task_id: int) -> pb.TraceContext | None:
    # A traced instance hands each activity its own span's context (the fork's rewrite of
    # the ActivityRequest, engine.md §6), so the worker's spans nest under that span.
    if rec.trace is None:
        return None
    return rec.trace.context(rec.trace.activity_span_id(task_id))


def _timer(rec: Recorder, created: pb.HistoryEvent) -> ScheduleTimer:
    fire_at = created.timerCreated.fireAt
    fired = h.timer_fired(created.eventId, fire_at, rec.now_ms)
    return ScheduleTimer(created.eventId, fire_at.ToMilliseconds(), fired)


def _copy_router(event: pb.HistoryEvent, router: pb.TaskRouter | None) -> None:
    # go copies action routers onto the events it creates (protocol.md §6).
    if router is not None:
        event.router.CopyFrom(router)


def _create_child(rec: Recorder, action: pb.OrchestratorAction) -> None:
    cs = action.createSubOrchestration
    if not cs.name:
        raise InvalidArgumentError(
            f"createSubOrchestration action {action.id} has no orchestrator name")
    # go's default child id: "<parentId>:<action id as 4 lowercase hex digits>" (§5.2 row 3).
    child_id = cs.instanceId or f"{rec.instance_id}:{action.id:04x}"
    _check_child_id(child_id, action)
    router = _router(action, cs.router)
    event = h.new_event(rec.now_ms, action.id)
    created = event.subOrchestrationInstanceCreated
    created.instanceId = child_id
    created.name = cs.name
    if cs.HasField("version"):
        created.version.CopyFrom(cs.version)
    if cs.HasField("input"):
        created.input.CopyFrom(cs.input)
    if cs.HasField("historyPropagationScope"):
        created.historyPropagationScope = cs.historyPropagationScope
    created.tags.update(cs.tags)  # Microsoft: sub-orchestration tags (protocol.md §7)
    _copy_router(event, router)
    rec.events.append(event)
    input = cs.input.value if cs.HasField("input") else None
    started = _child_started(rec, child_id, cs.name, cs.version.value or None, input,
                             action.id, router)
    started.executionStarted.tags.update(cs.tags)
    if cs.HasField("parentTraceContext") and rec.trace is None:
        started.executionStarted.parentTraceContext.CopyFrom(cs.parentTraceContext)
    rec.outbox.append(StartChild(child_id, started))


def _check_child_id(child_id: str, action: pb.OrchestratorAction) -> None:
    # Ids chosen by workflow code bypass StartInstance's validation. '#' separates the
    # instance from the task in activity actor ids, and '::' is the separator of Dapr's
    # own actor ids; SDK default child ids ("<parent>:<hex>") use single colons only
    # (engine.md §7 hazard 33).
    bad = [part for part in ("#", "::") if part in child_id]
    if bad or not child_id.strip() or not child_id.isprintable():
        raise InvalidArgumentError(
            f"action {action.id} names child instance id {child_id!r}, which may not be "
            "blank or contain '#', '::' or control characters")


def _child_started(rec: Recorder, child_id: str, name: str, version: str | None,
                   input: str | None, task_id: int,
                   router: pb.TaskRouter | None) -> pb.HistoryEvent:
    parent_es = rec.started.executionStarted
    parent_app = (router.sourceAppID if router else "") or own_app_id(rec.started)
    parent = pb.ParentInstanceInfo(taskScheduledId=task_id, appID=parent_app)
    parent.name.value = parent_es.name
    if parent_es.HasField("version"):
        parent.version.CopyFrom(parent_es.version)
    parent.orchestrationInstance.CopyFrom(parent_es.orchestrationInstance)
    execution_id = rec.new_execution_id()
    context, span_id = _child_trace(rec, child_id, execution_id)
    started = h.execution_started(
        name=name, instance_id=child_id, execution_id=execution_id, input=input,
        version=version, now_ms=rec.now_ms, parent=parent,
        parent_trace_context=context, span_id=span_id)
    # The child learns its app id from this router, as the parent did (protocol.md §6):
    # the SDK prefers targetAppID, so a cross-app router names the child's app.
    if router is not None:
        started.router.CopyFrom(router)
    elif parent_app:
        started.router.sourceAppID = parent_app
    return started


def _child_trace(rec: Recorder, child_id: str,
                 execution_id: str) -> tuple[pb.TraceContext | None, str | None]:
    """(parentTraceContext, span id) of an instance this one starts: a traced instance's
    children are traced, their spans children of its own (engine.md §6); an untraced one
    passes its own parent context on, as it always did."""
    if rec.trace is not None:
        return rec.trace.context(), child_span_id(child_id, execution_id)
    parent_es = rec.started.executionStarted
    return (parent_es.parentTraceContext if parent_es.HasField("parentTraceContext")
            else None), None


def _create_detached(rec: Recorder, action: pb.OrchestratorAction) -> None:
    detached = action.createDetachedWorkflow  # Dapr 1.18+ (SDK API in 1.19)
    child_id = detached.instanceId
    if not child_id or not detached.name:
        raise InvalidArgumentError(
            f"createDetachedWorkflow action {action.id} needs an instance id and a name")
    _check_child_id(child_id, action)
    execution_id = detached.executionId.value or rec.new_execution_id()
    context = detached.parentTraceContext if detached.HasField("parentTraceContext") else None
    span_id = None
    if rec.trace is not None:
        context, span_id = rec.trace.context(), child_span_id(child_id, execution_id)
    started = h.execution_started(
        name=detached.name, instance_id=child_id, execution_id=execution_id,
        parent_trace_context=context, span_id=span_id,
        input=detached.input.value if detached.HasField("input") else None,
        version=detached.version.value or None, now_ms=rec.now_ms,
        scheduled_start_ms=(detached.scheduledStartTimestamp.ToMilliseconds()
                            if detached.HasField("scheduledStartTimestamp") else None),
        tags=dict(detached.tags),
        app_id=detached.router.targetAppID or own_app_id(rec.started) or None)
    event = h.new_event(rec.now_ms, action.id)
    event.detachedWorkflowInstanceCreated.instanceId = child_id
    rec.events.append(event)
    # No parent link: the new instance never reports back (protocol.md §5.2 row 11).
    rec.outbox.append(StartChild(child_id, started))



def _entity_message(rec: Recorder, action: pb.OrchestratorAction) -> None:
    message = entities.orchestration_message(action, rec.instance_id, rec.started, rec.now_ms)
    rec.events.append(message.event)
    rec.outbox.append(message)
