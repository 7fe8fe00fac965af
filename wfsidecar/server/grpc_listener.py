"""One gRPC listener: a ``grpc.aio`` server bound to one address.

Each listener serves the standard gRPC health service (mirroring the daemon's readiness,
including faults such as a store that cannot write); the dialect services are added to it
before start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from wfsidecar.errors import StartupError
from wfsidecar.health import FaultSource, Phase
from wfsidecar.security.gate import Gate
from wfsidecar.security.tls import TlsFiles
from wfsidecar.server.auth import AuthInterceptor
from wfsidecar.server.observed import ObservingInterceptor
from wfsidecar.telemetry.observer import NULL, Observer

logger = logging.getLogger(__name__)

_FAULT_POLL_SECONDS = 1.0

# grpc enables SO_REUSEPORT by default on Linux, which lets a second daemon bind the same
# port and silently split the traffic. Turn it off so a taken port fails start-up.
_BASE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.so_reuseport", 0),
    # Dapr clients ping every 30 s, even without calls; a default server answers that with
    # GOAWAY "too_many_pings" (protocol.md §4.5).
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ("grpc.http2.max_ping_strikes", 0),
)


def transport_limit(max_message_size: int) -> int:
    """The largest message grpc itself lets in: ``listeners.max_message_size`` plus headroom.

    Requests are checked against the configured limit after they arrive (server/requests.py),
    where the refusal can name the config key; grpc's own refusal ("Received message larger
    than max") cannot. Twice the limit (capped at 2 GiB, grpc's ceiling) keeps a memory
    bound on what a client can make the daemon buffer; beyond it grpc still refuses.
    """
    return min(2 * max_message_size, 2**31 - 1)


class _HealthServicer(health.aio.HealthServicer):
    """grpc's health service, answering NOT_SERVING while a fault source reports one.

    ``Check`` consults the sources on every call, so a probe sees a fault at once;
    ``Watch`` streams changes, so ``track_faults`` re-publishes the status when a fault
    starts or clears (a watcher would otherwise see SERVING through a full disk).
    """

    _SERVING: int = health_pb2.HealthCheckResponse.SERVING
    _NOT_SERVING: int = health_pb2.HealthCheckResponse.NOT_SERVING

    def __init__(self, fault: FaultSource) -> None:
        super().__init__()
        self._fault = fault
        self._phase_status: int = self._NOT_SERVING
        self._published: int | None = None

    async def Check(self, request: Any, context: Any) -> Any:  # noqa: N802 - grpc's name
        if request.service:
            return await super().Check(request, context)
        return health_pb2.HealthCheckResponse(status=self._current())

    async def set_phase_status(self, status: int) -> None:
        self._phase_status = status
        await self._publish()

    async def track_faults(self, interval: float) -> None:
        """Re-publish whenever the fault sources change; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            await self._publish()

    def _current(self) -> int:
        if self._phase_status == self._SERVING and self._fault() is not None:
            return self._NOT_SERVING
        return self._phase_status

    async def _publish(self) -> None:
        status = self._current()
        if status != self._published:
            self._published = status
            await self.set("", status)


def _no_fault() -> str | None:
    return None


class GrpcListener:
    """A named gRPC server on ``host:port`` (port 0 picks a free port)."""

    def __init__(self, name: str, host: str, port: int, *,
                 max_message_size: int = 64 * 1024 * 1024,
                 keepalive: tuple[float, float] = (20.0, 10.0),
                 fault: FaultSource = _no_fault, observer: Observer = NULL,
                 gate: Gate | None = None, tls: TlsFiles | None = None) -> None:
        self.name = name
        self._tls = tls if tls is not None and tls.enabled else None
        self.host = host
        self.port = port
        interval, timeout = keepalive
        options = (*_BASE_OPTIONS,
                   ("grpc.max_receive_message_length", transport_limit(max_message_size)),
                   ("grpc.max_send_message_length", max_message_size),
                   # A worker frozen with work items in hand keeps its TCP connection open
                   # forever; only an unanswered HTTP/2 ping shows it is gone, and closing
                   # the connection ends its stream, which hands the items to others.
                   ("grpc.keepalive_time_ms", max(1, int(interval * 1000))),
                   ("grpc.keepalive_timeout_ms", max(1, int(timeout * 1000))),
                   # grpc-core times the ping's answer with this one (default 1 min); with
                   # keepalive_timeout alone a frozen peer was never cut off (grpcio 1.85).
                   ("grpc.http2.ping_timeout_ms", max(1, int(timeout * 1000))))
        # The observer is outermost, so it also sees the calls auth refuses.
        interceptors: list[grpc.aio.ServerInterceptor] = [ObservingInterceptor(observer)]
        if gate is not None:
            interceptors.append(AuthInterceptor(gate))
        self.server = grpc.aio.server(options=options, interceptors=interceptors)
        self._health = _HealthServicer(fault)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self.server)
        self._fault_tracker: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Bind and start; return the bound port.

        Raises:
            StartupError: the address is in use or cannot be bound.
        """
        host = f"[{self.host}]" if ":" in self.host else self.host
        address = f"{host}:{self.port}"
        try:
            bound = self._add_port(address)
        except RuntimeError as exc:  # grpc raises when the bind fails outright
            raise StartupError(f"{self.name} listener cannot bind {address}: {exc}") from exc
        if bound == 0:
            raise StartupError(f"{self.name} listener cannot bind {address}: address in use")
        if self.host == "127.0.0.1":
            # Clients dial "localhost", which may resolve to ::1 first; serve both loopbacks
            # on the same port when IPv6 is available (best effort).
            try:
                self._add_port(f"[::1]:{bound}")
            except RuntimeError:
                logger.debug("no IPv6 loopback for %s listener", self.name)
        await self.server.start()
        self.port = bound
        # The store's own idle probe runs once a second, so faults change no faster.
        self._fault_tracker = asyncio.create_task(
            self._health.track_faults(_FAULT_POLL_SECONDS), name=f"{self.name}-health")
        logger.info("%s gRPC listener on %s:%d%s", self.name, self.host, bound,
                    (" (mutual TLS)" if self._tls.mutual else " (TLS)") if self._tls else "")
        return bound

    def _add_port(self, address: str) -> int:
        if self._tls is None:
            return self.server.add_insecure_port(address)
        return self.server.add_secure_port(address, self._tls.grpc_credentials())

    async def stop(self, grace: float) -> None:
        """Refuse new calls and give in-flight ones ``grace`` seconds to finish."""
        if self._fault_tracker is not None:
            self._fault_tracker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fault_tracker
            self._fault_tracker = None
        await self.server.stop(grace)

    async def set_phase(self, phase: Phase) -> None:
        """Mirror the daemon's lifecycle phase in the gRPC health service."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if phase is Phase.READY
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        await self._health.set_phase_status(status)
