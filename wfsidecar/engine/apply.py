"""Apply the worker's OrchestratorResponse to a turn: new history, outbox, projection.

The result is everything the actor must commit atomically: the full new history (or the
next generation's first inbox) together with the side effects, so a crash can neither
lose nor duplicate an effect (engine.md §7 hazard 16).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import rewind
from wfsidecar.engine.actions import (
    record_action,
    record_delivered,
)
from wfsidecar.engine.completion import complete, completion_status, continue_as_new
from wfsidecar.engine.entities import MessageEntity
from wfsidecar.engine.facts import HistoryFacts
from wfsidecar.engine.outbox import (
    DeliverEvent,
    Outbox,
    Recorder,
    StartChild,
    TerminateInstance,
)
from wfsidecar.engine.scheduling import schedules, unresolved_scheduling
from wfsidecar.engine.status import InstanceView, RuntimeStatus, project
from wfsidecar.engine.turn import TurnInput
from wfsidecar.errors import InvalidArgumentError
from wfsidecar.telemetry.trace_ids import instance_trace


@dataclass(frozen=True, slots=True)
class TurnResult:
    """One applied turn; commit ``history``/``next_inbox`` and ``outbox`` together."""

    history: list[pb.HistoryEvent]  # full committed history ([] after continue-as-new)
    continued_as_new: bool
    # continue-as-new: [ExecutionStarted, *carryover]; rewind: [replay marker]
    next_inbox: list[pb.HistoryEvent]
    outbox: list[Outbox]
    custom_status: str | None
    view: InstanceView  # after the turn; of the new generation after continue-as-new
    # Microsoft: tags the worker's completion adds to the instance's (CompleteOrchestration
    # tags, protocol.md §5.2 row 6); a continue-as-new puts them on the next generation.
    completion_tags: dict[str, str] = field(default_factory=dict)


def apply_response(instance_id: str, turn: TurnInput, response: pb.OrchestratorResponse,
                   now_ms: int, *, new_execution_id: Callable[[], str]) -> TurnResult:
    """Turn ``response`` into history events and outbox items (protocol.md §5.2).

    Raises:
        InvalidArgumentError: the response is malformed (unknown or empty action kind,
            bad completion status, missing required fields, wrong instance id).
    """
    if response.instanceId and response.instanceId != instance_id:
        raise InvalidArgumentError(
            f"response is for instance {response.instanceId!r}, not {instance_id!r}")
    if not turn.new or not turn.new[0].HasField("orchestratorStarted"):
        raise InvalidArgumentError("a turn's new events must start with OrchestratorStarted")
    marker = turn.new[0]
    # begin_turn may have stamped the turn ahead of the clock (timers, a stalled clock);
    # the events this turn adds must not predate its own "now".
    now_ms = max(now_ms, marker.timestamp.ToMilliseconds())
    if response.HasField("version"):
        # Dapr versioning: record the applied version/patches on this turn's marker so
        # replays see them (protocol.md §6, OrchestratorResponse.version).
        marker = pb.HistoryEvent()
        marker.CopyFrom(turn.new[0])
        marker.orchestratorStarted.version.CopyFrom(response.version)
    generation = [*turn.past, marker, *turn.new[1:]]
    past = turn.facts if turn.facts is not None else HistoryFacts.of(turn.past)
    started = past.started if past.started is not None else next(
        (e for e in turn.new if e.HasField("executionStarted")), None)
    if started is None:
        raise InvalidArgumentError(f"turn for {instance_id!r} has no ExecutionStarted")
    custom_status = response.customStatus.value if response.HasField("customStatus") else None
    rec = Recorder(instance_id, started, now_ms, new_execution_id,
                   trace=instance_trace(instance_id, started))
    # Scheduling events can only arrive in the inbox from a rerun; those still open are
    # scheduled again here (rerun.py).
    first_new = len(turn.past) + 1
    if any(schedules(e) for e in turn.new):
        for index in sorted(unresolved_scheduling(generation)):
            if index >= first_new:
                record_delivered(rec, generation[index])

    rewinding = rewind.rewind_action(response)
    if rewinding is not None and any(e.HasField("executionRewound") for e in turn.new):
        # The worker rewrote the history; failed children are rewound too, and a plain
        # replay turn follows (protocol.md §3.2 RewindInstance).
        new_history = list(rewinding.rewindOrchestration.newHistory)
        view = project(instance_id, new_history, last_updated_ms=now_ms)
        if view is None:
            raise InvalidArgumentError("the rewound history has no ExecutionStarted")
        new_started = next(e for e in new_history if e.HasField("executionStarted"))
        outbox: list[Outbox] = [
            DeliverEvent(created.subOrchestrationInstanceCreated.instanceId,
                         rewind.child_rewound(created, new_started, now_ms))
            for created in rewind.failed_children(turn.past)]
        outbox += rewind.pending_timers(new_history, now_ms)
        return TurnResult(new_history, False, [rewind.replay_marker(now_ms)], outbox,
                          custom_status, view)

    actions, completion = _split(response)
    terminate = past.terminated if past.terminated is not None else next(
        (e for e in turn.new if e.HasField("executionTerminated")), None)
    if terminate is not None and (completion is None
                                  or completion[1] is RuntimeStatus.CONTINUED_AS_NEW):
        # A terminate the worker did not honour (an SDK suppressing actions while
        # suspended, or answering with continue-as-new) is forced: terminate wins
        # (engine.md §1.3 step 10, hazards 9 and 10). The worker's actions are void.
        reason = terminate.executionTerminated
        output = reason.input.value if reason.HasField("input") else None
        complete(rec, RuntimeStatus.TERMINATED, output, None, event_id=-1,
                 terminate=terminate, history=generation)
        return _result(instance_id, past, [*generation, *rec.events], rec, custom_status, now_ms)

    for action in actions:
        record_action(rec, action, _kind(action))
    if completion is None:
        return _result(instance_id, past, [*generation, *rec.events], rec, custom_status, now_ms)
    action, status = completion
    co = action.completeOrchestration
    if status is RuntimeStatus.CONTINUED_AS_NEW:
        next_inbox = continue_as_new(rec, action, marker.timestamp.ToMilliseconds())
        # Messages to other instances from actions before the continue-as-new still go out
        # (protocol.md §5.2 row 6, "Caution"); this generation's own activities and timers
        # do not: task ids restart at 0, so their results would be misattributed (hazard 6).
        # Entity messages (signals, calls, the unlocks of a critical section) go out too.
        outbox = [o for o in rec.outbox if isinstance(
            o, StartChild | DeliverEvent | TerminateInstance | MessageEntity)]
        view = project(instance_id, next_inbox[:1], last_updated_ms=now_ms)
        assert view is not None
        return TurnResult([], True, next_inbox, outbox, custom_status,
                          replace(view, status=RuntimeStatus.RUNNING))
    complete(rec, status, co.result.value if co.HasField("result") else None,
             co.failureDetails if co.HasField("failureDetails") else None,
             event_id=action.id, terminate=terminate, history=generation)
    result = _result(instance_id, past, [*generation, *rec.events], rec, custom_status, now_ms)
    return replace(result, completion_tags=dict(co.tags))


def _kind(action: pb.OrchestratorAction) -> str:
    kind: str | None = action.WhichOneof("orchestratorActionType")
    if kind is None:
        raise InvalidArgumentError(
            f"action {action.id} has no action kind set (unknown to this sidecar's proto?)")
    return kind


def _split(response: pb.OrchestratorResponse) -> tuple[
        list[pb.OrchestratorAction], tuple[pb.OrchestratorAction, RuntimeStatus] | None]:
    """Actions before the first completion, and that completion (validated).

    Anything after the first completion is ignored: a completion already applied wins,
    including over a later continue-as-new (engine.md §1.4 fork refinements, hazard 8).
    """
    before: list[pb.OrchestratorAction] = []
    for action in response.actions:
        if _kind(action) == "completeOrchestration":
            return before, (action, completion_status(action))
        before.append(action)
    return before, None


def _result(instance_id: str, past: HistoryFacts, history: list[pb.HistoryEvent],
            rec: Recorder, custom_status: str | None, now_ms: int) -> TurnResult:
    # ``history`` is the past ``past`` describes plus this turn's events: fold only those.
    facts = past.extended(history[past.count:])
    view = project(instance_id, history, last_updated_ms=now_ms, facts=facts)
    assert view is not None  # the generation has an ExecutionStarted (checked above)
    return TurnResult(history, False, [], rec.outbox, custom_status, view)
