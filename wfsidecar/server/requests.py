"""Decoding a request's raw bytes, after checking them against ``listeners.max_message_size``.

Handlers take raw bytes rather than letting grpc decode them, for two reasons: grpc's
deserializer failures reach the client as UNKNOWN (a malformed request is the caller's
error: INVALID_ARGUMENT), and grpc's own size refusal ("Received message larger than max")
cannot name the config key that sets the limit. The transport therefore lets in somewhat
more than the limit (``grpc_listener.transport_limit``) and the limit is enforced here.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

LIMIT_KEY = "listeners.max_message_size"

Ctx = grpc.aio.ServicerContext[Any, Any]
# Called with the decoded request and its size before an oversized request is refused.
Oversized = Callable[[Any, int], Awaitable[None]]


async def parse(cls: Any, data: bytes, context: Ctx, limit: int | None = None,
                oversized: Oversized | None = None) -> Any:
    """Decode ``data`` as ``cls``; abort with RESOURCE_EXHAUSTED or INVALID_ARGUMENT."""
    too_large = limit is not None and len(data) > limit
    if too_large and oversized is None:
        # Refused before decoding: a huge input must not cost a parse.
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, _too_large(cls, data, limit))
    try:
        request = cls.FromString(data)
    except DecodeError as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                            f"the request is not a valid {cls.DESCRIPTOR.name} message: {exc}")
    if too_large:
        assert oversized is not None
        await oversized(request, len(data))
        await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, _too_large(cls, data, limit))
    return request


def _too_large(cls: Any, data: bytes, limit: int | None) -> str:
    return (f"request {cls.DESCRIPTOR.name} of {len(data)} bytes exceeds {LIMIT_KEY} "
            f"({limit} bytes); send less data (e.g. keep large payloads in external storage "
            f"and pass a reference) or raise {LIMIT_KEY}")


def parsing(fn: Any, cls: Any, limit: int | None = None,
            oversized: Oversized | None = None) -> Any:
    """Wrap a handler taking a message into one taking the raw request bytes."""
    if inspect.isasyncgenfunction(fn):
        async def stream(data: bytes, context: Ctx) -> Any:
            request = await parse(cls, data, context, limit)
            async for response in fn(request, context):
                yield response
        return stream

    async def call(data: bytes, context: Ctx) -> Any:
        return await fn(await parse(cls, data, context, limit, oversized), context)
    return call
