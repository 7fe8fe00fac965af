"""What a workflow turn that changed an instance's summary tells the rest of the daemon.

Three readers, each at its moment: the instance index row goes into the turn's own
transaction (read_model.py); status waiters and the telemetry observer hear of it only
once the turn has committed, with the snapshot as committed and the history events this
turn added (so spans and metrics are never derived from a turn that rolled back).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import TurnContext
from wfsidecar.telemetry import log_context
from wfsidecar.telemetry.observer import (
    EndedGeneration,
    Observer,
    WorkflowCommit,
    new_events_since,
)
from wfsidecar.telemetry.trace_ids import trace_id_of
from wfsidecar.workflow import projection, read_model
from wfsidecar.workflow.messages import InstanceSnapshot
from wfsidecar.workflow.state import WorkflowState

ChangeListener = Callable[[str, InstanceSnapshot | None], None]


class Publisher:
    """One per workflow actor; remembers what it last published, to tell what is new."""

    def __init__(self, instance_id: str, on_change: ChangeListener,
                 observer: Observer) -> None:
        self._instance_id = instance_id
        self._on_change = on_change
        self._observer = observer
        self._seen: Sequence[pb.HistoryEvent] = ()
        self._status: int | None = None
        self._started: pb.HistoryEvent | None = None

    def loaded(self, state: WorkflowState) -> None:
        """The actor read ``state`` from the store: what it holds was published before."""
        self._remember_trace(state)
        self._seen = state.history
        view = projection.view(self._instance_id, state) if state.exists else None
        self._status = int(view.status) if view is not None else None

    def publish(self, ctx: TurnContext, state: WorkflowState) -> None:
        self._remember_trace(state)
        snapshot = projection.snapshot(self._instance_id, state)
        row = read_model.index_row(self._instance_id, state)
        if row is not None:
            ctx.put_instance(row)
        commit = self._commit(state, snapshot)
        ctx.on_commit(lambda: self._committed(snapshot, commit))

    def _remember_trace(self, state: WorkflowState) -> None:
        # Log lines of this instance's turns and RPCs carry its trace id (log_context.py).
        started = _started((*state.history[:2], *state.inbox[:1]))
        if started is not self._started:
            self._started = started
            log_context.remember(self._instance_id, trace_id_of(self._instance_id, started))

    def purged(self, ctx: TurnContext) -> None:
        commit = None
        if self._status is not None:
            commit = WorkflowCommit(self._instance_id, "", None, "", self._status,
                                    self._status, 0, None, "", None, purged=True)
        self._seen, self._status = (), None
        ctx.on_commit(lambda: self._committed(None, commit))

    def _commit(self, state: WorkflowState,
                snapshot: InstanceSnapshot | None) -> WorkflowCommit | None:
        continued = None
        if state.continued_from is not None:
            ended = state.continued_from
            state.continued_from = None
            continued = EndedGeneration(_started(ended), ended,
                                        new_events_since(self._seen, ended))
            self._seen = ()
        new = new_events_since(self._seen, state.history)
        previous = self._status
        self._seen = state.history
        if snapshot is None:
            return None
        view = snapshot.view
        self._status = int(view.status)
        started = _started((*state.history[:2], *state.inbox[:1]))
        return WorkflowCommit(
            instance_id=self._instance_id, name=view.name, version=view.version,
            execution_id=view.execution_id, status=int(view.status),
            previous_status=previous, created_ms=view.created_ms,
            completed_ms=view.completed_ms, dialect=state.dialect, started=started,
            new_events=new, stall_reason=view.stall_reason, history=state.history,
            first_created_ms=(state.first_created_ms if state.first_created_ms is not None
                              else view.created_ms),
            continued=continued)

    def _committed(self, snapshot: InstanceSnapshot | None,
                   commit: WorkflowCommit | None) -> None:
        self._on_change(self._instance_id, snapshot)
        if commit is not None:
            self._observer.workflow_committed(commit)


def _started(events: Sequence[pb.HistoryEvent]) -> pb.HistoryEvent | None:
    # The ExecutionStarted is first, or second behind the turn's OrchestratorStarted (the
    # inbox's first event when no turn has run yet).
    return next((e for e in events[:3] if e.HasField("executionStarted")), None)
