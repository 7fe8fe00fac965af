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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

import grpc

from wfsidecar import __version__, logs
from wfsidecar.actors import ActorFactory, ActorRuntime, ReminderScheduler
from wfsidecar.actors.reminders import SchedulerSettings
from wfsidecar.clock import Clock, SystemClock
from wfsidecar.config import Config, RemindersConfig, parse_listener
from wfsidecar.errors import SchemaTooNewError, StartupError, StoreError, StoreLockedError
from wfsidecar.health import Phase, Readiness
from wfsidecar.http.auth import authenticating
from wfsidecar.http.context import ListenerInfo, WorkflowApi
from wfsidecar.http.server import HttpListener
from wfsidecar.security import exposure
from wfsidecar.security.gate import Gate
from wfsidecar.security.rate import RateLimiter
from wfsidecar.security.tls import TlsFiles
from wfsidecar.security.tokens import Credentials
from wfsidecar.server.auth import served_methods, undecided
from wfsidecar.server.dapr_runtime_service import DaprRuntimeService
from wfsidecar.server.dapr_service import DaprSidecarService
from wfsidecar.server.grpc_listener import GrpcListener
from wfsidecar.server.ms_service import MsSidecarService
from wfsidecar.store.base import StateStore
from wfsidecar.telemetry.metrics import MetricsListener, MetricsObserver, Sources
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
        self._actor_types = dict(actor_types or {})
        self._configure_logging = configure_logging
        self._listeners: list[ListenerInfo] = []  # bound so far, for GET /v1.0/metadata
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

    async def serve(self, shutdown_trigger: Callable[[], Awaitable[object]]) -> None:
        """Start, serve until ``shutdown_trigger()`` returns, then drain and stop.

        Raises:
            StartupError: a component could not start; everything started is unwound.
        """
        if self._configure_logging:
            logs.configure(self.config.logging.level, self.config.logging.format)
        started, started_ms = time.monotonic(), self.clock.now_ms()
        await self._secure()
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
            self.service = WorkflowService(
                runtime, store, waiters, self.clock,
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
            limit = self.config.listeners.max_message_size
            dapr = DaprSidecarService(self.service, dispatcher, max_message_size=limit,
                                      observer=observer)
            entities = EntityService(runtime, store, self.clock)
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
            grpc_listeners = await self._start_grpc(
                stack, (dapr.handler(), runtime_api.handler()), (ms.handler(),))
            http = await self._start_http(stack, WorkflowApi(
                service=self.service, dispatch=dispatcher.view(), store=store,
                diagnostics=Diagnostics(self.service, dispatcher.view(), self.clock),
                clock=self.clock, version=__version__, store_backend=self.config.store.backend,
                started_ms=started_ms, listeners=lambda: list(self._listeners),
                retention=self.retention))
            metrics = await self._start_metrics(stack, Sources(
                dispatch=dispatcher.view(), reminders=scheduler, actors=runtime, store=store,
                instances=self.service.read_model))
            async with asyncio.TaskGroup() as loops:
                scheduler_task = loops.create_task(scheduler.run(), name="reminders")
                reaper = loops.create_task(runtime.run_idle_reaper(), name="idle-reaper")
                watcher = loops.create_task(self._watch_security(), name="security")
                poison = loops.create_task(dispatcher.run_poison_handler(), name="poison")
                sweeper = loops.create_task(self.retention.run(), name="retention")
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

    async def _open_store(self, stack: AsyncExitStack) -> StateStore:
        cfg = self.config.store
        store: StateStore
        if cfg.backend == "memory":
            from wfsidecar.store.memory import MemoryStore

            store = MemoryStore()
        else:
            from wfsidecar.store.sqlite import SqliteStore

            path = Path(cfg.sqlite.path)
            try:
                await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
                store = await SqliteStore.open(
                    path,
                    synchronous=cfg.sqlite.synchronous,
                    busy_timeout=cfg.sqlite.busy_timeout,
                    max_batch=cfg.sqlite.max_batch,
                )
            except (StoreLockedError, SchemaTooNewError) as exc:
                raise StartupError(str(exc)) from exc
            except (StoreError, OSError) as exc:
                raise StartupError(f"cannot open database {path}: {exc}") from exc
            logger.info("store: sqlite %s (synchronous=%s)", path, cfg.sqlite.synchronous)
            # A store that cannot write (disk full, read-only) makes the daemon not ready
            # until a commit or the store's own probe succeeds again.
            sqlite_store = store
            self.readiness.add_fault_source(lambda: sqlite_store.write_fault)
        stack.push_async_callback(store.close)
        return store

    async def _start_grpc(self, stack: AsyncExitStack,
                          dapr: tuple[grpc.GenericRpcHandler, ...],
                          ms: tuple[grpc.GenericRpcHandler, ...]) -> list[GrpcListener]:
        listeners = []
        cfg = self.config.listeners
        wanted = [("dapr", "dapr", cfg.dapr_grpc.host, cfg.dapr_grpc.port),
                  ("durabletask", "ms", cfg.durabletask_grpc.host, cfg.durabletask_grpc.port)]
        for spec in cfg.extra_grpc:
            dialect, host, port = parse_listener(spec)
            wanted.append((f"extra {dialect}", dialect, host, port))
        for name, dialect, host, port in wanted:
            listener = GrpcListener(name, host, port, max_message_size=cfg.max_message_size,
                                    keepalive=(cfg.keepalive_interval, cfg.keepalive_timeout),
                                    fault=lambda: self.readiness.fault,
                                    observer=self.observer, gate=self._gate, tls=self._tls)
            # One dialect per listener: the two give some field numbers different meanings.
            listener.server.add_generic_rpc_handlers(dapr if dialect == "dapr" else ms)
            await listener.start()
            self._listeners.append(ListenerInfo(name, "grpc", dialect, host, listener.port))
            # Unwinding after a failed start or a drain: stop is idempotent and the grace
            # here only matters if the drain never ran.
            stack.push_async_callback(listener.stop, 0)
            listeners.append(listener)
        return listeners

    async def _start_http(self, stack: AsyncExitStack, api: WorkflowApi) -> int:
        cfg = self.config.listeners.http
        listener = HttpListener(cfg.host, cfg.port, self.readiness, api,
                                max_body_size=cfg.max_body_size, observer=self.observer,
                                gate=self._gate,
                                ssl_context=self._tls.ssl_context() if self._tls.enabled else None)
        port = await listener.start()
        self._listeners.append(ListenerInfo("http", "http", None, cfg.host, port))
        stack.push_async_callback(listener.stop)
        return port

    async def _start_metrics(self, stack: AsyncExitStack, sources: Sources) -> int | None:
        if self.metrics is None:
            return None
        # Scrapes need a read-only (or admin) token once tokens are configured.
        auth = [authenticating(self._gate)] if self._gate is not None else []
        listener = MetricsListener(self.config.metrics, self.metrics, sources,
                                   middlewares=auth)
        port = await listener.start()
        stack.push_async_callback(listener.stop)
        return port

    async def _secure(self) -> None:
        """Tokens, TLS files, rate limit, and the refusal of an unprotected exposure.

        Raises:
            ConfigError: a token or TLS file does not load, or a listener is exposed beyond
                loopback with no token and without ``security.insecure``.
        """
        cfg = self.config.security
        self._credentials = Credentials(cfg)
        await self._credentials.load()
        self._tls = TlsFiles(cfg.tls)
        await self._tls.load()
        self._exposed = exposure.check(self.config, self._credentials.enabled)
        limiter = RateLimiter(cfg.rate_limit, cfg.rate_burst) if cfg.rate_limit else None
        # No gate at all by default (no token, no rate): the edges run no auth code.
        self._gate = (Gate(self._credentials, limiter)
                      if self._credentials.enabled or limiter else None)
        if self._exposed and not self._credentials.enabled:
            exposure.warn_insecure(self._exposed)
        if self._credentials.enabled:
            logger.info("API tokens required on every listener (health excepted)")

    async def _watch_security(self) -> None:
        """Re-read token and certificate files; repeat the --insecure warning hourly."""
        interval = self.config.security.reload_interval
        warn_every = exposure.INSECURE_WARNING_INTERVAL
        insecure = bool(self._exposed) and not self._credentials.enabled
        last_warning = time.monotonic()
        while True:
            await asyncio.sleep(interval)
            await self._credentials.reload()
            await self._tls.reload()
            if insecure and time.monotonic() - last_warning >= warn_every:
                exposure.warn_insecure(self._exposed)
                last_warning = time.monotonic()

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
