"""The HTTP edge's telemetry point: one aiohttp middleware reports every finished request
(route name, status, duration, the instance it named) to the observer seam, and binds the
instance and the caller's trace to the log lines written while it runs."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from wfsidecar.telemetry import log_context
from wfsidecar.telemetry.observer import Observer, RpcCall
from wfsidecar.telemetry.trace_ids import parse_traceparent


def observing(observer: Observer) -> Middleware:
    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        began = time.perf_counter()
        status = 500
        try:
            with _log_context(request):
                response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            route = request.match_info.route
            name = route.name or (route.resource.canonical if route.resource else "unmatched")
            observer.rpc_finished(RpcCall("http", name, str(status),
                                          time.perf_counter() - began,
                                          request.match_info.get("instanceID")))
    return observe


def _log_context(request: web.Request) -> AbstractContextManager[None]:
    instance_id = request.match_info.get("instanceID") or request.query.get("instanceID")
    parent = parse_traceparent(request.headers.get("traceparent", ""))
    return log_context.bound(instance_id or None, parent.trace_id if parent else None)
