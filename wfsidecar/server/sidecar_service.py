"""TaskHubSidecarService: the RPCs both dialects share, parameterized by ``Dialect``.

Served under the bare wire name ``/TaskHubSidecarService/<Method>`` (no proto package, as
every SDK dials it) through a generic handler, so each listener can speak its own dialect.
Dialect-only RPCs live in ``dapr_service.py`` and ``ms_service.py``. Handlers translate and
call the WorkflowService; they hold no state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf import empty_pb2, wrappers_pb2

from wfsidecar._proto.internal import orchestrator_service_pb2 as ipb
from wfsidecar.errors import InvalidArgumentError, NotFoundError
from wfsidecar.server import convert
from wfsidecar.server.dialect import Dialect
from wfsidecar.server.requests import LIMIT_KEY, parsing
from wfsidecar.server.status import mapped, mapped_stream
from wfsidecar.server.work_items import WorkItemStreams
from wfsidecar.store.instances import InstanceFilter
from wfsidecar.telemetry.observer import NULL, Observer
from wfsidecar.workflow.dispatch import Kind, WorkItemDispatcher
from wfsidecar.workflow.requests import BulkRequest, PurgeRequest, RunningPurge
from wfsidecar.workflow.service import WorkflowService
from wfsidecar.workflow.work_item import observed

SERVICE_NAME = "TaskHubSidecarService"
Ctx = grpc.aio.ServicerContext[Any, Any]
Rpc = Callable[[Any, Ctx], Any]

# Worker results, by the kind of work item they complete. One over the message limit can
# never be applied, so its work item is given up (the instance stalls or fails with the
# reason) rather than left waiting for a result that will not come.
COMPLETIONS: dict[str, Kind] = {
    "CompleteOrchestratorTask": "orchestrator",
    "CompleteWorkflowTask": "orchestrator",
    "CompleteActivityTask": "activity",
    "CompleteEntityTask": "entity",
}


class SidecarService:
    def __init__(self, service: WorkflowService, dispatcher: WorkItemDispatcher,
                 dialect: Dialect, *, ping_interval: float = 30.0,
                 max_message_size: int = 64 * 1024 * 1024, observer: Observer = NULL) -> None:
        self._service = service
        self._dispatcher = dispatcher
        self.dialect = dialect
        self._max_message_size = max_message_size
        self._observer = observer
        self._streams = WorkItemStreams(dispatcher, dialect, ping_interval=ping_interval,
                                        max_message_size=max_message_size, observer=observer)

    def rpcs(self) -> dict[str, tuple[Rpc, str]]:
        """Method name → (handler, request message name); subclasses add their own."""
        return {
            "Hello": (self.hello, ""),
            "StartInstance": (self.start_instance, "CreateInstanceRequest"),
            "GetInstance": (self.get_instance, "GetInstanceRequest"),
            "WaitForInstanceStart": (self.wait_for_start, "GetInstanceRequest"),
            "WaitForInstanceCompletion": (self.wait_for_completion, "GetInstanceRequest"),
            "RaiseEvent": (self.raise_event, "RaiseEventRequest"),
            "TerminateInstance": (self.terminate, "TerminateRequest"),
            "SuspendInstance": (self.suspend, "SuspendRequest"),
            "ResumeInstance": (self.resume, "ResumeRequest"),
            "PurgeInstances": (self.purge, "PurgeInstancesRequest"),
            "CompleteOrchestratorTask": (self.complete_orchestrator, "OrchestratorResponse"),
            "CompleteActivityTask": (self.complete_activity, "ActivityResponse"),
        }

    def streams(self) -> dict[str, tuple[Rpc, str]]:
        """Server-streaming methods; generators other than GetWorkItems get error mapping."""
        return {"GetWorkItems": (self._streams.serve, "GetWorkItemsRequest")}

    def handler(self) -> grpc.GenericRpcHandler:
        def request_type(name: str) -> Any:
            return empty_pb2.Empty if not name else self.dialect.msg(name)

        def serialize(m: Any) -> bytes:
            # Work items for Dapr workers arrive already serialized (work_items.py).
            return m if isinstance(m, bytes) else bytes(m.SerializeToString())

        limit = self._max_message_size
        methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}
        for method, (fn, req) in self.rpcs().items():
            kind = COMPLETIONS.get(method)
            oversized = self._give_up_oversized(kind) if kind else None
            methods[method] = grpc.unary_unary_rpc_method_handler(
                parsing(mapped(fn), request_type(req), limit, oversized),
                response_serializer=serialize)
        for method, (fn, req) in self.streams().items():
            handler = fn if method == "GetWorkItems" else mapped_stream(fn)
            methods[method] = grpc.unary_stream_rpc_method_handler(
                parsing(handler, request_type(req), limit), response_serializer=serialize)
        return grpc.method_handlers_generic_handler(SERVICE_NAME, methods)

    def _give_up_oversized(self, kind: Kind) -> Callable[[Any, int], Awaitable[None]]:
        async def give_up(request: Any, size: int) -> None:
            reason = (f"result from the worker is {size} bytes, over the {LIMIT_KEY} "
                      f"limit of {self._max_message_size} bytes; wfsidecar cannot apply it")
            instance_id = "" if kind == "entity" else request.instanceId
            task_id = request.taskId if kind == "activity" else -1
            try:
                self._dispatcher.give_up(kind, request.completionToken, instance_id, task_id,
                                         reason)
            except NotFoundError:
                pass  # a stale or repeated result: its work item is gone already
        return give_up

    def _msg(self, name: str, **fields: Any) -> Any:
        return self.dialect.msg(name)(**fields)

    # -- shared RPCs -------------------------------------------------------------------

    async def hello(self, request: Any, context: Ctx) -> Any:
        return empty_pb2.Empty()

    async def start_instance(self, request: Any, context: Ctx) -> Any:
        start = convert.start_request(request, self.dialect, **self.start_policy(request))
        instance_id = await self._service.start(start)
        return self._msg("CreateInstanceResponse", instanceId=instance_id)

    def start_policy(self, request: Any) -> dict[str, Any]:
        return {}

    async def get_instance(self, request: Any, context: Ctx) -> Any:
        snapshot = await self._service.get(request.instanceId)
        return convert.instance_response(snapshot, payloads=request.getInputsAndOutputs,
                                         dialect=self.dialect)

    async def wait_for_start(self, request: Any, context: Ctx) -> Any:
        snapshot = await self._service.wait_for_start(request.instanceId)
        return convert.instance_response(snapshot, payloads=request.getInputsAndOutputs,
                                         dialect=self.dialect)

    async def wait_for_completion(self, request: Any, context: Ctx) -> Any:
        snapshot = await self._service.wait_for_completion(request.instanceId)
        return convert.instance_response(snapshot, payloads=request.getInputsAndOutputs,
                                         dialect=self.dialect)

    async def raise_event(self, request: Any, context: Ctx) -> Any:
        await self._service.raise_event(request.instanceId, request.name,
                                        convert.optional_text(request, "input"))
        return self._msg("RaiseEventResponse")

    async def terminate(self, request: Any, context: Ctx) -> Any:
        await self._service.terminate(request.instanceId,
                                      convert.optional_text(request, "output"),
                                      request.recursive)
        return self._msg("TerminateResponse")

    async def suspend(self, request: Any, context: Ctx) -> Any:
        await self._service.suspend(request.instanceId, convert.optional_text(request, "reason"))
        return self._msg("SuspendResponse")

    async def resume(self, request: Any, context: Ctx) -> Any:
        await self._service.resume(request.instanceId, convert.optional_text(request, "reason"))
        return self._msg("ResumeResponse")

    async def purge(self, request: Any, context: Ctx) -> Any:
        which = request.WhichOneof("request")
        running = self.purge_running(request)
        if which == "instanceId":
            count = await self._service.purge(
                PurgeRequest(request.instanceId, request.recursive, running))
        elif which == "purgeInstanceFilter":
            f = request.purgeInstanceFilter
            result = await self._service.purge_many(BulkRequest(InstanceFilter(
                statuses=convert.statuses(f.runtimeStatus),
                created_from_ms=convert.optional_ms(f, "createdTimeFrom"),
                created_to_ms=convert.optional_ms(f, "createdTimeTo")),
                recursive=request.recursive))
            count = result.done
        elif which == "instanceBatch":
            count = 0
            for instance_id in request.instanceBatch.instanceIds:
                count += await self._service.purge(
                    PurgeRequest(instance_id, request.recursive, running))
        else:
            raise InvalidArgumentError("purge needs an instance id, a filter or a batch")
        return self._msg("PurgeInstancesResponse", deletedInstanceCount=count,
                         isComplete=wrappers_pb2.BoolValue(value=True))

    def purge_running(self, request: Any) -> RunningPurge:
        """What this dialect's clients expect from purging an unfinished instance."""
        return RunningPurge.REFUSE

    async def complete_orchestrator(self, request: Any, context: Ctx) -> Any:
        internal = self.dialect.to_internal(request, ipb.OrchestratorResponse)
        item = await self._dispatcher.complete("orchestrator", request.completionToken,
                                               request.instanceId, -1,
                                               internal.SerializeToString())
        self._observer.work_completed(observed(item))
        return self._msg("CompleteTaskResponse")

    async def complete_activity(self, request: Any, context: Ctx) -> Any:
        internal = self.dialect.to_internal(request, ipb.ActivityResponse)
        item = await self._dispatcher.complete("activity", request.completionToken,
                                               request.instanceId, request.taskId,
                                               internal.SerializeToString())
        self._observer.work_completed(
            observed(item, failed=internal.HasField("failureDetails")))
        return self._msg("CompleteTaskResponse")
