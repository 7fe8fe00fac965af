"""The gRPC edge's telemetry point: one server interceptor reports every finished RPC
(method, status code, duration, the instance it named) to the observer seam."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from wfsidecar.telemetry.observer import Observer, RpcCall


class ObservingInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, observer: Observer) -> None:
        self._observer = observer

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails],
                                     Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None:
            return None
        method = details.method.rsplit("/", 1)[-1]
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
                return await call(request, context)
            finally:
                self._report(method, request, context, began)
        return observed

    def _stream(self, method: str, call: Any) -> Any:
        async def observed(request: Any,
                           context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            began = time.perf_counter()
            try:
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
