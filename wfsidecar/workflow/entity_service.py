"""EntityService: the client side of durable entities (Microsoft SignalEntity, GetEntity,
QueryEntities, CleanEntityStorage).

Like WorkflowService, every method returns only after the change is committed: a signal
is in the entity's queue (or held by a reminder until its scheduled time) when it returns.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from wfsidecar.actors import ActorHost
from wfsidecar.clock import Clock
from wfsidecar.engine import TERMINAL, entities
from wfsidecar.errors import InvalidArgumentError
from wfsidecar.store.base import StateStore
from wfsidecar.workflow.entity_actor import EntitySnapshot, entity_ref
from wfsidecar.workflow.messages import InstanceSnapshot
from wfsidecar.workflow.state import ENTITY_ACTOR
from wfsidecar.workflow.workflow_actor import workflow_ref

SCAN_PAGE = 500
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class EntityFilter:
    id_prefix: str = ""
    modified_from_ms: int | None = None
    modified_to_ms: int | None = None
    include_transient: bool = False

    def matches(self, snapshot: EntitySnapshot) -> bool:
        if not snapshot.entity_id.startswith(self.id_prefix):
            return False
        if self.modified_from_ms is not None and snapshot.last_modified_ms < self.modified_from_ms:
            return False
        return self.modified_to_ms is None or snapshot.last_modified_ms < self.modified_to_ms


class EntityService:
    def __init__(self, host: ActorHost, store: StateStore, clock: Clock) -> None:
        self._host = host
        self._store = store
        self._clock = clock

    async def signal(self, entity_id: str, operation: str, input: str | None, *,
                     request_id: str = "", scheduled_ms: int | None = None) -> None:
        """Queue a one-way operation on the entity (created on first use).

        Raises:
            InvalidArgumentError: not an ``@<name>@<key>`` id, or no operation name.
        """
        entities.parse_entity_id(entity_id)
        if not operation:
            raise InvalidArgumentError("an entity operation name is required")
        event = entities.signal_event(
            request_id=request_id or uuid.uuid4().hex, operation=operation, input=input,
            target=entity_id, now_ms=self._clock.now_ms(), scheduled_ms=scheduled_ms)
        await self._host.invoke(entity_ref(entity_id), "signal", event)

    async def get(self, entity_id: str) -> EntitySnapshot | None:
        entities.parse_entity_id(entity_id)
        result = await self._host.invoke(entity_ref(entity_id), "snapshot")
        assert result is None or isinstance(result, EntitySnapshot)
        return result

    async def query(self, flt: EntityFilter, size: int,
                    after: str | None) -> tuple[list[EntitySnapshot], str | None]:
        """One page of matching entities in id order; the token is the last id returned."""
        if size < 0:
            raise InvalidArgumentError(f"page size must not be negative, got {size}")
        size = min(size or MAX_PAGE, MAX_PAGE)
        found: list[EntitySnapshot] = []
        async for entity_id in self._ids(after):
            if not entity_id.startswith(flt.id_prefix) and entity_id > flt.id_prefix:
                break  # ids ascend: nothing later can have the prefix
            if not entity_id.startswith(flt.id_prefix):
                continue
            snapshot = await self._host.invoke(entity_ref(entity_id), "snapshot",
                                               flt.include_transient)
            if isinstance(snapshot, EntitySnapshot) and flt.matches(snapshot):
                if len(found) == size:
                    return found, found[-1].entity_id
                found.append(snapshot)
        return found, None

    async def clean(self, *, remove_empty: bool, release_orphaned_locks: bool) -> tuple[int, int]:
        """Release locks whose owner has finished or is gone, then remove entities left
        with neither state nor pending messages; return (removed, locks released)."""
        removed = released = 0
        async for entity_id in self._ids(None):
            ref = entity_ref(entity_id)
            if release_orphaned_locks:
                snapshot = await self._host.invoke(ref, "snapshot", True)
                owner = snapshot.locked_by if isinstance(snapshot, EntitySnapshot) else None
                if owner is not None and not await self._running(owner) and \
                        await self._host.invoke(ref, "release_lock", owner):
                    released += 1
            if remove_empty and await self._host.invoke(ref, "clean"):
                removed += 1
        return removed, released

    async def _running(self, instance_id: str) -> bool:
        snapshot = await self._host.invoke(workflow_ref(instance_id), "snapshot")
        return isinstance(snapshot, InstanceSnapshot) and snapshot.view.status not in TERMINAL

    async def _ids(self, after: str | None) -> AsyncIterator[str]:
        while True:
            page = await self._store.list_actor_ids(ENTITY_ACTOR, after=after, limit=SCAN_PAGE)
            for entity_id in page:
                yield entity_id
            if len(page) < SCAN_PAGE:
                return
            after = page[-1]
