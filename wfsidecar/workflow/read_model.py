"""The read model: what every list, query, count and bulk operation reads.

A workflow actor writes its instance's index row (``index_row``) in the transaction of
every turn that changes the instance's summary, so the row is never behind a committed
change and never ahead of one. ``ReadModel`` answers selections from those rows alone —
no actor turn, no history load — through the store's one query (store/instances.py):
gRPC ``QueryInstances`` and ``ListInstanceIDs``, purge by filter, the HTTP API, the CLI
and retention all page through it the same way (``ids``).

A file written before the index existed is indexed once at start-up (``backfill``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

from wfsidecar.actors import ActorHost
from wfsidecar.engine import RuntimeStatus
from wfsidecar.store.base import StateStore
from wfsidecar.store.instances import (
    CUSTOM_STATUS_PREVIEW,
    InstanceFilter,
    InstancePage,
    InstanceQuery,
    InstanceRow,
)
from wfsidecar.types import ActorRef
from wfsidecar.workflow import projection
from wfsidecar.workflow.state import WORKFLOW_ACTOR, WorkflowState

logger = logging.getLogger(__name__)

BACKFILL_CONCURRENCY = 32


def index_row(instance_id: str, state: WorkflowState) -> InstanceRow | None:
    """The index row of the instance as ``state`` has it (None: nothing to list)."""
    view = projection.view(instance_id, state) if state.exists else None
    if view is None:
        return None
    custom = state.custom_status
    stored = (sum(map(len, state.encoded_history()[0]))
              + sum(event.ByteSize() for event in state.inbox) + len(custom or ""))
    return InstanceRow(
        instance_id=instance_id, name=view.name, version=view.version,
        status=int(view.status), created_ms=view.created_ms,
        updated_ms=view.last_updated_ms, completed_ms=view.completed_ms,
        parent_id=view.parent_instance_id, dialect=state.dialect,
        stall_reason=view.stall_reason,
        custom_status=custom[:CUSTOM_STATUS_PREVIEW] if custom is not None else None,
        history_len=len(state.history), stored_bytes=stored)


class ReadModel:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    async def query(self, query: InstanceQuery) -> InstancePage:
        """One page of rows (InvalidArgumentError for a bad cursor)."""
        return await self._store.query_instances(query)

    async def count(self, flt: InstanceFilter) -> int:
        return (await self._store.count_instances(flt)).count

    async def count_by_status(self) -> dict[str, int]:
        """How many instances are in each status, by status name (every status, zeros
        included): one count of the index per status."""
        return {status.name: await self.count(InstanceFilter(statuses=frozenset({status})))
                for status in RuntimeStatus}

    async def measure(self, flt: InstanceFilter) -> tuple[int, int]:
        """(how many instances match, the bytes they store)."""
        totals = await self._store.count_instances(flt)
        return totals.count, totals.stored_bytes

    async def ids(self, flt: InstanceFilter, *, page: int = 500) -> AsyncIterator[str]:
        """Every matching instance id, oldest first, a page at a time. Safe to delete
        the instances while iterating (keyset paging does not skip)."""
        query = InstanceQuery(flt, "created", descending=False, limit=page)
        while True:
            result = await self._store.query_instances(query)
            for row in result.rows:
                yield row.instance_id
            if result.next_cursor is None:
                return
            query = replace(query, cursor=result.next_cursor)

    async def backfill(self, host: ActorHost) -> int:
        """Index every workflow instance of a file written before the index, once.

        Each instance is indexed by a turn of its own actor (``reindex``), so the row is
        built by the same code that keeps it up to date. Returns how many were indexed.
        """
        if not await self._store.instance_backfill_pending():
            return 0
        logger.info("building the instance index for workflows stored before it existed")
        done = 0
        after: str | None = None
        while True:
            ids = await self._store.list_actor_ids(WORKFLOW_ACTOR, after=after,
                                                   limit=BACKFILL_CONCURRENCY * 8)
            for start in range(0, len(ids), BACKFILL_CONCURRENCY):
                chunk = ids[start:start + BACKFILL_CONCURRENCY]
                await asyncio.gather(*(host.invoke(ActorRef(WORKFLOW_ACTOR, i), "reindex")
                                       for i in chunk))
                done += len(chunk)
            if len(ids) < BACKFILL_CONCURRENCY * 8:
                break
            after = ids[-1]
        await self._store.instance_backfill_done()
        logger.info("instance index built for %d workflows", done)
        return done
