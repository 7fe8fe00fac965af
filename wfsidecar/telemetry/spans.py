"""The spans of a workflow instance, derived from the history events its turns commit.

Pure data, no OpenTelemetry (``tracing.py`` exports what this returns). Each span is
made once, complete, from what the committed history says: an activity span when its
result is applied (scheduled → result), a timer span when it fires (created → fired), an
event-wait span when the event is delivered, and the instance span when the instance
reaches a terminal status (creation → end). Ids and start times come from persisted data
(trace_ids.py, the TaskScheduled/TimerCreated events, the instance's creation time), so a
span made after a daemon restart has the same ids and times as without it.

Names, kinds and attributes follow durabletask-go (engine.md §6): ``orchestration||<name>``
(SERVER), ``activity||<name>`` (SERVER), ``timer`` (INTERNAL) with ``durabletask.*``
attributes; a failure sets the span's error status and OpenTelemetry's ``error.type``.
Waits for external events (``event||<name>``, INTERNAL) have no upstream counterpart.
Payloads (inputs, outputs, event data) become attributes only if ``include_payloads``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.telemetry.history_lookup import find_back, index_back, is_turn_start
from wfsidecar.telemetry.observer import WorkflowCommit, WorkItemEvent
from wfsidecar.telemetry.trace_ids import InstanceTrace, instance_trace

Kind = Literal["SERVER", "CLIENT", "INTERNAL", "PRODUCER", "CONSUMER"]
Attributes = dict[str, str | int | bool]

# OrchestrationStatus values (engine.RuntimeStatus, which this layer may not import).
_TERMINAL: dict[int, str] = {pb.ORCHESTRATION_STATUS_COMPLETED: "COMPLETED",
             pb.ORCHESTRATION_STATUS_FAILED: "FAILED",
             pb.ORCHESTRATION_STATUS_TERMINATED: "TERMINATED",
             pb.ORCHESTRATION_STATUS_CANCELED: "CANCELED"}
_MAX_SPAN_EVENTS = 128  # span events kept on an instance span (Received external event...)
_MAX_ATTEMPTS_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class SpanEvent:
    name: str
    time_ns: int
    attributes: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class SpanData:
    """One finished span, ready to export."""

    name: str
    kind: Kind
    trace_id: str
    span_id: str
    parent_id: str | None
    start_ns: int
    end_ns: int
    attributes: Attributes
    error: str | None = None  # the error status's description; None: not an error
    events: tuple[SpanEvent, ...] = ()


class SpanDeriver:
    def __init__(self, *, include_payloads: bool = False) -> None:
        self._payloads = include_payloads
        # Dispatches per activity since this daemon started (WorkItemEvent.attempts),
        # until its span is made.
        self._attempts: dict[tuple[str, int], int] = {}

    def work_completed(self, event: WorkItemEvent) -> None:
        if event.kind == "activity" and len(self._attempts) < _MAX_ATTEMPTS_KEPT:
            self._attempts[(event.instance_id, event.task_id)] = event.attempts

    def spans(self, commit: WorkflowCommit) -> list[SpanData]:
        """The spans ``commit`` completes (none for an untraced instance)."""
        found: list[SpanData] = []
        ended = commit.continued
        if ended is not None:
            traced = instance_trace(commit.instance_id, ended.started)
            if traced is not None:
                found += self._children(traced, commit, ended.history, ended.new_events)
        traced = instance_trace(commit.instance_id, commit.started)
        if traced is None:
            return found
        found += self._children(traced, commit, commit.history, commit.new_events)
        if commit.status in _TERMINAL and commit.previous_status != commit.status:
            found.append(self._instance_span(traced, commit))
        return found

    # -- the instance --------------------------------------------------------------------

    def _instance_span(self, traced: InstanceTrace, commit: WorkflowCommit) -> SpanData:
        history = commit.history
        completed = next((e for e in reversed(history) if e.HasField("executionCompleted")),
                         None)
        end_ns = (completed.timestamp.ToNanoseconds() if completed is not None
                  else (commit.completed_ms or commit.created_ms) * 1_000_000)
        start_ms = commit.first_created_ms if commit.first_created_ms is not None \
            else commit.created_ms
        attributes = _task_attributes("orchestration", commit.name, commit.instance_id,
                                      commit.version)
        attributes["durabletask.runtime_status"] = _TERMINAL[commit.status]
        error = None
        if completed is not None:
            ec = completed.executionCompleted
            if commit.status == pb.ORCHESTRATION_STATUS_FAILED:
                error = ec.failureDetails.errorMessage or "failed"
                attributes["error.type"] = ec.failureDetails.errorType or "WorkflowFailed"
            if self._payloads and ec.HasField("result"):
                attributes["wfsidecar.output"] = ec.result.value
        if self._payloads and commit.started is not None \
                and commit.started.executionStarted.HasField("input"):
            attributes["wfsidecar.input"] = commit.started.executionStarted.input.value
        return SpanData(_name("orchestration", commit.name, commit.version), "SERVER",
                        traced.trace_id, traced.span_id, traced.parent_id,
                        start_ms * 1_000_000, max(end_ns, start_ms * 1_000_000 + 1000),
                        attributes, error, self._span_events(history))

    def _span_events(self, history: Sequence[pb.HistoryEvent]) -> tuple[SpanEvent, ...]:
        events = []
        for event in history:
            kind = event.WhichOneof("eventType")
            if kind == "eventRaised":
                events.append(SpanEvent("Received external event", event.timestamp
                                        .ToNanoseconds(), {"name": event.eventRaised.name}))
            elif kind in ("executionSuspended", "executionResumed"):
                text = "Execution suspended" if kind == "executionSuspended" \
                    else "Execution resumed"
                events.append(SpanEvent(text, event.timestamp.ToNanoseconds(), {}))
            elif kind == "executionStalled":
                events.append(SpanEvent("Execution stalled", event.timestamp.ToNanoseconds(),
                                        {"reason": event.executionStalled.description}))
        return tuple(events[-_MAX_SPAN_EVENTS:])

    # -- what the instance's turns resolved -----------------------------------------------

    def _children(self, traced: InstanceTrace, commit: WorkflowCommit,
                  history: Sequence[pb.HistoryEvent],
                  new_events: Sequence[pb.HistoryEvent]) -> list[SpanData]:
        offset = len(history) - len(new_events)
        if offset == 0:
            # A rewritten history (a rewind) is all "new": only what follows the rewind is.
            rewound = [i for i, e in enumerate(history) if e.HasField("executionRewound")]
            if rewound:
                offset = rewound[-1] + 1
                new_events = history[offset:]
        floor_ns = (commit.first_created_ms or 0) * 1_000_000
        turn_ns = 0
        found: list[SpanData] = []
        for index, event in enumerate(new_events):
            position = offset + index
            kind = event.WhichOneof("eventType")
            span: SpanData | None = None
            if kind == "orchestratorStarted":
                turn_ns = event.timestamp.ToNanoseconds()
            elif kind in ("taskCompleted", "taskFailed"):
                span = self._activity(traced, commit, history, position, event)
            elif kind == "timerFired":
                span = self._timer(traced, commit, history, position, event, turn_ns)
            elif kind == "eventRaised":
                span = self._event_wait(traced, commit, history, position, event, turn_ns)
            # Results copied from another instance (a rerun) ran before this one existed.
            if span is not None and span.start_ns >= floor_ns:
                found.append(span)
        return found

    def _activity(self, traced: InstanceTrace, commit: WorkflowCommit,
                  history: Sequence[pb.HistoryEvent], position: int,
                  result: pb.HistoryEvent) -> SpanData | None:
        failed = result.HasField("taskFailed")
        task_id = result.taskFailed.taskScheduledId if failed \
            else result.taskCompleted.taskScheduledId
        scheduled = find_back(history, position,
                               lambda e: e.eventId == task_id and e.HasField("taskScheduled"))
        if scheduled is None:
            return None
        ts = scheduled.taskScheduled
        version = ts.version.value or None
        attributes = _task_attributes("activity", ts.name, commit.instance_id, version)
        attributes["durabletask.task.task_id"] = task_id
        attributes["durabletask.task.status"] = "Failed" if failed else "Completed"
        attempts = self._attempts.pop((commit.instance_id, task_id), None)
        if attempts:
            attributes["wfsidecar.task.attempts"] = attempts
        error = None
        if failed:
            details = result.taskFailed.failureDetails
            error = details.errorMessage or "failed"
            attributes["error.type"] = details.errorType or "ActivityFailed"
        if self._payloads:
            if ts.HasField("input"):
                attributes["wfsidecar.input"] = ts.input.value
            if not failed and result.taskCompleted.HasField("result"):
                attributes["wfsidecar.output"] = result.taskCompleted.result.value
        return _span(_name("activity", ts.name, version), "SERVER", traced,
                     traced.activity_span_id(task_id), scheduled, result.timestamp
                     .ToNanoseconds(), attributes, error)

    def _timer(self, traced: InstanceTrace, commit: WorkflowCommit,
               history: Sequence[pb.HistoryEvent], position: int, fired: pb.HistoryEvent,
               turn_ns: int) -> SpanData | None:
        timer_id = fired.timerFired.timerId
        at = index_back(history, position,
                         lambda e: e.eventId == timer_id and e.HasField("timerCreated"))
        if at is None:
            return None
        tc = history[at].timerCreated
        fire_at_ns = tc.fireAt.ToNanoseconds()
        end_ns = max(turn_ns, fire_at_ns)
        # From the turn's OrchestratorStarted, the "now" fireAt counts from (TimerCreated is
        # stamped later, when the answer was applied).
        created = find_back(history, at, is_turn_start) or history[at]
        if tc.WhichOneof("origin") == "externalEvent":
            # The timeout of a wait for an event: the wait's span says it timed out.
            attributes = _task_attributes("event", tc.externalEvent.name, commit.instance_id,
                                          None)
            attributes["wfsidecar.event.timed_out"] = True
            return _span(_name("event", tc.externalEvent.name), "INTERNAL", traced,
                         traced.event_span_id(position), created, end_ns, attributes)
        attributes = _task_attributes("timer", tc.name or None, commit.instance_id, None)
        attributes["durabletask.task.task_id"] = timer_id
        attributes["durabletask.fire_at"] = datetime.fromtimestamp(
            fire_at_ns / 1e9, UTC).isoformat().replace("+00:00", "Z")
        origin = tc.WhichOneof("origin")
        if origin is not None:
            attributes["wfsidecar.timer.origin"] = origin
        return _span("timer", "INTERNAL", traced, traced.timer_span_id(timer_id), created,
                     end_ns, attributes)

    def _event_wait(self, traced: InstanceTrace, commit: WorkflowCommit,
                    history: Sequence[pb.HistoryEvent], position: int,
                    raised: pb.HistoryEvent, turn_ns: int) -> SpanData:
        name = raised.eventRaised.name
        wanted = name.casefold()
        fired: set[int] = set()
        wait: pb.HistoryEvent | None = None
        # The wait this event ends: the Dapr SDKs mark one with a timer whose origin names
        # the event (an endless wait's timer never fires); one ended by an earlier event of
        # the name, or by its timeout, is no longer waiting.
        for index in range(position - 1, -1, -1):
            event = history[index]
            kind = event.WhichOneof("eventType")
            if kind == "timerFired":
                fired.add(event.timerFired.timerId)
            elif kind == "eventRaised" and event.eventRaised.name.casefold() == wanted:
                break
            elif kind == "timerCreated" and event.timerCreated.WhichOneof("origin") \
                    == "externalEvent" and event.eventId not in fired \
                    and event.timerCreated.externalEvent.name.casefold() == wanted:
                wait = event
                break
            elif kind == "executionStarted":
                break
        attributes = _task_attributes("event", name, commit.instance_id, None)
        # Without such a mark (Microsoft's SDK; an event that arrived before the wait) the
        # span runs from the event's arrival to its delivery.
        attributes["wfsidecar.event.waited"] = wait is not None
        if self._payloads and raised.eventRaised.HasField("input"):
            attributes["wfsidecar.input"] = raised.eventRaised.input.value
        return _span(_name("event", name), "INTERNAL", traced, traced.event_span_id(position),
                     wait or raised, max(turn_ns, raised.timestamp.ToNanoseconds()),
                     attributes)


def _span(name: str, kind: Kind, traced: InstanceTrace, span_id: str,
          began: pb.HistoryEvent, end_ns: int, attributes: Attributes,
          error: str | None = None) -> SpanData:
    start_ns = began.timestamp.ToNanoseconds()
    # Zipkin wants a duration of at least 1 µs.
    return SpanData(name, kind, traced.trace_id, span_id, traced.span_id, start_ns,
                    max(end_ns, start_ns + 1000), attributes, error)


def _name(kind: str, task_name: str | None = None, version: str | None = None) -> str:
    # durabletask-go's span names: <type>||<name>[||<version>] (engine.md §6).
    return "||".join(part for part in (kind, task_name, version) if part)


def _task_attributes(kind: str, name: str | None, instance_id: str,
                     version: str | None) -> Attributes:
    attributes: Attributes = {"durabletask.type": kind,
                              "durabletask.task.instance_id": instance_id}
    if name:
        attributes["durabletask.task.name"] = name
    if version:
        attributes["durabletask.task.version"] = version
    return attributes
