"""The GetWorkItems server stream: pulls from the dispatcher, writes to one worker.

Everything dispatched on a stream and not completed is re-queued when the stream ends,
however it ends (worker gone, daemon draining). Health pings go out only in the form the
worker understands: never ``WorkItem`` field 4 to a Dapr worker (1.18 crashes on it), and
field 6 only to a worker that advertised capability 3 (protocol.md §0.2, §4.4).
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.errors import ShuttingDownError
from wfsidecar.workflow.dispatch import WorkItem, WorkItemDispatcher

logger = logging.getLogger(__name__)

HEALTH_PING_CAPABILITY = 3


class WorkItemStreams:
    def __init__(self, dispatcher: WorkItemDispatcher, *, ping_interval: float) -> None:
        self._dispatcher = dispatcher
        self._ping_interval = ping_interval

    async def serve(self, request: pb.GetWorkItemsRequest,
                    context: grpc.aio.ServicerContext[pb.GetWorkItemsRequest, pb.WorkItem],
                    ) -> None:
        pings = HEALTH_PING_CAPABILITY in set(request.capabilities)
        stream = self._dispatcher.open_stream()
        logger.info("worker stream %d opened (%s)", stream, context.peer())
        try:
            while True:
                try:
                    async with asyncio.timeout(self._ping_interval if pings else None):
                        item = await self._dispatcher.next(stream)
                except TimeoutError:
                    await context.write(_health_ping())
                    continue
                await context.write(_encode(item))
        except ShuttingDownError:
            return
        finally:
            self._dispatcher.release(stream)
            logger.info("worker stream %d closed", stream)


def _encode(item: WorkItem) -> pb.WorkItem:
    work = pb.WorkItem(completionToken=item.token)
    if item.kind == "orchestrator":
        work.orchestratorRequest.ParseFromString(item.payload)
    else:
        work.activityRequest.ParseFromString(item.payload)
    return work


def _health_ping() -> pb.WorkItem:
    work = pb.WorkItem()
    work.healthPing.SetInParent()
    return work
