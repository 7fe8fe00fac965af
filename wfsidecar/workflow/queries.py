"""Read-side queries over many instances (Microsoft QueryInstances / ListInstanceIds).

They scan instances in id order through the store's cursor and filter each snapshot;
good enough for the embedded store's sizes, and the scan is bounded per page. An index
by status and time is the PostgreSQL/performance waves' business.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from wfsidecar import engine
from wfsidecar.engine import RuntimeStatus
from wfsidecar.errors import InvalidArgumentError
from wfsidecar.store.base import StateStore
from wfsidecar.workflow.messages import InstanceSnapshot
from wfsidecar.workflow.state import WORKFLOW_ACTOR

Getter = Callable[[str], Awaitable[InstanceSnapshot | None]]
DEFAULT_PAGE = 100
MAX_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class InstanceFilter:
    statuses: frozenset[RuntimeStatus] = frozenset()
    created_from_ms: int | None = None
    created_to_ms: int | None = None
    id_prefix: str = ""

    def matches(self, view: engine.InstanceView) -> bool:
        if self.statuses and view.status not in self.statuses:
            return False
        if self.created_from_ms is not None and view.created_ms < self.created_from_ms:
            return False
        if self.created_to_ms is not None and view.created_ms >= self.created_to_ms:
            return False
        return view.instance_id.startswith(self.id_prefix)


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgumentError(f"page size must not be negative, got {requested}")
    return min(requested or DEFAULT_PAGE, MAX_PAGE)


async def instance_ids(store: StateStore, after: str | None = None) -> AsyncIterator[str]:
    while True:
        page = await store.list_actor_ids(WORKFLOW_ACTOR, after=after, limit=500)
        for instance_id in page:
            yield instance_id
        if len(page) < 500:
            return
        after = page[-1]


async def query(store: StateStore, get: Getter, flt: InstanceFilter, size: int,
                after: str | None) -> tuple[list[InstanceSnapshot], str | None]:
    """One page of matching instances in id order; the token is the last id returned."""
    found: list[InstanceSnapshot] = []
    async for instance_id in instance_ids(store, after):
        snapshot = await get(instance_id)
        if snapshot is not None and flt.matches(snapshot.view):
            if len(found) == size:
                return found, found[-1].view.instance_id
            found.append(snapshot)
    return found, None


async def completed_ids(store: StateStore, get: Getter, statuses: frozenset[RuntimeStatus],
                        completed_from_ms: int | None, completed_to_ms: int | None,
                        size: int, last_key: str | None) -> tuple[list[str], str | None]:
    """Terminal instances ordered by (completed time, id); the cursor is that pair."""
    keyed: list[tuple[int, str]] = []
    async for instance_id in instance_ids(store):
        snapshot = await get(instance_id)
        if snapshot is None or snapshot.view.status not in engine.TERMINAL:
            continue
        view = snapshot.view
        done = view.completed_ms or view.last_updated_ms
        if statuses and view.status not in statuses:
            continue
        if completed_from_ms is not None and done < completed_from_ms:
            continue
        if completed_to_ms is not None and done >= completed_to_ms:
            continue
        keyed.append((done, instance_id))
    keyed.sort()
    if last_key:
        when, _, after_id = last_key.partition(":")
        if not when.isdigit():
            raise InvalidArgumentError(f"bad lastInstanceKey {last_key!r}")
        keyed = [k for k in keyed if k > (int(when), after_id)]
    page = keyed[:size]
    more = len(keyed) > size
    return [i for _, i in page], (f"{page[-1][0]}:{page[-1][1]}" if more and page else None)
