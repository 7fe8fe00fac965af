"""Task hub reset: wipe every workflow, activity and entity (test isolation only).

Enabled by ``testing.allow_task_hub_reset``; the Microsoft-dialect CreateTaskHub and
DeleteTaskHub RPCs call it. Each actor is deleted in a turn of its own, so the deletion
takes its lock, commits through the store like any other change, and the reminder
scheduler sees its reminders go; afterwards every activation is evicted so no actor
keeps a cache of what was deleted, and work handed to workers is dropped.
"""

from __future__ import annotations

import asyncio
import logging

from wfsidecar.actors import Actor, ActorRuntime, TurnContext
from wfsidecar.store.base import StateStore
from wfsidecar.types import ActorRef
from wfsidecar.workflow.dispatch import WorkItemDispatcher
from wfsidecar.workflow.state import ACTIVITY_ACTOR, ENTITY_ACTOR, WORKFLOW_ACTOR

logger = logging.getLogger(__name__)

_PAGE = 200


class TaskHubReset:
    def __init__(self, runtime: ActorRuntime, store: StateStore,
                 dispatcher: WorkItemDispatcher) -> None:
        self._runtime = runtime
        self._store = store
        self._dispatcher = dispatcher

    async def wipe(self) -> int:
        """Delete every workflow, activity and entity actor; return how many."""
        dropped = self._dispatcher.clear()
        deleted = 0
        for actor_type in (WORKFLOW_ACTOR, ACTIVITY_ACTOR, ENTITY_ACTOR):
            while True:
                # Always the first page: what was deleted no longer lists.
                ids = await self._store.list_actor_ids(actor_type, after=None, limit=_PAGE)
                if not ids:
                    break
                await asyncio.gather(*(self._delete(ActorRef(actor_type, i)) for i in ids))
                deleted += len(ids)
        self._runtime.evict_all()
        logger.warning("task hub reset: deleted %d actors, dropped %d work items",
                       deleted, dropped)
        return deleted

    async def _delete(self, ref: ActorRef) -> None:
        async def body(actor: Actor, ctx: TurnContext) -> None:
            ctx.delete_actor()

        await self._runtime.turn(ref, body)
