"""The composition root: builds every component from the config and runs the lifecycle.

Start-up order (style.md §3.7): logging → store open + migrate → actor runtime →
reminder scheduler → listeners → ready. Shutdown runs the other way: readiness goes to
draining (health answers 503), listeners stop taking calls, the scheduler stops firing,
in-flight turns get ``lifecycle.drain_timeout`` to finish and are cancelled after it,
then listeners and the store close in reverse order of opening.

Library code never touches signals or exits: ``serve`` takes a ``shutdown_trigger``
awaitable; the CLI wires it to SIGTERM/SIGINT and maps errors to exit codes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wfsidecar import __version__, logs
from wfsidecar.actors import ActorFactory, ActorHost, ActorRuntime, ReminderScheduler
from wfsidecar.actors.reminders import SchedulerSettings
from wfsidecar.app_cluster import ClusterNode, cluster_node
from wfsidecar.app_listeners import Listeners, open_store
from wfsidecar.app_security import Security
from wfsidecar.clock import Clock, SystemClock
from wfsidecar.config import Config, RemindersConfig
from wfsidecar.errors import StartupError
from wfsidecar.health import Phase, Readiness
from wfsidecar.http.context import WorkflowApi
from wfsidecar.server.auth import served_methods, undecided
from wfsidecar.server.dapr_runtime_service import DaprRuntimeService
from wfsidecar.server.dapr_service import DaprSidecarService
from wfsidecar.server.grpc_listener import GrpcListener
from wfsidecar.server.ms_service import MsSidecarService
from wfsidecar.store.base import StateStore
from wfsidecar.telemetry.metrics import MetricsObserver, Sources
from wfsidecar.telemetry.observer import Observer, Observers
from wfsidecar.telemetry.trace_ids import NEVER
from wfsidecar.telemetry.tracing import TracingObserver, TracingSettings
from wfsidecar.workflow import StatusWaiters, WorkItemDispatcher, register_actor_types
from wfsidecar.workflow.diagnostics import Diagnostics
from wfsidecar.workflow.entity_service import EntityService
from wfsidecar.workflow.retention import RetentionSweeper
from wfsidecar.workflow.service import WorkflowService
from wfsidecar.workflow.task_hub import TaskHubReset

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BoundPorts:
    """The ports the listeners actually bound (differs from config when it said 0)."""

    dapr_grpc: int
    durabletask_grpc: int
    http: int
    extra_grpc: tuple[int, ...] = ()  # listeners.extra_grpc, in the configured order
    metrics: int | None = None  # None: metrics are off

    def as_json(self) -> dict[str, object]:
        return {
            "pid": os.getpid(),
            "dapr_grpc_port": self.dapr_grpc,
            "durabletask_grpc_port": self.durabletask_grpc,
            "http_port": self.http,
            "extra_grpc_ports": list(self.extra_grpc),
            "metrics_port": self.metrics,
        }


class App:
    """One daemon: ``await App(config).serve(shutdown_trigger)``."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        actor_types: Mapping[str, ActorFactory] | None = None,
        configure_logging: bool = True,
        observers: Sequence[Observer] = (),
    ) -> None:
        """Args:
        config: the effective configuration.
        clock: time source; tests pass a fake one.
        actor_types: extra actor types to host beside the built-in ones (embedding, tests).
        configure_logging: set up wfsidecar's log handlers (off when embedded in a host
            that already configured logging, such as pytest).
        observers: telemetry observers (telemetry/observer.py) beside the ones the config
            asks for; every component reports to all of them.
        """
        self.config = config
        self.clock = clock or SystemClock()
        self.readiness = Readiness()
        self.ports: BoundPorts | None = None
        self.ready = asyncio.Event()
        self.runtime: ActorRuntime | None = None
        self.store: StateStore | None = None
        self.service: WorkflowService | None = None
        self.retention: RetentionSweeper | None = None
        self.cluster: ClusterNode | None = None
        self._actor_types = dict(actor_types or {})
        self._configure_logging = configure_logging
        self.grpc_methods: list[str] = []  # every RPC served (server/auth.py decides each)
        chosen = list(observers)
        self.metrics: MetricsObserver | None = None
        if config.metrics.enabled:
            self.metrics = MetricsObserver(app_id=config.metrics.app_id or "",
                                           namespace=config.metrics.namespace or "")
            chosen.append(self.metrics)
        tracing = TracingSettings.resolve(config.tracing, os.environ)
        self.tracing = TracingObserver(tracing) if tracing is not None else None
        if self.tracing is not None:
            chosen.append(self.tracing)
        # The one telemetry seam every component reports to (metrics and tracing join here).
        self.observer: Observer = Observers.of(chosen)
        self.security = Security(config)  # loaded at the start of serve()
        self._listeners = Listeners(config, self.readiness, self.observer, self.security)

    async def serve(self, shutdown_trigger: Callable[[], Awaitable[object]]) -> None:
        """Start, serve until ``shutdown_trigger()`` returns, then drain and stop.

        Raises:
            StartupError: a component could not start; everything started is unwound.
        """
        if self._configure_logging:
            logs.configure(self.config.logging.level, self.config.logging.format)
        started, started_ms = time.monotonic(), self.clock.now_ms()
        await self.security.load()
        async with AsyncExitStack() as stack:
            if self.tracing is not None:
                # Closed last, so the spans of turns that finish while draining go out.
                self.tracing.start()
                stack.push_async_callback(self.tracing.close, self.config.lifecycle.drain_timeout)
            store = await self._open_store(stack)
            self.store = store
            observer = self.observer
            store.observe(observer)
            runtime = ActorRuntime(store, self.clock, observer=observer,
                                   idle_timeout=self.config.actors.idle_timeout)
            self.runtime = runtime
            for actor_type, factory in self._actor_types.items():
                runtime.register(actor_type, factory)
            work = self.config.work_items
            dispatcher = WorkItemDispatcher(max_attempts=work.max_attempts,
                                            backoff_initial=work.redispatch_initial,
                                            backoff_max=work.redispatch_max,
                                            max_streams=work.max_streams,
                                            max_in_flight_per_stream=work.max_in_flight_per_stream)
            waiters = StatusWaiters()
            register_actor_types(runtime, dispatcher, waiters, self.clock, observer)
            # Several daemons on one PostgreSQL database (docs/multi-node.md).
            self.cluster = cluster_node(self.config, store, lambda: ",".join(sorted(
                {s.dialect for s in dispatcher.view().streams()})))
            self.service_host: ActorHost = (runtime if self.cluster is None
                                             else self.cluster.routing(runtime, waiters,
                                                                       self.clock))
            self.service = WorkflowService(
                self.service_host, store, waiters, self.clock,
                sampler=self.tracing.sampler if self.tracing is not None else NEVER)
            # A file from before the instance index: its rows are built before any read.
            await self.service.read_model.backfill(runtime)
            self.retention = RetentionSweeper(self.service, store, self.config.retention,
                                              self.clock)
            scheduler = ReminderScheduler(store, runtime, self.clock,
                                          _scheduler_settings(self.config.reminders))
            # After a disk-full or read-only spell, what backed off goes at once.
            store.add_recovery_listener(scheduler.store_writable)
            store.add_recovery_listener(dispatcher.store_writable)
            if self.cluster is not None:
                self.cluster.connect(runtime, scheduler, refresh=self._refresh_waiters(waiters),
                                     watching=waiters.watching)
            limit = self.config.listeners.max_message_size
            dapr = DaprSidecarService(self.service, dispatcher, max_message_size=limit,
                                      observer=observer)
            entities = EntityService(runtime if self.cluster is None else self.service_host,
                                     store, self.clock)
            task_hub = (TaskHubReset(runtime, store, dispatcher)
                        if self.config.testing.allow_task_hub_reset else None)
            ms = MsSidecarService(self.service, dispatcher, entities, task_hub=task_hub,
                                  max_message_size=limit, observer=observer)
            # Dapr listeners also serve the workflow methods of Dapr's runtime API.
            runtime_api = DaprRuntimeService(self.service, max_message_size=limit)
            # Every RPC needs an access decision (server/auth.py), or nothing starts.
            self.grpc_methods = served_methods((dapr, ms), (runtime_api,))
            missing = undecided(self.grpc_methods)
            if missing:
                raise StartupError("RPCs without an access decision in server/auth.py: "
                                   + ", ".join(missing))
            grpc_listeners = await self._listeners.start_grpc(
                stack, (dapr.handler(), runtime_api.handler()), (ms.handler(),))
            http = await self._listeners.start_http(stack, WorkflowApi(
                service=self.service, dispatch=dispatcher.view(), store=store,
                diagnostics=Diagnostics(self.service, dispatcher.view(), self.clock),
                clock=self.clock, version=__version__, store_backend=self.config.store.backend,
                started_ms=started_ms, listeners=lambda: list(self._listeners.bound),
                retention=self.retention,
                trace_url_template=self.config.tracing.ui_url_template))
            metrics = await self._listeners.start_metrics(stack, self.metrics, Sources(
                dispatch=dispatcher.view(), reminders=scheduler, actors=runtime, store=store,
                instances=self.service.read_model, cluster=self.cluster))
            async with asyncio.TaskGroup() as loops:
                scheduler_task = loops.create_task(scheduler.run(), name="reminders")
                reaper = loops.create_task(runtime.run_idle_reaper(), name="idle-reaper")
                watcher = loops.create_task(self.security.watch(), name="security")
                poison = loops.create_task(dispatcher.run_poison_handler(), name="poison")
                sweeper = loops.create_task(self.retention.run(), name="retention")
                cluster = (loops.create_task(self.cluster.run(), name="cluster")
                           if self.cluster is not None else None)
                self.ports = BoundPorts(grpc_listeners[0].port, grpc_listeners[1].port, http,
                                        tuple(g.port for g in grpc_listeners[2:]), metrics)
                await self._set_phase(Phase.READY, grpc_listeners)
                await self._write_ready_file(stack)
                logger.info("wfsidecar ready in %.0f ms (ports %s)",
                            (time.monotonic() - started) * 1000, self.ports.as_json())
                self.ready.set()
                await shutdown_trigger()
                self.retention.stop()  # the instance being purged finishes; no new one starts
                await self._drain(runtime, scheduler, dispatcher, grpc_listeners)
                await scheduler_task
                await sweeper
                if self.cluster is not None and cluster is not None:
                    self.cluster.stop()  # after the drain: turns in flight commit first
                    await cluster  # releases the leases for the other daemons
                reaper.cancel()
                poison.cancel()
                watcher.cancel()
        logger.info("wfsidecar stopped")

    async def _drain(
        self,
        runtime: ActorRuntime,
        scheduler: ReminderScheduler,
        dispatcher: WorkItemDispatcher,
        grpc_listeners: list[GrpcListener],
    ) -> None:
        deadline = self.config.lifecycle.drain_timeout
        logger.info("shutting down: draining for up to %.1fs", deadline)
        await self._set_phase(Phase.DRAINING, grpc_listeners)
        scheduler.stop()
        # Work-item streams end now; what they held stays in the store (parked reminders)
        # and is dispatched again after the restart.
        dispatcher.close()
        async with asyncio.TaskGroup() as stopping:
            for listener in grpc_listeners:
                stopping.create_task(listener.stop(deadline))
            stopping.create_task(runtime.drain(deadline))

    def _refresh_waiters(
            self, waiters: StatusWaiters) -> Callable[[str], Coroutine[Any, Any, None]]:
        async def refresh(instance_id: str) -> None:
            assert self.service is not None
            waiters.publish(instance_id, await self.service.get(instance_id))
        return refresh

    async def _open_store(self, stack: AsyncExitStack) -> StateStore:
        """The configured store (a subclass may wrap it: the hazard tests inject faults)."""
        return await open_store(self.config, self.readiness, stack)

    async def _set_phase(self, phase: Phase, grpc_listeners: list[GrpcListener]) -> None:
        self.readiness.phase = phase
        for listener in grpc_listeners:
            await listener.set_phase(phase)

    async def _write_ready_file(self, stack: AsyncExitStack) -> None:
        target = self.config.listeners.ready_file
        if not target or self.ports is None:
            return
        path = Path(target)
        tmp = path.with_name(path.name + ".tmp")
        # Written whole then renamed, so a reader never sees a partial file.
        await asyncio.to_thread(tmp.write_text, json.dumps(self.ports.as_json()) + "\n")
        await asyncio.to_thread(tmp.replace, path)
        stack.push_async_callback(asyncio.to_thread, path.unlink, missing_ok=True)


def _scheduler_settings(cfg: RemindersConfig) -> SchedulerSettings:
    return SchedulerSettings(
        prefetch_window=cfg.prefetch_window,
        prefetch_limit=cfg.prefetch_limit,
        max_concurrent=cfg.max_concurrent,
        retry_initial=cfg.retry_initial,
        retry_max=cfg.retry_max,
    )
