"""EntityActor: one per durable entity, id = entity instance id ``@<name>@<key>``.

Keys (engine.md "Durable entities"):
  ``entityState``    the entity's serialized state, raw UTF-8 (absent = no state)
  ``queue-NNNNNN``   one serialized HistoryEvent per pending operation request
  ``metadata``       JSON ``{"queueLength", "lastModified"}`` (+ ``"lock": [criticalSectionId,
                     ownerInstanceId]`` while a critical section holds the entity)
Reminders: ``run`` dispatches a batch (then parks, like the workflow actor's ``run``);
``msg-<random>`` carries one HistoryEvent from another actor's turn (or a delayed signal)
and appends it to the queue when it fires. One batch is in flight at a time; its
completion commits the new state, drops the covered requests and writes every message the
batch caused (results to callers, signals, orchestration starts) in one transaction.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.actors import ActorHost, ReminderResult, TurnContext
from wfsidecar.engine import entities, entity_locks
from wfsidecar.engine.entity_locks import Lock
from wfsidecar.errors import NotFoundError
from wfsidecar.types import ActorRef
from wfsidecar.workflow import effects
from wfsidecar.workflow.dispatch import WorkItem, WorkItemDispatcher
from wfsidecar.workflow.messages import Completion
from wfsidecar.workflow.state import ENTITY_ACTOR, MICROSOFT

logger = logging.getLogger(__name__)

RUN = "run"
BATCH_RETRY_MS = 1000
STATE_KEY = "entityState"


def queue_key(i: int) -> str:
    return f"queue-{i:06d}"


@dataclass(frozen=True, slots=True)
class EntitySnapshot:
    entity_id: str
    state: str | None
    backlog: int
    last_modified_ms: int
    locked_by: str | None = None


def entity_ref(entity_id: str) -> ActorRef:
    return ActorRef(ENTITY_ACTOR, entity_id)


class EntityActor:
    def __init__(self, ref: ActorRef, host: ActorHost, dispatcher: WorkItemDispatcher) -> None:
        self.ref = ref
        self.entity_id = ref.id
        self._host = host
        self._dispatcher = dispatcher
        self._loaded = False
        self._state: str | None = None
        self._queue: list[pb.HistoryEvent] = []
        self._modified_ms = 0
        self._lock: Lock | None = None
        self._dispatch: tuple[WorkItem, tuple[int, ...]] | None = None  # item, queue indexes

    # -- calls -------------------------------------------------------------------------

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        self._load(ctx)
        if method == "snapshot":
            return self._snapshot(transient=bool(payload))
        if method == "clean":
            return self._clean(ctx)
        if method == "release_lock":
            assert isinstance(payload, str)
            return self._release_lock(ctx, payload)
        if method == "signal":
            assert isinstance(payload, pb.HistoryEvent)
            due = entities.scheduled_ms(payload)
            if due is not None and due > ctx.now_ms:
                # Delayed: a reminder holds it until then.
                effects.send_entity(ctx, self.entity_id, payload, due)
            else:
                self._enqueue(ctx, payload)
            return None
        if method == "complete":
            assert isinstance(payload, Completion)
            self._complete(ctx, payload)
            return None
        raise NotFoundError(f"entity actor has no method {method!r}")

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        self._load(ctx)
        if name == RUN:
            return self._run(ctx)
        if name.startswith("msg-"):
            self._enqueue(ctx, pb.HistoryEvent.FromString(data))
            return ReminderResult.DONE
        logger.warning("entity %s: unknown reminder %s dropped", self.entity_id, name)
        return ReminderResult.DONE

    # -- state ---------------------------------------------------------------------

    def _load(self, ctx: TurnContext) -> None:
        if self._loaded:
            return
        raw = ctx.get("metadata")
        meta: dict[str, Any] = json.loads(raw) if raw else {"queueLength": 0,
                                                            "lastModified": 0}
        state = ctx.get(STATE_KEY)
        self._state = state.decode() if state is not None else None
        self._queue = [pb.HistoryEvent.FromString(ctx.get(queue_key(i)) or b"")
                       for i in range(int(meta["queueLength"]))]
        self._modified_ms = int(meta["lastModified"])
        lock = meta.get("lock")
        self._lock = Lock(lock[0], lock[1]) if lock else None
        self._loaded = True

    def _save_meta(self, ctx: TurnContext) -> None:
        meta: dict[str, object] = {"queueLength": len(self._queue),
                                   "lastModified": self._modified_ms}
        if self._lock is not None:
            meta["lock"] = [self._lock.critical_section, self._lock.owner]
        ctx.put("metadata", json.dumps(meta, separators=(",", ":")).encode())

    def _snapshot(self, *, transient: bool = False) -> EntitySnapshot | None:
        # An entity without state does not exist for clients; a query that asks for
        # transient entities also sees those that only have queued requests.
        if self._state is None and self._lock is None and not (transient and self._queue):
            return None
        return EntitySnapshot(self.entity_id, self._state, len(self._queue), self._modified_ms,
                              self._lock.owner if self._lock else None)

    def _release_lock(self, ctx: TurnContext, owner: str) -> bool:
        """CleanEntityStorage: the owner has finished or is gone, so nobody will unlock."""
        if self._lock is None or self._lock.owner != owner:
            return False
        self._lock = None
        self._save_meta(ctx)
        ctx.set_reminder(RUN, due_ms=ctx.now_ms)  # what waited for the lock may run now
        return True

    def _clean(self, ctx: TurnContext) -> bool:
        """CleanEntityStorage: forget an entity left with no state and no work."""
        if self._state is not None or self._queue or self._dispatch is not None or self._lock:
            return False
        if ctx.get("metadata") is None:
            return False
        # Keys only: reminders (delayed signals still on their way) must survive.
        ctx.delete("metadata")
        self._modified_ms = 0
        return True

    def _enqueue(self, ctx: TurnContext, event: pb.HistoryEvent) -> None:
        ctx.put(queue_key(len(self._queue)), event.SerializeToString())
        self._queue.append(event)
        self._save_meta(ctx)
        ctx.set_reminder(RUN, due_ms=ctx.now_ms)

    def on_discard(self) -> None:
        """Thrown away after a failed turn: the rebuilt actor dispatches its own batch, so
        the one out with a worker must never be sent again (it would be refused)."""
        if self._dispatch is not None:
            self._dispatch[0].superseded = True
            self._dispatch = None

    # -- turns ---------------------------------------------------------------------

    def _run(self, ctx: TurnContext) -> ReminderResult:
        if self._dispatch is not None:
            return ReminderResult.PARK  # the completion re-arms it
        plan = entity_locks.plan(self._queue, self._lock)
        while plan.control is not None:
            # Lock bookkeeping needs no worker: apply it in this turn, with its messages.
            outcome = entity_locks.apply_control(self._queue[plan.control], self._lock,
                                                 ctx.now_ms)
            self._lock = outcome.lock
            self._send(ctx, outcome.outbox)
            self._remove(ctx, (plan.control,))
            self._save_meta(ctx)
            plan = entity_locks.plan(self._queue, self._lock)
        if not plan.batch:
            return ReminderResult.DONE
        request = entities.build_batch(self.entity_id, self._state,
                                       [self._queue[i] for i in plan.batch])
        name, _ = entities.parse_entity_id(self.entity_id)
        item = WorkItem("entity", self.entity_id, request.SerializeToString(),
                        on_complete=self._deliver, dialect=MICROSOFT, name=name)
        self._dispatch = (item, plan.batch)
        self._dispatcher.submit(item)
        return ReminderResult.PARK

    def _send(self, ctx: TurnContext, outbox: list[entities.EntityOutbox]) -> None:
        for out in outbox:
            if isinstance(out, entities.MessageEntity):
                effects.send_entity(ctx, out.entity_id, out.event, out.due_ms)
            elif isinstance(out, entities.SendToInstance):
                effects.send(ctx, out.instance_id, out.event, MICROSOFT)
            else:
                effects.send(ctx, out.instance_id, out.started, MICROSOFT)

    def _remove(self, ctx: TurnContext, indexes: tuple[int, ...]) -> None:
        """Drop queue entries; rewrite the keys whose position changed."""
        gone = set(indexes)
        old = self._queue
        self._queue = [e for i, e in enumerate(old) if i not in gone]
        first = min(gone)
        for i in range(first, len(self._queue)):
            ctx.put(queue_key(i), self._queue[i].SerializeToString())
        for i in range(len(self._queue), len(old)):
            ctx.delete(queue_key(i))

    async def _deliver(self, item: WorkItem, response: bytes) -> None:
        await self._host.invoke(self.ref, "complete", Completion(item, response))

    def _complete(self, ctx: TurnContext, completion: Completion) -> None:
        if self._dispatch is None or self._dispatch[0] is not completion.item:
            raise NotFoundError(f"unknown entity work item for {self.entity_id} (stale)")
        # Applied now; or, if this turn fails, the rebuilt actor dispatches the batch anew.
        completion.item.superseded = True
        batch = self._dispatch[1]
        result = pb.EntityBatchResult.FromString(completion.response)
        if result.HasField("failureDetails") and not result.results:
            # The whole batch failed (not an operation): nothing is applied; run it again
            # a little later rather than spin on a failing worker.
            logger.warning("entity %s: batch failed (%s); retrying", self.entity_id,
                           result.failureDetails.errorMessage)
            self._dispatch = None
            ctx.set_reminder(RUN, due_ms=ctx.now_ms + BATCH_RETRY_MS)
            return
        outcome = entities.apply_batch([self._queue[i] for i in batch], result, ctx.now_ms,
                                       lambda: uuid.uuid4().hex)
        self._send(ctx, outcome.outbox)
        self._remove(ctx, batch)
        if outcome.state is None:
            ctx.delete(STATE_KEY)
        else:
            ctx.put(STATE_KEY, outcome.state.encode())
        self._state = outcome.state
        self._modified_ms = ctx.now_ms
        self._save_meta(ctx)
        self._dispatch = None
        if self._queue:
            ctx.set_reminder(RUN, due_ms=ctx.now_ms)
        else:
            ctx.delete_reminder(RUN)
