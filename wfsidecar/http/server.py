"""The HTTP listener: an aiohttp application embedded with AppRunner + TCPSite.

It serves health, and, when the composition root hands it a ``WorkflowApi``, the workflow
API of docs/http-api.md: Dapr's routes (workflow_api.py) and the extensions (extensions.py,
diagnostics.py) under every version prefix, plus metadata.py and openapi.py, and the
dashboard's static files at /ui (dashboard.py), which use that API.
"""

from __future__ import annotations

import logging
import ssl

from aiohttp import web

from wfsidecar import __version__
from wfsidecar.errors import StartupError
from wfsidecar.health import Readiness
from wfsidecar.http import (
    dashboard,
    diagnostics,
    extensions,
    metadata,
    openapi,
    storage,
    workflow_api,
)
from wfsidecar.http.auth import authenticating, undecided
from wfsidecar.http.context import API_KEY, WorkflowApi
from wfsidecar.http.errors import body_limit, json_errors
from wfsidecar.http.observed import observing
from wfsidecar.security.gate import Gate
from wfsidecar.telemetry.observer import NULL, Observer

logger = logging.getLogger(__name__)

READINESS_KEY = web.AppKey("readiness", Readiness)
# Dapr serves its workflow routes under all three (pkg/api/http/workflow.go).
VERSION_PREFIXES = ("/v1.0", "/v1.0-beta1", "/v1.0-alpha1")
DEFAULT_MAX_BODY_SIZE = 4 * 1024 * 1024


async def healthz(request: web.Request) -> web.StreamResponse:
    """Dapr's ``GET /v1.0/healthz``: 204 when ready, 503 while starting, draining or
    while a fault lasts (the store cannot write)."""
    readiness = request.app[READINESS_KEY]
    if readiness.ready:
        return web.Response(status=204)
    return web.json_response(
        {"errorCode": "ERR_HEALTH_NOT_READY", "message": readiness.describe()},
        status=503,
    )


def build_app(readiness: Readiness, api: WorkflowApi | None = None, *,
              max_body_size: int = DEFAULT_MAX_BODY_SIZE,
              observer: Observer = NULL, gate: Gate | None = None) -> web.Application:
    """Raises:
        StartupError: a route has no decision in http/auth.py's table.
    """
    # The observer sees what the client got, errors mapped to their statuses included;
    # auth runs before any body is read and sees the statuses json_errors mapped.
    middlewares = [observing(observer), json_errors(max_body_size), body_limit(max_body_size)]
    if gate is not None:
        middlewares.insert(1, authenticating(gate))
    app = web.Application(client_max_size=max_body_size, middlewares=middlewares)
    app[READINESS_KEY] = readiness
    app.router.add_get("/v1.0/healthz", healthz)
    # Dapr's clients (DaprClient, DaprHealth.wait_until_ready) wait for this one before
    # their first call; the daemon has no outbound side, so it answers as healthz does.
    app.router.add_get("/v1.0/healthz/outbound", healthz)
    if api is not None:
        app[API_KEY] = api
        for prefix in VERSION_PREFIXES:
            # Literal routes (bulk terminate/purge) before the templated instance routes.
            extensions.add_routes(app.router, prefix)
            workflow_api.add_routes(app.router, prefix)
            diagnostics.add_routes(app.router, prefix)
        metadata.add_routes(app.router)
        storage.add_routes(app.router)
        openapi.add_routes(app.router, __version__)
        dashboard.add_routes(app.router)
    missing = undecided(app)
    if missing:
        raise StartupError("HTTP routes without an access decision in http/auth.py: "
                           + ", ".join(missing))
    return app


class HttpListener:
    """Serves ``build_app`` on ``host:port`` (port 0 picks a free port)."""

    def __init__(self, host: str, port: int, readiness: Readiness,
                 api: WorkflowApi | None = None, *,
                 max_body_size: int = DEFAULT_MAX_BODY_SIZE,
                 observer: Observer = NULL, gate: Gate | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.port = port
        self._ssl_context = ssl_context
        app = build_app(readiness, api, max_body_size=max_body_size, observer=observer,
                        gate=gate)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)

    async def start(self) -> int:
        """Bind and start; return the bound port.

        Raises:
            StartupError: the address is in use or cannot be bound.
        """
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self._ssl_context)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise StartupError(
                f"http listener cannot bind {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        self.port = int(self._runner.addresses[0][1])
        logger.info("http%s listener on %s:%d", "s" if self._ssl_context else "", self.host,
                    self.port)
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()
