"""The GetWorkItems server stream: pulls from the dispatcher, writes to one worker.

Everything dispatched on a stream and not completed is re-queued when the stream ends,
however it ends (worker gone, daemon draining). Health pings go out only in the form the
worker understands (protocol.md §0.2, §4.4): Microsoft workers get ``WorkItem.healthPing``
(field 4) after ~30 s of silence, since the 1.12 worker reconnects after 120 s without a
message; Dapr workers never get field 4 (1.18 crashes on it) and get field 6 only if they
advertised capability 3.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc

from wfsidecar.errors import LimitExceededError, ShuttingDownError
from wfsidecar.server.dialect import DAPR, Dialect
from wfsidecar.telemetry.observer import NULL, Observer
from wfsidecar.workflow import request_wire
from wfsidecar.workflow.dispatch import Accepts, WorkItem, WorkItemDispatcher
from wfsidecar.workflow.work_item import dispatched

logger = logging.getLogger(__name__)

DAPR_STATEFUL_HISTORY_CAPABILITY = 2
# WorkItem fields, the same numbers in both dialects: the request oneof and the token.
_WORK_ITEM_FIELDS = {"orchestrator": (1, "OrchestratorRequest"),
                     "activity": (2, "ActivityRequest"),
                     "entity": (3, "EntityBatchRequest")}  # the batch form the 1.12 worker runs
_COMPLETION_TOKEN = 10
DAPR_HEALTH_PING_CAPABILITY = 3


class WorkItemStreams:
    def __init__(self, dispatcher: WorkItemDispatcher, dialect: Dialect, *,
                 ping_interval: float, max_message_size: int = 64 * 1024 * 1024,
                 observer: Observer = NULL) -> None:
        self._dispatcher = dispatcher
        self._observer = observer
        self._max_message_size = max_message_size
        self._dialect = dialect
        self._ping_interval = ping_interval

    async def serve(self, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        capabilities = set(request.capabilities) if self._dialect is DAPR else set()
        # Microsoft workers always understand pings; Dapr ones only when they say so.
        pings = self._dialect is not DAPR or DAPR_HEALTH_PING_CAPABILITY in capabilities
        try:
            stream = self._dispatcher.open_stream(
                self._dialect.name, work_item_filter(request),
                stateful_history=DAPR_STATEFUL_HISTORY_CAPABILITY in capabilities)
        except LimitExceededError as exc:
            logger.warning("worker stream refused (%s): %s", context.peer(), exc)
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        logger.info("%s worker stream %d opened (%s)", self._dialect.name, stream,
                    context.peer())
        try:
            while True:
                if self._dispatcher.ready(stream):
                    # No timer for an item already queued: arming and cancelling one per
                    # item cost ~2 % of the daemon's CPU under load (issue #14).
                    item = await self._dispatcher.next(stream)
                else:
                    try:
                        async with asyncio.timeout(self._ping_interval if pings else None):
                            item = await self._dispatcher.next(stream)
                    except TimeoutError:
                        await context.write(self._ping())
                        continue
                work = self._encode(item)
                size = len(work)
                if size > self._max_message_size:
                    # Sending it would break this shared stream for every instance on it;
                    # only this one instance is held back, with the reason (issue #5).
                    self._dispatcher.reject(item, (
                        f"work item is {size} bytes, over the "
                        f"listeners.max_message_size limit of {self._max_message_size} "
                        "bytes; wfsidecar cannot send it to a worker"))
                    continue
                item.dispatched_at = time.perf_counter()
                self._observer.work_dispatched(dispatched(item))
                await context.write(work)
        except ShuttingDownError:
            return
        finally:
            self._dispatcher.release(stream)
            logger.info("worker stream %d closed", stream)

    def _encode(self, item: WorkItem) -> bytes:
        # Framed around the stored request's bytes, never parsed into a message: for Dapr
        # they are the wire bytes as they are, for Microsoft they are renumbered on the
        # wire (issues #10, #14: the cost per turn must not grow with the history).
        number, message = _WORK_ITEM_FIELDS[item.kind]
        body = self._dialect.wire_bytes(message, item.request_bytes())
        return (request_wire.delimited(number, body)
                + request_wire.delimited(_COMPLETION_TOKEN, item.token.encode()))

    def _ping(self) -> Any:
        work = self._dialect.msg("WorkItem")()
        work.healthPing.SetInParent()  # field 6 in the Dapr proto, field 4 in Microsoft's
        return work


def work_item_filter(request: Any) -> Accepts | None:
    """The Microsoft worker's ``workItemFilters`` as a predicate (protocol.md §4.1).

    No filters: everything. Filters present: a category with no entries matches nothing;
    a name with no versions matches any version; otherwise the item's version ("" when
    it has none) must be listed.
    """
    if "workItemFilters" not in request.DESCRIPTOR.fields_by_name:
        return None
    if not request.HasField("workItemFilters"):
        return None
    filters = request.workItemFilters
    allowed = {
        "orchestrator": {f.name: set(f.versions) for f in filters.orchestrations},
        "activity": {f.name: set(f.versions) for f in filters.activities},
    }
    entity_names = {f.name.lower() for f in filters.entities}

    def accepts(item: WorkItem) -> bool:
        if item.kind == "entity":  # entity filters carry names only (lower-cased)
            return item.name.lower() in entity_names
        versions = allowed[item.kind].get(item.name)
        return versions is not None and (not versions or item.version in versions)

    return accepts
