"""TaskHubSidecarService in the Dapr dialect: translate, call the service, map errors.

Served under the bare wire name ``/TaskHubSidecarService/<Method>`` (no proto package, as
every SDK dials it) through a generic handler, so the project's own proto package can
differ per dialect and both dialects can live in one process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf import empty_pb2, wrappers_pb2

from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.errors import InvalidArgumentError
from wfsidecar.server import convert
from wfsidecar.server.status import mapped
from wfsidecar.server.work_items import WorkItemStreams
from wfsidecar.workflow.dispatch import WorkItemDispatcher
from wfsidecar.workflow.service import WorkflowService

SERVICE_NAME = "TaskHubSidecarService"
Ctx = grpc.aio.ServicerContext[Any, Any]


class DaprSidecarService:
    def __init__(self, service: WorkflowService, dispatcher: WorkItemDispatcher, *,
                 ping_interval: float = 30.0) -> None:
        self._service = service
        self._dispatcher = dispatcher
        self._streams = WorkItemStreams(dispatcher, ping_interval=ping_interval)

    def handler(self) -> grpc.GenericRpcHandler:
        unary: dict[str, tuple[Callable[..., Any], Any]] = {
            "Hello": (self.hello, empty_pb2.Empty),
            "StartInstance": (self.start_instance, pb.CreateInstanceRequest),
            "GetInstance": (self.get_instance, pb.GetInstanceRequest),
            "WaitForInstanceStart": (self.wait_for_start, pb.GetInstanceRequest),
            "WaitForInstanceCompletion": (self.wait_for_completion, pb.GetInstanceRequest),
            "RaiseEvent": (self.raise_event, pb.RaiseEventRequest),
            "TerminateInstance": (self.terminate, pb.TerminateRequest),
            "SuspendInstance": (self.suspend, pb.SuspendRequest),
            "ResumeInstance": (self.resume, pb.ResumeRequest),
            "PurgeInstances": (self.purge, pb.PurgeInstancesRequest),
            "CompleteOrchestratorTask": (self.complete_orchestrator, pb.OrchestratorResponse),
            # Dapr 1.18 renamed it; no SDK calls the new name yet (protocol.md §3.1).
            "CompleteWorkflowTask": (self.complete_orchestrator, pb.OrchestratorResponse),
            "CompleteActivityTask": (self.complete_activity, pb.ActivityResponse),
            "ListInstanceIDs": (self.list_instance_ids, pb.ListInstanceIDsRequest),
            "GetInstanceHistory": (self.get_history, pb.GetInstanceHistoryRequest),
            "RerunWorkflowFromEvent": (self.rerun, pb.RerunWorkflowFromEventRequest),
        }
        methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
            name: grpc.unary_unary_rpc_method_handler(
                mapped(fn), request_deserializer=req.FromString,
                response_serializer=lambda m: m.SerializeToString())
            for name, (fn, req) in unary.items()
        }
        methods["GetWorkItems"] = grpc.unary_stream_rpc_method_handler(
            self._streams.serve, request_deserializer=pb.GetWorkItemsRequest.FromString,
            response_serializer=lambda m: m.SerializeToString())
        return grpc.method_handlers_generic_handler(SERVICE_NAME, methods)

    async def hello(self, request: empty_pb2.Empty, context: Ctx) -> empty_pb2.Empty:
        return empty_pb2.Empty()

    async def start_instance(self, request: pb.CreateInstanceRequest,
                             context: Ctx) -> pb.CreateInstanceResponse:
        instance_id = await self._service.start(convert.start_request(request))
        return pb.CreateInstanceResponse(instanceId=instance_id)

    async def get_instance(self, request: pb.GetInstanceRequest,
                           context: Ctx) -> pb.GetInstanceResponse:
        snapshot = await self._service.get(request.instanceId)
        return convert.instance_response(snapshot, payloads=request.getInputsAndOutputs)

    async def wait_for_start(self, request: pb.GetInstanceRequest,
                             context: Ctx) -> pb.GetInstanceResponse:
        snapshot = await self._service.wait_for_start(request.instanceId)
        return convert.instance_response(snapshot, payloads=request.getInputsAndOutputs)

    async def wait_for_completion(self, request: pb.GetInstanceRequest,
                                  context: Ctx) -> pb.GetInstanceResponse:
        snapshot = await self._service.wait_for_completion(request.instanceId)
        return convert.instance_response(snapshot, payloads=request.getInputsAndOutputs)

    async def raise_event(self, request: pb.RaiseEventRequest,
                          context: Ctx) -> pb.RaiseEventResponse:
        await self._service.raise_event(request.instanceId, request.name,
                                        convert.text(request.input, request.HasField("input")))
        return pb.RaiseEventResponse()

    async def terminate(self, request: pb.TerminateRequest, context: Ctx) -> pb.TerminateResponse:
        await self._service.terminate(
            request.instanceId, convert.text(request.output, request.HasField("output")),
            request.recursive)
        return pb.TerminateResponse()

    async def suspend(self, request: pb.SuspendRequest, context: Ctx) -> pb.SuspendResponse:
        await self._service.suspend(request.instanceId,
                                    convert.text(request.reason, request.HasField("reason")))
        return pb.SuspendResponse()

    async def resume(self, request: pb.ResumeRequest, context: Ctx) -> pb.ResumeResponse:
        await self._service.resume(request.instanceId,
                                   convert.text(request.reason, request.HasField("reason")))
        return pb.ResumeResponse()

    async def purge(self, request: pb.PurgeInstancesRequest,
                    context: Ctx) -> pb.PurgeInstancesResponse:
        which = request.WhichOneof("request")
        if which == "instanceId":
            count = await self._service.purge(request.instanceId, recursive=request.recursive,
                                              force=request.force)
        elif which == "purgeInstanceFilter":
            f = request.purgeInstanceFilter
            count = await self._service.purge_by_filter(
                created_from_ms=(convert.ms_of(f.createdTimeFrom)
                                 if f.HasField("createdTimeFrom") else None),
                created_to_ms=(convert.ms_of(f.createdTimeTo)
                               if f.HasField("createdTimeTo") else None),
                statuses=convert.statuses(f.runtimeStatus))
        else:
            raise InvalidArgumentError("purge needs an instanceId or a purgeInstanceFilter")
        return pb.PurgeInstancesResponse(deletedInstanceCount=count,
                                         isComplete=wrappers_pb2.BoolValue(value=True))

    async def complete_orchestrator(self, request: pb.OrchestratorResponse,
                                    context: Ctx) -> pb.CompleteTaskResponse:
        await self._dispatcher.complete("orchestrator", request.completionToken,
                                        request.instanceId, -1, request.SerializeToString())
        return pb.CompleteTaskResponse()

    async def complete_activity(self, request: pb.ActivityResponse,
                                context: Ctx) -> pb.CompleteTaskResponse:
        await self._dispatcher.complete("activity", request.completionToken,
                                        request.instanceId, request.taskId,
                                        request.SerializeToString())
        return pb.CompleteTaskResponse()

    async def list_instance_ids(self, request: pb.ListInstanceIDsRequest,
                                context: Ctx) -> pb.ListInstanceIDsResponse:
        token = request.continuationToken or None
        size = request.pageSize
        ids, next_token = await self._service.list_instance_ids(size, token)
        response = pb.ListInstanceIDsResponse(instanceIds=ids)
        if next_token is not None:
            response.continuationToken = next_token
        return response

    async def get_history(self, request: pb.GetInstanceHistoryRequest,
                          context: Ctx) -> pb.GetInstanceHistoryResponse:
        events = await self._service.history(request.instanceId)
        return pb.GetInstanceHistoryResponse(events=events)

    async def rerun(self, request: pb.RerunWorkflowFromEventRequest,
                    context: Ctx) -> pb.RerunWorkflowFromEventResponse:
        new_id = await self._service.rerun_from_event(
            request.sourceInstanceID, request.eventID,
            new_instance_id=request.newInstanceID, overwrite_input=request.overwriteInput,
            new_input=convert.text(request.input, request.HasField("input")))
        return pb.RerunWorkflowFromEventResponse(newInstanceID=new_id)
