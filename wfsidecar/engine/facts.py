"""HistoryFacts: what the engine needs to know about a history, folded one event at a time.

Every turn used to walk the whole history several times — to project the status, to
collect the ids a resolution may answer, to find the start, a completion, a terminate, the
last turn's time — so a workflow's cost per turn grew with its length (a 500-step sequence
cost five times as much per step at the end). A history only grows between rewrites, so the
facts are folded once per event and extended with each turn's new events; the workflow
actor keeps them beside the history (``WorkflowState.facts``). ``project`` and the turn
functions accept them, and fold a history from scratch when given none.

Pure: no asyncio, no store. Events are never mutated once they are history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

_FAILED = pb.ORCHESTRATION_STATUS_FAILED


@dataclass(slots=True)
class Correlation:
    """Ids this generation has scheduled, so stale or duplicate resolutions can be dropped."""

    tasks: set[int] = field(default_factory=set)
    timers: set[int] = field(default_factory=set)
    fired: set[int] = field(default_factory=set)
    children: set[int] = field(default_factory=set)

    def copy(self) -> Correlation:
        return Correlation(set(self.tasks), set(self.timers), set(self.fired),
                           set(self.children))

    def accept(self, event: pb.HistoryEvent, kind: str | None = None) -> bool:
        """Record ``event``; False if it resolves nothing this generation scheduled."""
        if kind is None:
            kind = event.WhichOneof("eventType")
        if kind == "taskScheduled":
            self.tasks.add(event.eventId)
        elif kind == "timerCreated":
            self.timers.add(event.eventId)
        elif kind == "subOrchestrationInstanceCreated":
            self.children.add(event.eventId)
        elif kind == "timerFired":
            # Timer ids are never reused within a generation, so a second firing is a
            # re-created reminder (hazard 4) and an unknown id is from an older generation
            # (hazard 5). Task ids are NOT deduplicated: MS Python retries an activity under
            # the same id (protocol.md §7 "Retries"); the actor dedupes by dispatch token.
            timer_id = event.timerFired.timerId
            if timer_id not in self.timers or timer_id in self.fired:
                return False
            self.fired.add(timer_id)
        elif kind in ("taskCompleted", "taskFailed"):
            return getattr(event, kind).taskScheduledId in self.tasks
        elif kind in ("subOrchestrationInstanceCompleted", "subOrchestrationInstanceFailed"):
            return getattr(event, kind).taskScheduledId in self.children
        return True


@dataclass(slots=True)
class HistoryFacts:
    """The fold of a history's events; ``extended`` gives the fold of a longer history."""

    count: int = 0
    # The first and last event folded: with ``count``, they identify the folded list for a
    # caller that caches facts beside a history it only appends to.
    first: pb.HistoryEvent | None = None
    last: pb.HistoryEvent | None = None
    started: pb.HistoryEvent | None = None  # the first ExecutionStarted
    completed: pb.HistoryEvent | None = None  # the first ExecutionCompleted
    terminated: pb.HistoryEvent | None = None  # the first ExecutionTerminated
    failed: bool = False  # some ExecutionCompleted says FAILED
    rewound: bool = False  # some ExecutionRewound
    suspended: bool = False  # after the last suspend or resume
    # A suspend while suspended or a resume while not (written before they were dropped at
    # the turn, issue #10): the worker must be shown the history without them.
    redundant_suspension: bool = False
    newest_ms: int = 0  # the newest event timestamp
    last_turn_ms: int = -1  # the newest OrchestratorStarted timestamp
    children: dict[str, None] = field(default_factory=dict)  # instance ids, in order
    correlation: Correlation = field(default_factory=Correlation)

    @classmethod
    def of(cls, events: Sequence[pb.HistoryEvent]) -> HistoryFacts:
        facts = cls()
        facts._fold(events)
        return facts

    def extended(self, events: Sequence[pb.HistoryEvent]) -> HistoryFacts:
        """The facts of this history followed by ``events`` (self is left as it is)."""
        if not events:
            return self
        facts = HistoryFacts(
            self.count, self.first, self.last, self.started, self.completed,
            self.terminated, self.failed, self.rewound, self.suspended,
            self.redundant_suspension, self.newest_ms, self.last_turn_ms,
            dict(self.children), self.correlation.copy())
        facts._fold(events)
        return facts

    def describes(self, history: Sequence[pb.HistoryEvent]) -> bool:
        """True if ``history`` starts with exactly the events folded here (same objects)."""
        if len(history) < self.count:
            return False
        return self.count == 0 or (history[0] is self.first
                                   and history[self.count - 1] is self.last)

    def _fold(self, events: Iterable[pb.HistoryEvent]) -> None:
        corr = self.correlation
        for event in events:
            if self.first is None:
                self.first = event
            self.last = event
            self.count += 1
            kind = event.WhichOneof("eventType")
            ms = event.timestamp.seconds * 1000 + event.timestamp.nanos // 1_000_000
            if ms > self.newest_ms:
                self.newest_ms = ms
            if kind == "orchestratorStarted":
                self.last_turn_ms = max(self.last_turn_ms, ms)
            elif kind == "executionStarted":
                if self.started is None:
                    self.started = event
            elif kind == "executionCompleted":
                if self.completed is None:
                    self.completed = event
                if event.executionCompleted.orchestrationStatus == _FAILED:
                    self.failed = True
            elif kind == "executionTerminated":
                if self.terminated is None:
                    self.terminated = event
            elif kind == "executionSuspended":
                self.redundant_suspension |= self.suspended
                self.suspended = True
            elif kind == "executionResumed":
                self.redundant_suspension |= not self.suspended
                self.suspended = False
            elif kind == "executionRewound":
                self.rewound = True
            elif kind == "subOrchestrationInstanceCreated":
                self.children[event.subOrchestrationInstanceCreated.instanceId] = None
            corr.accept(event, kind)
