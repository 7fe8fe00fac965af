"""Dapr's runtime gRPC API (``dapr.proto.runtime.v1.Dapr``), its workflow methods only.

``DaprClient`` in the Go, Java and .NET SDKs, and in the Python SDK up to 1.14, manages
workflows through ``StartWorkflowBeta1``, ``GetWorkflowBeta1`` and five more, each with an
``Alpha1`` twin, rather than through TaskHubSidecarService. They are served here on the
Dapr listeners, with the semantics of Dapr's own runtime (``pkg/api/universal``):

- start: the instance id is optional (a random UUID) and, when given, at most 64 letters,
  digits, ``-`` or ``_``; the input bytes are the instance's input as text;
  ``options["dapr.workflow.start_time"]`` (RFC 3339) schedules the start, other options
  are ignored; a finished instance of the same id is replaced;
- get: Dapr's status name and its ``dapr.workflow.*`` properties. Unlike Dapr, which
  reports STALLED as UNKNOWN, a stalled instance reads ``STALLED``;
- terminate and purge are always recursive; purge refuses an unfinished instance.

The ``workflow_component`` field is not checked (Dapr stopped checking it too) and the
1.19 ``app_id`` is ignored: every instance lives in this daemon. Errors are gRPC statuses
(INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS) with a plain message.
Every other method of the service answers UNIMPLEMENTED.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import grpc
from google.protobuf import empty_pb2, timestamp_pb2

from wfsidecar._proto.dapr_runtime import dapr_runtime_pb2 as pb
from wfsidecar.errors import InvalidArgumentError, NotFoundError
from wfsidecar.server.requests import parsing
from wfsidecar.server.status import mapped
from wfsidecar.workflow.dapr_view import properties
from wfsidecar.workflow.requests import PurgeRequest, RunningPurge, StartRequest, TraceContext
from wfsidecar.workflow.service import WorkflowService

SERVICE_NAME = "dapr.proto.runtime.v1.Dapr"
START_TIME_OPTION = "dapr.workflow.start_time"
NOT_SERVED = (
    "wfsidecar serves only the workflow methods of {service} (StartWorkflowBeta1, "
    "GetWorkflowBeta1, PauseWorkflowBeta1, ResumeWorkflowBeta1, RaiseEventWorkflowBeta1, "
    "TerminateWorkflowBeta1, PurgeWorkflowBeta1 and their Alpha1 twins), not {method}: "
    "it is a workflow daemon, not a Dapr sidecar"
)

Ctx = grpc.aio.ServicerContext[Any, Any]
Rpc = Callable[[Any, Ctx], Awaitable[Any]]


class DaprRuntimeService:
    """The workflow RPCs of Dapr's runtime API on top of the WorkflowService."""

    def __init__(self, service: WorkflowService, *,
                 max_message_size: int = 64 * 1024 * 1024) -> None:
        self._service = service
        self._max_message_size = max_message_size

    def rpcs(self) -> dict[str, tuple[Rpc, type[Any]]]:
        """Method name → (handler, request message class), both stages of each."""
        ops: dict[str, tuple[Rpc, type[Any]]] = {
            "StartWorkflow": (self.start, pb.StartWorkflowRequest),
            "GetWorkflow": (self.get, pb.GetWorkflowRequest),
            "PurgeWorkflow": (self.purge, pb.PurgeWorkflowRequest),
            "TerminateWorkflow": (self.terminate, pb.TerminateWorkflowRequest),
            "PauseWorkflow": (self.pause, pb.PauseWorkflowRequest),
            "ResumeWorkflow": (self.resume, pb.ResumeWorkflowRequest),
            "RaiseEventWorkflow": (self.raise_event, pb.RaiseEventWorkflowRequest),
        }
        return {op + stage: rpc for op, rpc in ops.items() for stage in ("Alpha1", "Beta1")}

    def handler(self) -> grpc.GenericRpcHandler:
        methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
            f"/{SERVICE_NAME}/{name}": grpc.unary_unary_rpc_method_handler(
                parsing(mapped(fn), cls, self._max_message_size),
                response_serializer=lambda m: bytes(m.SerializeToString()))
            for name, (fn, cls) in self.rpcs().items()
        }
        return _RuntimeHandler(methods)

    # -- the seven operations ------------------------------------------------------------

    async def start(self, request: Any, context: Ctx) -> Any:
        instance_id = request.instance_id or str(uuid.uuid4())
        instance_id = await self._service.start(StartRequest(
            name=request.workflow_name, instance_id=instance_id,
            input=_text(request.input, "input"),
            scheduled_start_ms=_start_time(request.options.get(START_TIME_OPTION)),
            parent_trace_context=_caller_trace_context(context)))
        return pb.StartWorkflowResponse(instance_id=instance_id)

    async def get(self, request: Any, context: Ctx) -> Any:
        snapshot = await self._service.get(_instance_id(request))
        if snapshot is None:
            raise NotFoundError(f"no workflow instance with ID '{request.instance_id}'")
        view = snapshot.view
        response = pb.GetWorkflowResponse(
            instance_id=view.instance_id, workflow_name=view.name,
            created_at=_timestamp(view.created_ms),
            last_updated_at=_timestamp(view.last_updated_ms),
            runtime_status=view.status.name)
        response.properties.update(properties(snapshot))
        return response

    async def terminate(self, request: Any, context: Ctx) -> Any:
        await self._service.terminate(_instance_id(request), None, recursive=True)
        return empty_pb2.Empty()

    async def purge(self, request: Any, context: Ctx) -> Any:
        instance_id = _instance_id(request)
        purge = PurgeRequest(instance_id, recursive=True, running=RunningPurge.REFUSE)
        if not await self._service.purge(purge):
            raise NotFoundError(f"no workflow instance with ID '{instance_id}'")
        return empty_pb2.Empty()

    async def pause(self, request: Any, context: Ctx) -> Any:
        await self._service.suspend(_instance_id(request), None)
        return empty_pb2.Empty()

    async def resume(self, request: Any, context: Ctx) -> Any:
        await self._service.resume(_instance_id(request), None)
        return empty_pb2.Empty()

    async def raise_event(self, request: Any, context: Ctx) -> Any:
        instance_id = _instance_id(request)
        if not request.event_name:
            raise InvalidArgumentError("an event name is required")
        data = _text(request.event_data, "event_data") if request.event_data else None
        await self._service.raise_event(instance_id, request.event_name, data)
        return empty_pb2.Empty()


class _RuntimeHandler(grpc.GenericRpcHandler):
    """The workflow methods, and UNIMPLEMENTED for every other method of the service."""

    def __init__(self, methods: dict[str, grpc.RpcMethodHandler[Any, Any]]) -> None:
        self._methods = methods

    def service(self, handler_call_details: grpc.HandlerCallDetails,
                ) -> grpc.RpcMethodHandler[Any, Any] | None:
        method = handler_call_details.method
        if isinstance(method, bytes):
            method = method.decode("utf-8", "replace")
        if method in self._methods:
            return self._methods[method]
        if not method.startswith(f"/{SERVICE_NAME}/"):
            return None  # another service's: left to the other handlers
        name = method.rsplit("/", 1)[-1]

        async def not_served(requests: Any, context: Ctx) -> None:
            # A streaming handler fits every call shape and answers before reading.
            await context.abort(grpc.StatusCode.UNIMPLEMENTED,
                                NOT_SERVED.format(service=SERVICE_NAME, method=name))

        return grpc.stream_stream_rpc_method_handler(not_served)


def _instance_id(request: Any) -> str:
    if not request.instance_id:
        raise InvalidArgumentError("an instance id is required")
    return str(request.instance_id)


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgumentError(f"{what} is not UTF-8 text: {exc}") from exc


def _start_time(value: str | None) -> int | None:
    """``dapr.workflow.start_time`` as epoch ms; RFC 3339 with a date, time and offset."""
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or "T" not in value.upper():
        raise InvalidArgumentError(
            f"option {START_TIME_OPTION}={value!r} is not an RFC 3339 time "
            "(e.g. \"2023-05-04T12:34:56Z\")")
    return int(when.timestamp() * 1000)


def _timestamp(ms: int) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromMilliseconds(ms)
    return ts


def _caller_trace_context(context: Ctx) -> TraceContext | None:
    # Dapr's clients carry the caller's trace in W3C metadata, as Dapr's runtime reads it.
    metadata = dict(context.invocation_metadata() or ())
    parent = metadata.get("traceparent")
    if not isinstance(parent, str) or not parent.strip():
        return None
    state = metadata.get("tracestate")
    return TraceContext(trace_parent=parent.strip(),
                        trace_state=state if isinstance(state, str) else None)
