"""The HTTP listener: an aiohttp application embedded with AppRunner + TCPSite."""

from __future__ import annotations

import logging

from aiohttp import web

from wfsidecar.errors import StartupError
from wfsidecar.health import Readiness

logger = logging.getLogger(__name__)

READINESS_KEY = web.AppKey("readiness", Readiness)


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


def build_app(readiness: Readiness) -> web.Application:
    app = web.Application()
    app[READINESS_KEY] = readiness
    app.router.add_get("/v1.0/healthz", healthz)
    # Dapr's clients (DaprClient, DaprHealth.wait_until_ready) wait for this one before
    # their first call; the daemon has no outbound side, so it answers as healthz does.
    app.router.add_get("/v1.0/healthz/outbound", healthz)
    return app


class HttpListener:
    """Serves ``build_app`` on ``host:port`` (port 0 picks a free port)."""

    def __init__(self, host: str, port: int, readiness: Readiness) -> None:
        self.host = host
        self.port = port
        self._runner = web.AppRunner(build_app(readiness), handle_signals=False,
                                     access_log=None)

    async def start(self) -> int:
        """Bind and start; return the bound port.

        Raises:
            StartupError: the address is in use or cannot be bound.
        """
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise StartupError(
                f"http listener cannot bind {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        self.port = int(self._runner.addresses[0][1])
        logger.info("http listener on %s:%d", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()
