"""Client calls for instances another daemon owns (several daemons on one database).

The service's writes go to an instance's owner through the store, never over a
daemon-to-daemon connection: a raised event, a termination or a creation becomes the same
durable ``evt-*`` message that instances send each other (effects.send), a reminder row
that the owner is woken for at once (NOTIFY) and that its reminder scheduler fires.
Reads (a snapshot) come straight from the stored state, without activating the actor here
(an activation would cache state this daemon may not write). A creation returns once the
owner has taken it (its instance row names the new execution), so the client's next call,
on any daemon, finds the instance; a purge (a ``purge-*`` message) returns once the
instance is gone. Calls that need the owner's own turn to answer (clone, the Microsoft
reuse policy replacing a running instance) are refused here with a message naming the
cause; they succeed on the owner.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import ActorHost, TurnContext
from wfsidecar.engine import entities
from wfsidecar.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    NotFoundError,
    StoreConflictError,
    StoreUnavailable,
)
from wfsidecar.store.base import Changes, Reminder, StateStore
from wfsidecar.types import ActorRef
from wfsidecar.workflow import projection
from wfsidecar.workflow.messages import (
    CreateCommand,
    InstanceSnapshot,
    PurgeCommand,
    PurgeOutcome,
)
from wfsidecar.workflow.state import ENTITY_ACTOR, WORKFLOW_ACTOR, WorkflowState
from wfsidecar.workflow.waiters import StatusWaiters

# How long a creation sent to another daemon's instance may take to be taken by its owner
# before the client is told to look again (the message stays and is taken later).
CREATE_TIMEOUT = 30.0


class OwnerRouting:
    """An ``ActorHost`` for the service: local turns for owned instances, store messages
    and store reads for the others."""

    def __init__(self, local: ActorHost, store: StateStore, waiters: StatusWaiters, *,
                 owns: Callable[[ActorRef], bool], now_ms: Callable[[], int],
                 new_etag: Callable[[], int], forget: Callable[[ActorRef], object]) -> None:
        self._local = local
        self._store = store
        self._waiters = waiters
        self._owns = owns
        self._now_ms = now_ms
        self._new_etag = new_etag
        self._forget = forget  # drop an activation made for a read of another's actor
        self.sent = 0  # messages committed for instances of other daemons

    async def invoke(self, ref: ActorRef, method: str, payload: object = None) -> object:
        if ref.type == ENTITY_ACTOR and not self._owns(ref):
            return await self._entity(ref, method, payload)
        if ref.type != WORKFLOW_ACTOR or self._owns(ref):
            try:
                return await self._local.invoke(ref, method, payload)
            except StoreConflictError:
                if ref.type != WORKFLOW_ACTOR or self._owns(ref):
                    raise
                # The lease went while the turn ran; nothing of it was applied, so the
                # call goes to the new owner as if it had never been ours.
        if method == "snapshot":
            return await self.snapshot(ref)
        if method == "add_event":
            assert isinstance(payload, pb.HistoryEvent)
            if await self.snapshot(ref) is None:
                raise NotFoundError(f"no workflow instance with ID '{ref.id}'")
            await self._send(ref, payload, "dapr")
            return None
        if method == "create":
            assert isinstance(payload, CreateCommand)
            await self._create(ref, payload)
            return None
        if method == "purge":
            assert isinstance(payload, PurgeCommand)
            return await self._purge(ref, payload)
        raise FailedPreconditionError(
            f"workflow '{ref.id}' is owned by another daemon; '{method}' runs on its owner"
            " only (see wfsidecar cluster status)")

    async def _entity(self, ref: ActorRef, method: str, payload: object) -> object:
        """An entity another daemon owns: a signal is a ``msg-*`` message (as workflows
        signal entities, effects.send_entity); a read runs here on state loaded from the
        store and the activation is dropped after it, so no stale copy stays; anything
        else would write and is refused by the store (StoreConflictError)."""
        if method == "signal":
            assert isinstance(payload, pb.HistoryEvent)
            due = entities.scheduled_ms(payload)
            await self._message(ref, f"msg-{uuid.uuid4().hex[:12]}",
                                payload.SerializeToString(), due)
            return None
        try:
            return await self._local.invoke(ref, method, payload)
        finally:
            self._forget(ref)

    async def snapshot(self, ref: ActorRef) -> InstanceSnapshot | None:
        """The instance as last committed, read from the store."""
        ctx = TurnContext(ref, await self._store.load_actor(ref), now_ms=self._now_ms(),
                          new_etag=self._new_etag)
        return projection.snapshot(ref.id, WorkflowState.load(ctx))

    async def _create(self, ref: ActorRef, cmd: CreateCommand) -> None:
        current = await self.snapshot(ref)
        if current is not None:
            terminal = current.view.status in engine.TERMINAL
            if cmd.replaceable is not None:
                replace_it = int(current.view.status) in cmd.replaceable
            else:
                replace_it = terminal and not cmd.enforce_unique
            if not replace_it or not terminal:
                # A running instance can only be replaced by its owner's turn.
                kind = "an active" if not terminal else "a"
                raise AlreadyExistsError(f"{kind} workflow with ID '{ref.id}' already exists")
        execution = cmd.started.executionStarted.orchestrationInstance.executionId.value
        # Due now even with a start time: the owner creates it PENDING at once and its
        # first turn waits for the time (ExecutionStarted carries it), as a local start.
        await self._send(ref, cmd.started, cmd.dialect)
        await self._await(ref, lambda s: s is not None and s.view.execution_id == execution)

    async def _purge(self, ref: ActorRef, cmd: PurgeCommand) -> PurgeOutcome:
        """As the actor's purge method (effects.purge), by a ``purge-*`` message."""
        current = await self.snapshot(ref)
        if current is None:
            return PurgeOutcome(False, ())
        if current.view.status not in engine.TERMINAL and not cmd.force:
            raise FailedPreconditionError(
                f"workflow '{ref.id}' is {current.view.status.name}; only completed, failed"
                " or terminated workflows can be purged (or use force)")
        await self._message(ref, f"purge-{uuid.uuid4().hex[:12]}",
                            b"force" if cmd.force else b"", None)
        await self._await(ref, lambda s: s is None)
        return PurgeOutcome(True, current.view.child_instance_ids)

    async def _await(self, ref: ActorRef, done: Callable[[InstanceSnapshot | None], bool]) -> None:
        try:
            async with asyncio.timeout(CREATE_TIMEOUT):
                await self._waiters.wait(ref.id, done, lambda: self.snapshot(ref))
        except TimeoutError:
            raise StoreUnavailable(
                f"workflow '{ref.id}': the request was sent to its owner, which has not"
                f" taken it within {CREATE_TIMEOUT:.0f}s; it will when the owner runs"
            ) from None

    async def _send(self, ref: ActorRef, event: pb.HistoryEvent, dialect: str) -> None:
        await self._message(ref, f"evt-{dialect}-{uuid.uuid4().hex[:12]}",
                            event.SerializeToString(), None)

    async def _message(self, ref: ActorRef, name: str, data: bytes, due_ms: int | None) -> None:
        now = self._now_ms()
        changes = Changes()
        changes.set_reminder(Reminder(ref, name, max(due_ms or now, now), data=data,
                                      etag=self._new_etag()))
        await self._store.commit(changes)
        self.sent += 1
