"""``MetricsListener``: ``GET /metrics`` with aiohttp on the event loop, on its own port."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from wfsidecar.config import MetricsConfig
from wfsidecar.errors import StartupError
from wfsidecar.telemetry.metrics._gauges import Readings, Sources
from wfsidecar.telemetry.metrics._observer import MetricsObserver
from wfsidecar.telemetry.metrics._series import DAPR_COUNTERS

logger = logging.getLogger("wfsidecar.telemetry.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Scrape(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


@dataclass(slots=True)
class _InstanceCounts:
    counts: Mapping[str, int] = field(default_factory=dict)
    at: float = float("-inf")  # monotonic time of the last count
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class MetricsListener:
    """Serves ``GET /metrics`` on ``config.host:config.port`` (port 0 picks a free one)."""

    def __init__(self, config: MetricsConfig, observer: MetricsObserver,
                 sources: Sources, *, middlewares: Sequence[Middleware] = ()) -> None:
        """``middlewares``: the composition root's token check (docs/security.md)."""
        self.host, self.port = config.host, config.port
        self._observer = observer
        self._sources = sources
        self._max_age = config.instances_max_age
        self._instances = _InstanceCounts()
        self._process = CollectorRegistry()
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self._process.register(collector)
        app = web.Application(middlewares=list(middlewares))
        app.router.add_get("/metrics", self._scrape)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)

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
            raise StartupError(f"metrics listener cannot bind {self.host}:{self.port}: "
                               f"{exc.strerror or exc}") from exc
        self.port = int(self._runner.addresses[0][1])
        logger.info("metrics on http://%s:%d/metrics", self.host, self.port)
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _scrape(self, request: web.Request) -> web.Response:
        readings = await self.read()
        body = generate_latest(_Scrape(self._observer.families(readings)))
        for name in DAPR_COUNTERS:
            body = body.replace(f"# TYPE {name} untyped\n".encode(),
                                f"# TYPE {name} counter\n".encode())
        # The process collectors read /proc (blocking file I/O): off the event loop.
        body += await asyncio.to_thread(generate_latest, self._process)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def read(self) -> Readings:
        """Snapshot the daemon's gauges, on the event loop."""
        sources = self._sources
        try:
            size: int | None = await sources.store.size_bytes()
        except OSError:
            size = None
        return Readings(load=sources.dispatch.load(), given_up=sources.dispatch.given_up(),
                        backlog=sources.reminders.backlog(),
                        actors=sources.actors.active_by_type(), database_bytes=size,
                        instances=await self._instance_counts(),
                        leases=sources.cluster.lease_readings() if sources.cluster else None)

    async def _instance_counts(self) -> Mapping[str, int]:
        cache = self._instances
        async with cache.lock:  # concurrent scrapes share one recount
            if time.monotonic() - cache.at >= self._max_age:
                try:
                    cache.counts = await self._sources.instances.count_by_status()
                    cache.at = time.monotonic()
                except Exception:  # a scrape must not fail for a count: serve the last one
                    logger.warning("could not count instances by status", exc_info=True)
        return cache.counts
