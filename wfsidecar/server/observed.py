"""The gRPC edge's telemetry point: one server interceptor reports every finished RPC
(method, status code, duration, the instance it named) to the observer seam, and binds
the instance and trace it names to the log lines written while it runs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

import grpc

from wfsidecar.telemetry import log_context
from wfsidecar.telemetry.observer import Observer, RpcCall
from wfsidecar.telemetry.trace_ids import parse_traceparent

_CACHED_METHODS = 256


class ObservingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, observer: Observer) -> None:
        self._observer = observer
        # Method path -> (handler, its wrapped form): grpc asks for a handler on every
        # call, and building a new one each time cost ~1 % of the daemon's CPU (issue
        # #14). Reused only for the very same handler (auth may answer with a refusing
        # one); bounded, since a caller may name any path.
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler[Any, Any],
                                       grpc.RpcMethodHandler[Any, Any]]] = {}

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails],
                                     Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None:
            return None
        cached = self._wrapped.get(details.method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(details.method, handler)
        if len(self._wrapped) >= _CACHED_METHODS:
            self._wrapped.clear()
        self._wrapped[details.method] = (handler, wrapped)
        return wrapped

    def _wrap(self, path: str, handler: grpc.RpcMethodHandler[Any, Any],
              ) -> grpc.RpcMethodHandler[Any, Any]:
        method = path.rsplit("/", 1)[-1]
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer)
        return handler  # client- and bidi-streaming: none of ours; passed through

    def _unary(self, method: str, call: Any) -> Any:
        async def observed(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            began = time.perf_counter()
            try:
                with _log_context(request):
                    return await call(request, context)
            finally:
                self._report(method, request, context, began)
        return observed

    def _stream(self, method: str, call: Any) -> Any:
        async def observed(request: Any,
                           context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            began = time.perf_counter()
            try:
                with _log_context(request):
                    result = call(request, context)
                    if hasattr(result, "__aiter__"):
                        async for message in result:
                            yield message
                    else:  # a coroutine that writes with context.write
                        await result
            finally:
                self._report(method, request, context, began)
        return observed

    def _report(self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any],
                began: float) -> None:
        code = context.code()
        name = code.name if isinstance(code, grpc.StatusCode) else "OK" if code in (
            None, 0) else str(code)
        self._observer.rpc_finished(RpcCall(
            "grpc", method, name, time.perf_counter() - began,
            getattr(request, "instanceId", None) or None))


def _log_context(request: Any) -> AbstractContextManager[None]:
    # The instance a request names (its trace, if the caller sent one, as StartInstance
    # does); the log lines of the call carry them (telemetry/log_context.py).
    instance_id = getattr(request, "instanceId", None) or None
    trace_id = None
    context = getattr(request, "parentTraceContext", None)
    if instance_id and context is not None and context.traceParent:
        parent = parse_traceparent(context.traceParent, context.spanID)
        trace_id = parent.trace_id if parent else None
    return log_context.bound(instance_id if isinstance(instance_id, str) else None, trace_id)
