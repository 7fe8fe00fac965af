"""One turn: choose what the worker sees (begin_turn) and build the work-item requests.

The rules are durabletask-go's ``addEvent`` and turn drop checks (engine.md §1.2, §1.3)
plus the correlation checks the reference engines lack (engine.md §7 hazards 4-5, kept in
``facts.Correlation``) and the suspend/resume rule the Python SDKs need (``_Suspension``).
Applying the worker's answer is ``apply.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import history as h
from wfsidecar.engine import rewind
from wfsidecar.engine.facts import HistoryFacts
from wfsidecar.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class TurnInput:
    """What one dispatch shows the worker: committed ``past`` and this turn's ``new``."""

    past: list[pb.HistoryEvent]
    new: list[pb.HistoryEvent]  # [OrchestratorStarted(now)] + accepted inbox events
    dropped: int  # inbox events discarded (duplicates, stale, after completion)
    facts: HistoryFacts | None = None  # of ``past``, when the caller had them


@dataclass(slots=True)
class _Suspension:
    """Whether the instance is suspended, so that a suspend or resume that changes nothing
    never reaches history.

    Every durabletask Python SDK (Dapr 1.18/1.19, durabletask-dapr, Microsoft's) buffers an
    ExecutionSuspended that arrives while suspended like any other event; on the resume it
    replays the buffer, the buffered suspend suspends it again, and each later buffered
    event is appended to the very list being iterated: the worker loops forever and grows
    without bound (issue #10, found by the chaos run). An ExecutionResumed while not
    suspended is an event they "don't know how to handle": the workflow fails. Chaos runs
    stored both, from client calls retried across a kill. WorkflowService.suspend's status
    check cannot prevent it: the first suspend sits in the inbox, not history, until its
    turn commits, so a retried or repeated call passes the check.
    """

    suspended: bool

    def accept(self, event: pb.HistoryEvent) -> bool:
        """Record ``event``; False if it is a suspend while suspended or a resume while not."""
        kind = event.WhichOneof("eventType")
        if kind == "executionSuspended":
            if self.suspended:
                return False
            self.suspended = True
        elif kind == "executionResumed":
            if not self.suspended:
                return False
            self.suspended = False
        return True


def begin_turn(past: Sequence[pb.HistoryEvent], inbox: Sequence[pb.HistoryEvent],
               now_ms: int, facts: HistoryFacts | None = None) -> TurnInput | None:
    """Decide this turn's new events; None when there is nothing to dispatch.

    None means the whole inbox is consumed without running the worker: the instance is
    terminal (hazard 1), its history is invalid (no ExecutionStarted), or every inbox
    event was dropped. ``facts``, if given, are those of ``past`` (facts.py).
    """
    if facts is None:
        facts = HistoryFacts.of(past)
    started = facts.started is not None
    if past and not started:
        return None  # invalid state: durabletask-go drops such work items (engine.md §1.3)
    if facts.redundant_suspension:
        # A database written before redundant suspends/resumes were dropped may hold some:
        # the worker must not see them either.
        suspension = _Suspension(False)
        past = [event for event in past if suspension.accept(event)]
        facts = HistoryFacts.of(past)
    rewound = rewind.requested(inbox) if facts.failed else None
    if rewound is not None:
        # Exactly these two new events: the Python SDK checks the length (protocol.md §3.2).
        marker = h.orchestrator_started(_turn_time(facts, [], now_ms))
        return TurnInput(list(past), [marker, rewound], len(inbox) - 1, facts)
    if facts.completed is not None:
        return None  # completed instances never reopen (protocol.md §5.2, hazard 1)
    corr = facts.correlation.copy()
    suspension = _Suspension(facts.suspended)
    accepted: list[pb.HistoryEvent] = []
    replay = False
    for event in inbox:
        if rewind.is_replay_marker(event):
            replay = True  # a turn is wanted even with nothing new to show
            continue
        kind = event.WhichOneof("eventType")
        if kind is None or kind == "executionCompleted":
            continue  # only the engine writes completions, and only from an action
        if kind == "executionStarted":
            if started:
                continue  # a second start is a duplicate (engine.md §1.2)
            started = True
        if suspension.accept(event) and corr.accept(event):
            accepted.append(event)
    if not started or not (accepted or replay):
        return None
    marker = h.orchestrator_started(_turn_time(facts, accepted, now_ms))
    return TurnInput(list(past), [marker, *accepted], len(inbox) - len(accepted), facts)


def _turn_time(past: HistoryFacts, accepted: Sequence[pb.HistoryEvent], now_ms: int) -> int:
    # The OrchestratorStarted time is the SDK's deterministic "now": it must move forward
    # every turn (Dapr e2e test_now_with_sequence_ordering) even if the clock did not, and
    # a timer must never fire "before" its fireAt (protocol.md §5.2 row 4).
    floor = max(now_ms, past.last_turn_ms + 1)
    for event in accepted:
        if event.HasField("timerFired"):
            floor = max(floor, _ceil_ms(event.timerFired.fireAt.ToNanoseconds()))
        elif event.HasField("executionStarted"):
            floor = max(floor, _ceil_ms(event.timestamp.ToNanoseconds()))
    return floor


def _ceil_ms(nanos: int) -> int:
    return -(-nanos // 1_000_000)


def _started(events: Sequence[pb.HistoryEvent]) -> pb.HistoryEvent | None:
    return next((e for e in events if e.HasField("executionStarted")), None)


def build_orchestrator_request(instance_id: str, execution_id: str, turn: TurnInput, *,
                               with_past: bool = True) -> pb.OrchestratorRequest:
    """The OrchestratorRequest work item for ``turn`` (protocol.md §6); without its
    ``pastEvents`` if not ``with_past`` (the caller adds them as bytes)."""
    request = pb.OrchestratorRequest(instanceId=instance_id, newEvents=turn.new)
    if with_past:
        request.pastEvents.extend(turn.past)
    # go leaves executionId null; Dapr main sets it, and so do we (protocol.md §6 row 2).
    request.executionId.value = execution_id
    started = _started([*turn.past, *turn.new])
    if started is not None and started.HasField("router"):
        request.router.CopyFrom(started.router)  # Dapr field 7
    return request


def build_activity_request(instance_id: str, execution_id: str,
                           scheduled: pb.HistoryEvent,
                           trace_context: pb.TraceContext | None = None) -> pb.ActivityRequest:
    """The ActivityRequest work item for a TaskScheduled event (protocol.md §4.2);
    ``trace_context``, a traced instance's activity span, replaces the event's."""
    if not scheduled.HasField("taskScheduled"):
        raise InvalidArgumentError(
            f"an activity request needs a taskScheduled event, not "
            f"{scheduled.WhichOneof('eventType')!r}")
    ts = scheduled.taskScheduled
    request = pb.ActivityRequest(name=ts.name, taskId=scheduled.eventId,
                                 taskExecutionId=ts.taskExecutionId)
    if ts.HasField("version"):
        request.version.CopyFrom(ts.version)
    if ts.HasField("input"):
        request.input.CopyFrom(ts.input)
    if trace_context is not None:
        request.parentTraceContext.CopyFrom(trace_context)
    elif ts.HasField("parentTraceContext"):
        request.parentTraceContext.CopyFrom(ts.parentTraceContext)
    request.tags.update(ts.tags)
    request.orchestrationInstance.instanceId = instance_id
    request.orchestrationInstance.executionId.value = execution_id
    return request
