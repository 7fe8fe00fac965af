"""The one table from wfsidecar errors to gRPC status codes (style.md §3.10)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import wraps
from typing import TypeVar

import grpc

from wfsidecar import errors

logger = logging.getLogger(__name__)

# Most specific first: the first isinstance match wins.
STATUS_TABLE: tuple[tuple[type[errors.WfSidecarError], grpc.StatusCode], ...] = (
    (errors.NotFoundError, grpc.StatusCode.NOT_FOUND),
    (errors.AlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (errors.FailedPreconditionError, grpc.StatusCode.FAILED_PRECONDITION),
    (errors.InvalidArgumentError, grpc.StatusCode.INVALID_ARGUMENT),
    (errors.ShuttingDownError, grpc.StatusCode.UNAVAILABLE),
    (errors.LimitExceededError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (errors.StoreUnavailable, grpc.StatusCode.UNAVAILABLE),
    (errors.StoreConflictError, grpc.StatusCode.ABORTED),
    (errors.ActorCallCycleError, grpc.StatusCode.INTERNAL),
    (errors.StoreError, grpc.StatusCode.UNAVAILABLE),
)


def status_for(error: errors.WfSidecarError) -> grpc.StatusCode:
    for cls, code in STATUS_TABLE:
        if isinstance(error, cls):
            return code
    return grpc.StatusCode.INTERNAL


Req = TypeVar("Req")
Resp = TypeVar("Resp")
Handler = Callable[[Req, grpc.aio.ServicerContext[Req, Resp]], Awaitable[Resp]]


def mapped(handler: Handler[Req, Resp]) -> Handler[Req, Resp]:
    """Turn wfsidecar errors into gRPC statuses; anything unexpected becomes INTERNAL."""

    @wraps(handler)
    async def wrapper(request: Req, context: grpc.aio.ServicerContext[Req, Resp]) -> Resp:
        try:
            return await handler(request, context)
        except errors.WfSidecarError as exc:
            await context.abort(status_for(exc), str(exc))
        except ValueError as exc:  # malformed values inside otherwise valid messages
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except Exception:
            logger.exception("unexpected error in %s", handler.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the daemon log")
        raise AssertionError("unreachable: abort raises")

    return wrapper


StreamHandler = Callable[[Req, grpc.aio.ServicerContext[Req, Resp]], AsyncIterator[Resp]]


def mapped_stream(handler: StreamHandler[Req, Resp]) -> StreamHandler[Req, Resp]:
    """``mapped`` for server-streaming handlers written as async generators."""

    @wraps(handler)
    async def wrapper(request: Req,
                      context: grpc.aio.ServicerContext[Req, Resp]) -> AsyncIterator[Resp]:
        try:
            async for response in handler(request, context):
                yield response
        except errors.WfSidecarError as exc:
            await context.abort(status_for(exc), str(exc))
        except Exception:
            logger.exception("unexpected error in %s", handler.__name__)
            await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the daemon log")

    return wrapper
