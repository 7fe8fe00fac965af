"""Why is this instance stuck? A read-only answer built from its history and the dispatcher.

Nothing here changes state or takes a turn beyond the snapshot read: pending activities
are the TaskScheduled events no result has resolved yet (``engine.scheduling
.unresolved_scheduling``), each with where its work item is; pending timers come from
``engine.unfired_timers``; whether a worker can run the instance is asked of the
connected streams' work-item filters (``DispatchView.streams_accepting``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.clock import Clock
from wfsidecar.engine import RuntimeStatus
from wfsidecar.engine.scheduling import unresolved_scheduling
from wfsidecar.errors import NotFoundError
from wfsidecar.workflow.dispatch_view import DispatchView, WorkState
from wfsidecar.workflow.messages import InstanceSnapshot
from wfsidecar.workflow.service import WorkflowService


@dataclass(frozen=True, slots=True)
class PendingActivity:
    task_id: int
    name: str
    scheduled_ms: int
    work: WorkState | None  # None: neither queued nor held by a worker right now
    runnable_by: tuple[int, ...]  # connected streams that accept it


@dataclass(frozen=True, slots=True)
class PendingTimer:
    timer_id: int
    fire_at_ms: int


@dataclass(frozen=True, slots=True)
class PendingChild:
    task_id: int
    instance_id: str
    name: str


@dataclass(frozen=True, slots=True)
class LastFailure:
    event_id: int
    kind: str  # the history event's type (TaskFailed, ExecutionCompleted, ...)
    error_type: str
    message: str
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class Diagnosis:
    snapshot: InstanceSnapshot
    turn: WorkState | None  # the instance's own orchestrator work item, if any
    activities: tuple[PendingActivity, ...]
    timers: tuple[PendingTimer, ...]
    children: tuple[PendingChild, ...]
    last_failure: LastFailure | None
    idle_ms: int  # since the instance last changed
    runnable_by: tuple[int, ...]  # connected streams that accept its orchestrator turns
    connected: tuple[int, ...]  # connected streams of its dialect
    hints: tuple[str, ...]  # the likely reasons it is not moving, in words


# Dapr's SDKs wait for an external event without a timeout by a timer due in year 9999.
NEVER_MS = 253_370_764_800_000  # 9999-01-01T00:00:00Z


class Diagnostics:
    """Diagnoses instances from their snapshot and the dispatcher's view."""

    def __init__(self, service: WorkflowService, dispatch: DispatchView, clock: Clock) -> None:
        self._service = service
        self._dispatch = dispatch
        self._clock = clock

    async def diagnose(self, instance_id: str) -> Diagnosis:
        """Raises NotFoundError for an unknown instance."""
        snapshot = await self._service.get(instance_id)
        if snapshot is None:
            raise NotFoundError(f"no workflow instance with ID '{instance_id}'")
        now_ms = self._clock.now_ms()
        view, history = snapshot.view, snapshot.history
        work = self._dispatch.work_of(view.instance_id)
        streams = [s.stream for s in self._dispatch.streams() if s.dialect == snapshot.dialect]
        runnable = tuple(self._dispatch.streams_accepting(
            "orchestrator", snapshot.dialect, view.name, view.version or ""))
        open_ = sorted(unresolved_scheduling(history))
        activities = []
        for index in open_:
            event = history[index]
            if event.HasField("taskScheduled"):
                task = event.taskScheduled
                activities.append(PendingActivity(
                    event.eventId, task.name, event.timestamp.ToMilliseconds(),
                    next((w for w in work if w.kind == "activity"
                          and w.task_id == event.eventId), None),
                    tuple(self._dispatch.streams_accepting(
                        "activity", snapshot.dialect, task.name, task.version.value))))
        children = [PendingChild(history[i].eventId,
                                 history[i].subOrchestrationInstanceCreated.instanceId,
                                 history[i].subOrchestrationInstanceCreated.name)
                    for i in open_ if history[i].HasField("subOrchestrationInstanceCreated")]
        timers = [PendingTimer(e.eventId, e.timerCreated.fireAt.ToMilliseconds())
                  for e in engine.unfired_timers(history)]
        diagnosis = Diagnosis(
            snapshot, next((w for w in work if w.kind == "orchestrator"), None),
            tuple(activities), tuple(timers), tuple(children), last_failure(history),
            max(now_ms - view.last_updated_ms, 0), runnable, tuple(streams), ())
        return _with_hints(diagnosis, now_ms)


def last_failure(history: tuple[pb.HistoryEvent, ...]) -> LastFailure | None:
    """The newest failure the history records: of an activity, a child or the instance."""
    for event in reversed(history):
        kind = event.WhichOneof("eventType")
        details: pb.TaskFailureDetails | None = None
        if kind in ("taskFailed", "subOrchestrationInstanceFailed"):
            details = getattr(event, kind).failureDetails
        elif kind == "executionCompleted" and event.executionCompleted.HasField(
                "failureDetails"):
            details = event.executionCompleted.failureDetails
        if details is not None and kind is not None:
            return LastFailure(event.eventId, kind[0].upper() + kind[1:], details.errorType,
                               details.errorMessage, event.timestamp.ToMilliseconds())
    return None


def _with_hints(d: Diagnosis, now_ms: int) -> Diagnosis:
    view, dialect = d.snapshot.view, d.snapshot.dialect
    hints: list[str] = []
    if view.status in engine.TERMINAL:
        hints.append(f"it has finished ({view.status.name}); nothing is pending")
    elif view.status is RuntimeStatus.STALLED:
        hints.append(f"it is stalled: {view.stall_reason}; a later event (e.g. a resume "
                     "or a new worker version) clears it")
    elif view.status is RuntimeStatus.SUSPENDED:
        hints.append("it is suspended; resume it to let it continue")
    elif view.scheduled_start_ms is not None and view.scheduled_start_ms > now_ms:
        hints.append("its scheduled start time has not come yet")
    if view.status not in engine.TERMINAL:
        if not d.connected:
            hints.append(f"no worker of the {dialect} dialect is connected")
        elif not d.runnable_by and (d.turn is not None or d.snapshot.inbox_len):
            hints.append(f"no connected {dialect} worker accepts workflow {view.name!r}"
                         + (f" version {view.version!r}" if view.version else ""))
        for act in d.activities:
            if d.connected and not act.runnable_by:
                hints.append(f"no connected worker accepts activity {act.name!r}")
            if act.work is not None and act.work.attempts > 1:
                hints.append(f"activity {act.name!r} (task {act.task_id}) has been "
                             f"dispatched {act.work.attempts} times without a result")
        timers = [t for t in d.timers if t.fire_at_ms < NEVER_MS]
        idle = not d.activities and not d.children and d.turn is None
        if timers and idle:
            first = min(t.fire_at_ms for t in timers)
            hints.append("it is waiting for a durable timer" if first > now_ms
                         else "a durable timer is due and about to fire")
        elif idle and not d.snapshot.inbox_len and view.status is RuntimeStatus.RUNNING:
            hints.append("nothing else is scheduled: it is most likely waiting for an "
                         "external event")
    return replace(d, hints=tuple(hints))
