"""WorkflowService: the one façade that every edge (gRPC, HTTP, CLI) calls.

Requests are typed (requests.py); selections of many instances go through the read model
(read_model.py), never through actor turns.

Each method turns a client request into calls on workflow actors; it validates input and
raises ``wfsidecar.errors`` classes that the edges map to wire statuses. Methods return
only after the change is committed (durability first).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import ActorHost
from wfsidecar.clock import Clock
from wfsidecar.engine import RuntimeStatus, rewind
from wfsidecar.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError
from wfsidecar.store.base import StateStore
from wfsidecar.store.instances import InstanceFilter, InstancePage, InstanceQuery
from wfsidecar.telemetry.trace_ids import NEVER, TraceSampler, mint_instance_span
from wfsidecar.types import validate_instance_id
from wfsidecar.workflow.messages import (
    CloneCommand,
    CreateCommand,
    InstanceSnapshot,
    PurgeCommand,
    PurgeOutcome,
)
from wfsidecar.workflow.read_model import ReadModel
from wfsidecar.workflow.requests import (
    BulkRequest,
    BulkResult,
    Dialect,
    PurgeRequest,
    RunningPurge,
    StartRequest,
)
from wfsidecar.workflow.waiters import StatusWaiters
from wfsidecar.workflow.workflow_actor import workflow_ref

# StartRequest is imported from here by edges written before requests.py existed.
__all__ = ["StartRequest", "WorkflowService"]


class WorkflowService:
    def __init__(self, host: ActorHost, store: StateStore, waiters: StatusWaiters,
                 clock: Clock, *, app_id: str | None = None,
                 sampler: TraceSampler = NEVER) -> None:
        """``sampler`` decides which new top-level instances are traced (tracing.py)."""
        self._host = host
        self._sampler = sampler
        self.read_model = ReadModel(store)
        self._waiters = waiters
        self._clock = clock
        self._app_id = app_id

    async def start(self, request: StartRequest) -> str:
        """Create an instance; return its id once the creation is committed.

        Raises:
            InvalidArgumentError: bad id or missing name.
            AlreadyExistsError: an active instance has this id (or a terminal one and
                ``enforce_unique``).
        """
        instance_id = request.instance_id or uuid.uuid4().hex
        validate_instance_id(instance_id)
        if not request.name:
            raise InvalidArgumentError("a workflow name is required")
        now = self._clock.now_ms()
        scheduled = request.scheduled_start_ms
        if scheduled is not None and scheduled <= now:
            scheduled = None  # JS sends epoch 0 for "no schedule" (protocol.md §3.2)
        parent_context = _trace_context(request)
        started = engine.execution_started(
            name=request.name, instance_id=instance_id,
            execution_id=request.execution_id or uuid.uuid4().hex, input=request.input,
            version=request.version or None, now_ms=now, scheduled_start_ms=scheduled,
            parent_trace_context=parent_context, tags=request.tags,
            app_id=self._app_id, span_id=mint_instance_span(
                self._sampler, instance_id, request.name, parent_context))
        await self._host.invoke(workflow_ref(instance_id), "create", CreateCommand(
            started, scheduled, request.enforce_unique, request.dialect, request.replaceable))
        return instance_id

    async def get(self, instance_id: str) -> InstanceSnapshot | None:
        """The instance's current snapshot, or None if it does not exist."""
        if not instance_id:
            raise InvalidArgumentError("an instance id is required")
        result = await self._host.invoke(workflow_ref(instance_id), "snapshot")
        assert result is None or isinstance(result, InstanceSnapshot)
        return result

    async def wait_for_start(self, instance_id: str) -> InstanceSnapshot | None:
        """Wait until the instance has left PENDING (None at once if it does not exist)."""
        return await self._waiters.wait(
            instance_id,
            lambda s: s is None or s.view.status is not RuntimeStatus.PENDING,
            lambda: self.get(instance_id))

    async def wait_for_completion(self, instance_id: str) -> InstanceSnapshot | None:
        """Wait until the instance is terminal (None at once if it does not exist)."""
        return await self._waiters.wait(
            instance_id, lambda s: s is None or s.view.status in engine.TERMINAL,
            lambda: self.get(instance_id))

    async def raise_event(self, instance_id: str, name: str, data: str | None) -> None:
        """Queue an external event. Raises NotFoundError for an unknown instance."""
        if not name:
            raise InvalidArgumentError("an event name is required")
        await self._add(instance_id, engine.event_raised(name, data, self._clock.now_ms()))

    async def terminate(self, instance_id: str, output: str | None, recursive: bool) -> None:
        """Terminate; with ``recursive`` the children are terminated when it completes."""
        snapshot = await self._require(instance_id)
        if snapshot.view.status in engine.TERMINAL:
            return
        await self._add(instance_id, engine.execution_terminated(
            output, recursive, self._clock.now_ms()))

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        """Suspend; a no-op for an instance already suspended.

        This check reads committed history, so it misses a suspend still queued (a call
        repeated or retried before its turn ran); the turn itself drops a suspend while
        suspended (``engine.begin_turn``), which is what keeps a second ExecutionSuspended,
        a hang for the Python SDKs, out of history. The check only spares a queued event.
        """
        snapshot = await self.get(instance_id)
        if snapshot is not None and snapshot.view.status is RuntimeStatus.SUSPENDED:
            return
        await self._add(instance_id, engine.execution_suspended(reason, self._clock.now_ms()))

    async def resume(self, instance_id: str, reason: str | None) -> None:
        """Resume; the turn drops it if the instance is not suspended by then."""
        await self._add(instance_id, engine.execution_resumed(reason, self._clock.now_ms()))

    async def purge(self, request: PurgeRequest) -> int:
        """Delete an instance (with ``recursive`` its children too); return how many.

        Raises:
            FailedPreconditionError: the instance has not finished and
                ``request.running`` is REFUSE.
        """
        if not request.instance_id:
            raise InvalidArgumentError("an instance id is required")
        snapshot = await self.get(request.instance_id)
        if snapshot is None:
            return 0
        running = snapshot.view.status not in engine.TERMINAL
        if running and request.running is RunningPurge.SKIP:
            return 0
        force = request.running is RunningPurge.FORCE
        count = 0
        if request.recursive and (force or not running):
            for child in snapshot.view.child_instance_ids:
                # The parent is finished and going away; a child still winding down (a
                # recursive terminate reaches it one turn later) goes with it rather than
                # failing the whole purge (durabletask-dapr e2e test_terminate_recursive).
                count += await self.purge(PurgeRequest(child, True, RunningPurge.FORCE))
        outcome = await self._host.invoke(workflow_ref(request.instance_id), "purge",
                                          PurgeCommand(force))
        assert isinstance(outcome, PurgeOutcome)
        return count + (1 if outcome.purged else 0)

    async def purge_many(self, request: BulkRequest) -> BulkResult:
        """Purge every finished instance the filter selects (its own statuses, if any,
        narrowed to terminal ones)."""
        terminal = frozenset(int(s) for s in engine.TERMINAL)
        statuses = request.filter.statuses & terminal if request.filter.statuses else terminal
        if not statuses:
            return BulkResult(0, 0, 0)  # only unfinished statuses asked for (not "all")
        flt = replace(request.filter, statuses=statuses)
        return await self._bulk(flt, request, lambda i: self.purge(
            PurgeRequest(i, request.recursive, RunningPurge.SKIP)))

    async def terminate_many(self, request: BulkRequest) -> BulkResult:
        """Terminate every unfinished instance the filter selects."""
        open_ = frozenset(int(s) for s in RuntimeStatus if s not in engine.TERMINAL)
        statuses = request.filter.statuses & open_ if request.filter.statuses else open_
        if not statuses:
            return BulkResult(0, 0, 0)  # only finished statuses asked for (not "all")
        flt = replace(request.filter, statuses=statuses)

        async def terminate(instance_id: str) -> int:
            try:
                await self.terminate(instance_id, request.output, request.recursive)
            except NotFoundError:
                return 0  # purged meanwhile
            return 1
        return await self._bulk(flt, request, terminate)

    async def _bulk(self, flt: InstanceFilter, request: BulkRequest,
                    act: Callable[[str], Awaitable[int]]) -> BulkResult:
        matched, stored = await self.read_model.measure(flt)
        if request.dry_run:
            return BulkResult(matched, 0, stored)
        done = 0
        async for instance_id in self.read_model.ids(flt):
            done += await act(instance_id)
        return BulkResult(matched, done, stored)

    async def list_instances(self, query: InstanceQuery) -> InstancePage:
        """One page of the instance index (no actor is loaded)."""
        return await self.read_model.query(query)

    async def count_instances(self, flt: InstanceFilter) -> int:
        return await self.read_model.count(flt)

    async def restart(self, instance_id: str, *, new_instance_id: bool,
                      dialect: Dialect) -> str:
        """Start a terminal instance again with its name, input and version.

        Raises:
            NotFoundError: unknown instance.
            FailedPreconditionError: the instance has not finished.
        """
        snapshot = await self._require(instance_id)
        view = snapshot.view
        if view.status not in engine.TERMINAL:
            raise FailedPreconditionError(
                f"workflow '{instance_id}' is {view.status.name}; only finished ones restart")
        return await self.start(StartRequest(
            name=view.name, instance_id="" if new_instance_id else instance_id,
            input=view.input, version=view.version, dialect=dialect))

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """Re-open a FAILED instance from its last good state (Microsoft RewindInstance).

        Raises:
            NotFoundError: unknown instance.
            FailedPreconditionError: the instance is not FAILED.
        """
        snapshot = await self._require(instance_id)
        if snapshot.view.status is not RuntimeStatus.FAILED:
            raise FailedPreconditionError(
                f"workflow '{instance_id}' is {snapshot.view.status.name}; "
                "only FAILED instances can be rewound")
        await self._add(instance_id, rewind.execution_rewound(reason, self._clock.now_ms()))

    async def history(self, instance_id: str) -> tuple[pb.HistoryEvent, ...]:
        snapshot = await self._require(instance_id)
        return snapshot.history

    async def rerun_from_event(self, source_id: str, event_id: int, *, new_instance_id: str,
                               overwrite_input: bool, new_input: str | None) -> str:
        """Start a copy of ``source_id`` that re-runs the activity scheduled as ``event_id``.

        Raises:
            NotFoundError: no source instance.
            InvalidArgumentError: ``event_id`` is not an activity of the source.
        """
        history = await self.history(source_id)
        instance_id = new_instance_id or uuid.uuid4().hex
        validate_instance_id(instance_id)
        inbox = engine.rerun_history(
            history, event_id, new_instance_id=instance_id,
            new_execution_id=uuid.uuid4().hex, overwrite_input=overwrite_input,
            input=new_input, now_ms=self._clock.now_ms())
        await self._host.invoke(workflow_ref(instance_id), "clone", CloneCommand(tuple(inbox)))
        return instance_id

    async def _require(self, instance_id: str) -> InstanceSnapshot:
        snapshot = await self.get(instance_id)
        if snapshot is None:
            raise NotFoundError(f"no workflow instance with ID '{instance_id}'")
        return snapshot

    async def _add(self, instance_id: str, event: pb.HistoryEvent) -> None:
        if not instance_id:
            raise InvalidArgumentError("an instance id is required")
        await self._host.invoke(workflow_ref(instance_id), "add_event", event)


def _trace_context(request: StartRequest) -> pb.TraceContext | None:
    carried = request.parent_trace_context
    if carried is None:
        return None
    context = pb.TraceContext(traceParent=carried.trace_parent, spanID=carried.span_id)
    if carried.trace_state is not None:
        context.traceState.value = carried.trace_state
    return context
