"""The gRPC edge's access control: one table classifying every RPC, and the interceptor
that enforces it on every call, the GetWorkItems stream included (docs/security.md).

Tokens come in the ``dapr-api-token`` metadata (the Dapr SDKs send ``DAPR_API_TOKEN``)
or ``authorization: Bearer <token>`` (the Microsoft SDKs' way). A missing or unknown
token is UNAUTHENTICATED, a token of a role that may not make the call PERMISSION_DENIED,
a caller over its rate RESOURCE_EXHAUSTED; no message repeats the token. Every MANAGE
call is written to the audit log once it finishes. The health service is PUBLIC, as
Dapr's health routes are: probes (kubelet's grpc probe) cannot send a token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

import grpc
from google.protobuf import empty_pb2, json_format
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet

from wfsidecar._proto.ms import orchestrator_service_pb2 as _ms
from wfsidecar.security import audit
from wfsidecar.security.access import Access
from wfsidecar.security.gate import Decision, Gate, Refusal, bearer

SIDECAR = "/TaskHubSidecarService/"
RUNTIME = "/dapr.proto.runtime.v1.Dapr/"
HEALTH = "/grpc.health.v1.Health/"

_SIDECAR_ACCESS: dict[str, Access] = {
    "Hello": Access.ANY,
    # Instance management (both dialects).
    "StartInstance": Access.MANAGE,
    "RaiseEvent": Access.MANAGE,
    "TerminateInstance": Access.MANAGE,
    "SuspendInstance": Access.MANAGE,
    "ResumeInstance": Access.MANAGE,
    "PurgeInstances": Access.MANAGE,
    "RerunWorkflowFromEvent": Access.MANAGE,
    "RestartInstance": Access.MANAGE,
    "RewindInstance": Access.MANAGE,
    "SignalEntity": Access.MANAGE,
    "CleanEntityStorage": Access.MANAGE,
    "CreateTaskHub": Access.MANAGE,
    "DeleteTaskHub": Access.MANAGE,
    # Reads.
    "GetInstance": Access.READ,
    "WaitForInstanceStart": Access.READ,
    "WaitForInstanceCompletion": Access.READ,
    "ListInstanceIDs": Access.READ,
    "ListInstanceIds": Access.READ,
    "QueryInstances": Access.READ,
    "GetEntity": Access.READ,
    "QueryEntities": Access.READ,
    # What SDK workers read while running a turn (long or chunked histories).
    "GetInstanceHistory": Access.WORKER_READ,
    "StreamInstanceHistory": Access.WORKER_READ,
    # Work items: workers and admins, never the read-only token.
    "GetWorkItems": Access.WORK,
    "CompleteOrchestratorTask": Access.WORK,
    "CompleteWorkflowTask": Access.WORK,
    "CompleteActivityTask": Access.WORK,
    "CompleteEntityTask": Access.WORK,
    "AbandonTaskOrchestratorWorkItem": Access.WORK,
    "AbandonTaskActivityWorkItem": Access.WORK,
    "AbandonTaskEntityWorkItem": Access.WORK,
}
_RUNTIME_ACCESS: dict[str, Access] = {
    "StartWorkflow": Access.MANAGE,
    "PurgeWorkflow": Access.MANAGE,
    "TerminateWorkflow": Access.MANAGE,
    "PauseWorkflow": Access.MANAGE,
    "ResumeWorkflow": Access.MANAGE,
    "RaiseEventWorkflow": Access.MANAGE,
    "GetWorkflow": Access.READ,
}

# The one table: full method path → what it needs.
ACCESS: dict[str, Access] = {
    **{SIDECAR + name: access for name, access in _SIDECAR_ACCESS.items()},
    **{RUNTIME + name + stage: access for name, access in _RUNTIME_ACCESS.items()
       for stage in ("Alpha1", "Beta1")},
    HEALTH + "Check": Access.PUBLIC,
    HEALTH + "Watch": Access.PUBLIC,
}


def undecided(methods: Iterable[str]) -> list[str]:
    """The registered methods the table has no decision for (a start-up error)."""
    return sorted(m for m in methods if m not in ACCESS)


def access_of(method: str) -> Access:
    # Not in the table: not served (UNIMPLEMENTED), told only to a caller with a token.
    return ACCESS.get(method, Access.ANY)


def presented_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> str | None:
    token = None
    for key, value in metadata or ():
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if key == "dapr-api-token":
            return text
        if key == "authorization" and token is None:
            token = bearer(text)
    return token


_CODES = {Refusal.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
          Refusal.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
          Refusal.RATE_LIMITED: grpc.StatusCode.RESOURCE_EXHAUSTED}

Continuation = Callable[[grpc.HandlerCallDetails],
                        Awaitable["grpc.RpcMethodHandler[Any, Any] | None"]]


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, gate: Gate) -> None:
        self._gate = gate

    async def intercept_service(self, continuation: Continuation,
                                details: grpc.HandlerCallDetails,
                                ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        method = details.method
        if isinstance(method, bytes):
            method = method.decode("utf-8", "replace")
        access = access_of(method)
        if access is Access.PUBLIC:
            return handler
        name = method.rsplit("/", 1)[-1]
        decision = self._gate.check(access, presented_token(details.invocation_metadata),
                                    name)
        if handler is None:
            # No such service or method: UNIMPLEMENTED, but only to a caller with a valid
            # token; others learn nothing of what is served.
            if decision.refusal is Refusal.UNAUTHENTICATED:
                return _refusing(_UNKNOWN, decision, None)
            return None
        if decision.refusal is not None:
            return _refusing(handler, decision, name if access is Access.MANAGE else None)
        if access is Access.MANAGE and handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                _audited(name, decision, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler


async def _unknown(requests: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    """Never called: it only gives ``_refusing`` the shape of a method that does not exist."""


_UNKNOWN: grpc.RpcMethodHandler[Any, Any] = grpc.stream_stream_rpc_method_handler(_unknown)


def _refusing(handler: grpc.RpcMethodHandler[Any, Any], decision: Decision,
              audited: str | None) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same shape that answers the refusal (audited for MANAGE calls)."""
    code = _CODES[decision.refusal] if decision.refusal else grpc.StatusCode.INTERNAL

    async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        if audited is not None:
            audit.record("grpc", audited, target(audited, request), decision.role,
                         decision.token_id, context.peer(), code.name)
        await context.abort(code, decision.message)

    async def refuse_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any],
                            ) -> AsyncIterator[Any]:
        await context.abort(code, decision.message)
        yield  # pragma: no cover - abort raises

    kwargs = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(refuse, **kwargs)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(refuse_stream, **kwargs)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(refuse, **kwargs)
    return grpc.stream_stream_rpc_method_handler(refuse_stream, **kwargs)


def _audited(name: str, decision: Decision, call: Any) -> Any:
    async def audited(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        outcome = "INTERNAL"
        try:
            response = await call(request, context)
            code = context.code()
            outcome = code.name if isinstance(code, grpc.StatusCode) else "OK"
            return response
        except grpc.aio.AbortError:
            code = context.code()
            outcome = code.name if isinstance(code, grpc.StatusCode) else "ABORTED"
            raise
        finally:
            audit.record("grpc", name, target(name, request), decision.role,
                         decision.token_id, context.peer(), outcome)
    return audited


def target(method: str, request: Any) -> str:
    """What a management request acts on: an instance, a batch or a purge filter.

    Requests reach the interceptor as bytes (each handler parses its dialect's message),
    and every audited request but two carries its instance id as field 1.
    """
    data = request if isinstance(request, bytes) else b""
    try:
        if method == "PurgeInstances":
            purge = _ms.PurgeInstancesRequest.FromString(data)
            which = purge.WhichOneof("request")
            if which == "purgeInstanceFilter":
                return "filter=" + json_format.MessageToJson(
                    purge.purgeInstanceFilter, indent=None, sort_keys=True)
            if which == "instanceBatch":
                return "instances=" + ",".join(purge.instanceBatch.instanceIds)
        if method in ("CleanEntityStorage", "CreateTaskHub", "DeleteTaskHub"):
            return ""
        fields = UnknownFieldSet(empty_pb2.Empty.FromString(data))
    except DecodeError:
        return ""
    for index in range(len(fields)):
        f = fields[index]
        if f.field_number == 1 and isinstance(f.data, bytes):
            return "instance=" + f.data.decode("utf-8", "replace")
    return ""


class _Served(Protocol):
    def rpcs(self) -> Mapping[str, object]: ...


class _Streaming(_Served, Protocol):
    def streams(self) -> Mapping[str, object]: ...


def served_methods(sidecars: Iterable[_Streaming], runtime: Iterable[_Served]) -> list[str]:
    """Full paths of every method the services register (for ``undecided``)."""
    paths = [SIDECAR + name for s in sidecars for name in (*s.rpcs(), *s.streams())]
    return paths + [RUNTIME + name for r in runtime for name in r.rpcs()]
