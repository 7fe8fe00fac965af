"""HistoryFacts: folding a history in pieces gives what folding it whole gives, and what a
plain walk over the events (the projection's former algorithm) says.

Turns extend the facts with only their new events (facts.py), so any difference between an
extended fold and a whole one would show as a wrong status or a wrongly dropped event
after enough turns; hypothesis builds the histories.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import HistoryFacts

from .builders import T0, started

KINDS = ["orchestratorStarted", "taskScheduled", "taskCompleted", "taskFailed",
         "timerCreated", "timerFired", "executionSuspended", "executionResumed",
         "subOrchestrationInstanceCreated", "subOrchestrationInstanceFailed",
         "executionTerminated", "executionCompleted", "executionStalled", "eventRaised"]


def event(kind: str, n: int, ms: int) -> pb.HistoryEvent:
    e = pb.HistoryEvent(eventId=n % 4)
    e.timestamp.FromMilliseconds(ms)
    body = getattr(e, kind)
    body.SetInParent()
    if kind in ("taskCompleted", "taskFailed", "subOrchestrationInstanceFailed"):
        body.taskScheduledId = n % 4
    elif kind == "timerFired":
        body.timerId = n % 4
    elif kind == "subOrchestrationInstanceCreated":
        body.instanceId = f"child-{n % 3}"
    elif kind == "executionCompleted":
        body.orchestrationStatus = (pb.ORCHESTRATION_STATUS_FAILED if n % 2
                                    else pb.ORCHESTRATION_STATUS_COMPLETED)
    return e


histories = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 7),
                               st.integers(0, 10_000)), max_size=30).map(
    lambda spec: [started(now_ms=T0)] + [event(k, n, T0 + ms) for k, n, ms in spec])


def walked(history: list[pb.HistoryEvent]) -> dict[str, object]:
    """The facts by a plain walk, written independently of facts.py."""
    kinds = [e.WhichOneof("eventType") for e in history]
    suspended = False
    for kind in kinds:
        if kind == "executionSuspended":
            suspended = True
        elif kind == "executionResumed":
            suspended = False
    return {
        "suspended": suspended,
        "newest_ms": max(e.timestamp.ToMilliseconds() for e in history),
        "children": list(dict.fromkeys(e.subOrchestrationInstanceCreated.instanceId
                                       for e in history
                                       if e.HasField("subOrchestrationInstanceCreated"))),
        "completed": next((e for e in history if e.HasField("executionCompleted")), None),
        "terminated": next((e for e in history if e.HasField("executionTerminated")), None),
        "failed": any(e.HasField("executionCompleted") and e.executionCompleted
                      .orchestrationStatus == pb.ORCHESTRATION_STATUS_FAILED
                      for e in history),
        "tasks": {e.eventId for e in history if e.HasField("taskScheduled")},
        "timers": {e.eventId for e in history if e.HasField("timerCreated")},
    }


def summary(facts: HistoryFacts) -> dict[str, object]:
    return {"suspended": facts.suspended, "newest_ms": facts.newest_ms,
            "children": list(facts.children), "completed": facts.completed,
            "terminated": facts.terminated, "failed": facts.failed,
            "tasks": facts.correlation.tasks, "timers": facts.correlation.timers}


@settings(max_examples=300, deadline=None, derandomize=True)
@given(histories, st.data())
def test_a_fold_in_pieces_equals_the_whole_and_a_plain_walk(
        history: list[pb.HistoryEvent], data: st.DataObject) -> None:
    whole = HistoryFacts.of(history)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(history)), max_size=4)))
    pieces, start = HistoryFacts(), 0
    for cut in [*cuts, len(history)]:
        pieces = pieces.extended(history[start:cut])
        start = cut
    assert summary(pieces) == summary(whole) == walked(history)
    assert pieces.correlation == whole.correlation
    assert pieces.describes(history) and pieces.count == len(history)
    assert engine.project("wf", history, facts=pieces) == engine.project("wf", history)


def test_extending_leaves_the_original_as_it_was() -> None:
    base = HistoryFacts.of([started(now_ms=T0), event("taskScheduled", 1, 5)])
    longer = base.extended([event("subOrchestrationInstanceCreated", 1, 9),
                            event("executionSuspended", 0, 10), event("taskScheduled", 2, 11)])
    assert (base.count, base.suspended, list(base.children)) == (2, False, [])
    assert (longer.count, longer.suspended, list(longer.children)) == (5, True, ["child-1"])
    assert (base.correlation.tasks, longer.correlation.tasks) == ({1}, {1, 2})
    assert not base.describes([started(now_ms=T0)])  # shorter, or other objects
