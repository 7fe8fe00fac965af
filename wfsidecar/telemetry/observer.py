"""The telemetry seam: what the daemon tells an observer, from a handful of places only.

Lower layers are handed an ``Observer`` and call it at six points: an RPC finished (the
gRPC interceptor and the aiohttp middleware), an actor turn finished (the actor runtime),
a store commit finished (the store), a work item was dispatched to a worker or its result
applied (the dispatcher), and a workflow turn committed (the workflow actor, with the
history events it added). They never import OpenTelemetry or prometheus-client; the
composition root decides which observers exist (metrics, tracing, both, none) and fans
out to them with ``Observers``.

Every method is called on the event loop and must return quickly without raising: an
observer that fails must not fail the work it watches (``Observers`` logs and drops such
errors). Payloads are handed over as the history events that carry them; an observer
that exports them decides whether it may (``tracing.include_payloads``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

logger = logging.getLogger(__name__)

Edge = Literal["grpc", "http"]
WorkKind = Literal["orchestrator", "activity", "entity"]


@dataclass(frozen=True, slots=True)
class RpcCall:
    """One finished RPC or HTTP request. ``method`` is the gRPC method (``StartInstance``)
    or the HTTP route's name (``start``); ``code`` the gRPC status name (``OK``,
    ``NOT_FOUND``) or the HTTP status as text (``202``)."""

    edge: Edge
    method: str
    code: str
    seconds: float
    # The instance a request addressed, when it named one (logs and traces use it).
    instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class WorkItemEvent:
    """A work item handed to a worker (``dispatched``) or whose result was applied
    (``completed``). ``seconds``: for a dispatch, how long the item waited for a worker
    since it was queued (or re-queued); for a completion, from dispatch to applied result.
    ``attempts`` counts dispatches so far; above 1 on a dispatch means an earlier worker
    went away holding it."""

    kind: WorkKind
    dialect: str
    name: str
    instance_id: str
    task_id: int
    attempts: int
    stream: int | None
    seconds: float = 0.0
    failed: bool = False  # the result applied was a failure (activity failed)


@dataclass(frozen=True, slots=True)
class EndedGeneration:
    """The generation a continue-as-new ended in this turn: its history as the worker was
    last shown it (never stored: the next generation starts afresh), with the events this
    turn added to it, so that results applied by that last turn are seen too."""

    started: pb.HistoryEvent | None
    history: Sequence[pb.HistoryEvent]
    new_events: tuple[pb.HistoryEvent, ...]


@dataclass(frozen=True, slots=True)
class WorkflowCommit:
    """A workflow turn committed: the instance as it now is, and the history events this
    turn added (all of them after a rewrite: a new generation, a rewind)."""

    instance_id: str
    name: str
    version: str | None
    execution_id: str
    status: int  # engine.RuntimeStatus value, after the turn
    previous_status: int | None  # before it; None for a new instance
    created_ms: int
    completed_ms: int | None
    dialect: str
    # The generation's ExecutionStarted: its parentTraceContext and orchestrationSpanID
    # are where an instance's trace identity is kept across restarts.
    started: pb.HistoryEvent | None
    new_events: tuple[pb.HistoryEvent, ...] = ()
    purged: bool = False
    stall_reason: str | None = None
    # The current generation's whole history, to look up what a new event resolves (the
    # TaskScheduled of a TaskCompleted); valid only during the call, never to be kept.
    history: Sequence[pb.HistoryEvent] = ()
    # When the instance was created: ``created_ms`` of its first generation.
    first_created_ms: int | None = None
    continued: EndedGeneration | None = None


class Observer(Protocol):
    def rpc_finished(self, call: RpcCall) -> None: ...

    def turn_finished(self, actor_type: str, seconds: float, ok: bool) -> None: ...

    def commit_finished(self, seconds: float, callers: int, ops: int, ok: bool) -> None: ...

    def work_dispatched(self, event: WorkItemEvent) -> None: ...

    def work_completed(self, event: WorkItemEvent) -> None: ...

    def workflow_committed(self, commit: WorkflowCommit) -> None: ...


class NullObserver:
    """Observes nothing: the default wherever no observer is handed in."""

    def rpc_finished(self, call: RpcCall) -> None:
        pass

    def turn_finished(self, actor_type: str, seconds: float, ok: bool) -> None:
        pass

    def commit_finished(self, seconds: float, callers: int, ops: int, ok: bool) -> None:
        pass

    def work_dispatched(self, event: WorkItemEvent) -> None:
        pass

    def work_completed(self, event: WorkItemEvent) -> None:
        pass

    def workflow_committed(self, commit: WorkflowCommit) -> None:
        pass


NULL = NullObserver()


@dataclass(slots=True)
class Observers:
    """Fans every call out to each observer; one that raises is logged and skipped."""

    observers: list[Observer] = field(default_factory=list)

    @classmethod
    def of(cls, observers: Iterable[Observer]) -> Observer:
        chosen = list(observers)
        return NULL if not chosen else chosen[0] if len(chosen) == 1 else cls(chosen)

    def _each(self, method: str, *args: object) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(*args)
            except Exception:
                logger.exception("telemetry observer %s failed in %s",
                                 type(observer).__name__, method)

    def rpc_finished(self, call: RpcCall) -> None:
        self._each("rpc_finished", call)

    def turn_finished(self, actor_type: str, seconds: float, ok: bool) -> None:
        self._each("turn_finished", actor_type, seconds, ok)

    def commit_finished(self, seconds: float, callers: int, ops: int, ok: bool) -> None:
        self._each("commit_finished", seconds, callers, ops, ok)

    def work_dispatched(self, event: WorkItemEvent) -> None:
        self._each("work_dispatched", event)

    def work_completed(self, event: WorkItemEvent) -> None:
        self._each("work_completed", event)

    def workflow_committed(self, commit: WorkflowCommit) -> None:
        self._each("workflow_committed", commit)


def new_events_since(seen: Sequence[pb.HistoryEvent],
                     history: Sequence[pb.HistoryEvent]) -> tuple[pb.HistoryEvent, ...]:
    """The events of ``history`` after those ``seen`` already covered: the appended ones
    if ``history`` only grew (same first and last objects at the same places; events are
    never mutated), else all of it."""
    n = len(seen)
    if n and len(history) >= n and history[0] is seen[0] and history[n - 1] is seen[-1]:
        return tuple(history[n:])
    return tuple(history)
