"""The HTTP edge's telemetry point: one aiohttp middleware reports every finished request
(route name, status, duration, the instance it named) to the observer seam."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from wfsidecar.telemetry.observer import Observer, RpcCall


def observing(observer: Observer) -> Middleware:
    @web.middleware
    async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
        began = time.perf_counter()
        status = 500
        try:
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
