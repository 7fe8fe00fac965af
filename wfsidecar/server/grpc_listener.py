"""One gRPC listener: a ``grpc.aio`` server bound to one address.

Each listener serves the standard gRPC health service (mirroring the daemon's readiness);
the dialect services are added to it before start.
"""

from __future__ import annotations

import logging

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from wfsidecar.errors import StartupError
from wfsidecar.health import Phase

logger = logging.getLogger(__name__)

# grpc enables SO_REUSEPORT by default on Linux, which lets a second daemon bind the same
# port and silently split the traffic. Turn it off so a taken port fails start-up.
_BASE_OPTIONS: tuple[tuple[str, int], ...] = (("grpc.so_reuseport", 0),)


class GrpcListener:
    """A named gRPC server on ``host:port`` (port 0 picks a free port)."""

    def __init__(self, name: str, host: str, port: int) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.server = grpc.aio.server(options=_BASE_OPTIONS)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self.server)

    async def start(self) -> int:
        """Bind and start; return the bound port.

        Raises:
            StartupError: the address is in use or cannot be bound.
        """
        host = f"[{self.host}]" if ":" in self.host else self.host
        address = f"{host}:{self.port}"
        try:
            bound = self.server.add_insecure_port(address)
        except RuntimeError as exc:  # grpc raises when the bind fails outright
            raise StartupError(f"{self.name} listener cannot bind {address}: {exc}") from exc
        if bound == 0:
            raise StartupError(f"{self.name} listener cannot bind {address}: address in use")
        await self.server.start()
        self.port = bound
        logger.info("%s gRPC listener on %s:%d", self.name, self.host, bound)
        return bound

    async def stop(self, grace: float) -> None:
        """Refuse new calls and give in-flight ones ``grace`` seconds to finish."""
        await self.server.stop(grace)

    async def set_phase(self, phase: Phase) -> None:
        """Mirror the daemon's lifecycle phase in the gRPC health service."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if phase is Phase.READY
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        await self._health.set("", status)
