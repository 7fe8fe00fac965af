"""The composition root's outward parts: the store it opens and the listeners it binds
(gRPC per dialect, HTTP, metrics), each with the one observer, gate and TLS files.

Every opened thing is pushed on the caller's exit stack, so a failed start unwinds what
started before it and a stop closes in reverse order.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from pathlib import Path

import grpc

from wfsidecar.app_security import Security
from wfsidecar.config import Config, parse_listener
from wfsidecar.errors import SchemaTooNewError, StartupError, StoreError, StoreLockedError
from wfsidecar.health import Readiness
from wfsidecar.http.auth import authenticating
from wfsidecar.http.context import ListenerInfo, WorkflowApi
from wfsidecar.http.server import HttpListener
from wfsidecar.server.grpc_listener import GrpcListener
from wfsidecar.store.base import StateStore
from wfsidecar.telemetry.metrics import MetricsListener, MetricsObserver, Sources
from wfsidecar.telemetry.observer import Observer

logger = logging.getLogger("wfsidecar.app")


async def open_store(config: Config, readiness: Readiness, stack: AsyncExitStack) -> StateStore:
    """Open the configured store (``StartupError`` naming the cause if it cannot be)."""
    cfg = config.store
    store: StateStore
    if cfg.backend == "memory":
        from wfsidecar.store.memory import MemoryStore

        store = MemoryStore()
    elif cfg.backend == "postgres":
        store = await _open_postgres(config, readiness)
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
        readiness.add_fault_source(lambda: sqlite_store.write_fault)
    stack.push_async_callback(store.close)
    return store


async def _open_postgres(config: Config, readiness: Readiness) -> StateStore:
    from wfsidecar.store.postgres import PostgresStore

    cfg = config.store.postgres
    assert cfg.dsn is not None  # StoreConfig refuses postgres without one
    try:
        store = await PostgresStore.open(cfg.dsn, max_batch=cfg.max_batch,
                                         partitions=cfg.partitions, pool_size=cfg.pool_size,
                                         # at least 5 s: an overloaded machine can stall
                                         # the loop for seconds between two statements
                                         idle_transaction_timeout=max(cfg.lease_ttl, 5.0))
    except SchemaTooNewError as exc:
        raise StartupError(str(exc)) from exc
    except StoreError as exc:
        raise StartupError(str(exc)) from exc
    logger.info("store: postgres (%d partitions)", store.partitions)
    # Not ready while commits fail (server down, connection lost), as for SQLite.
    readiness.add_fault_source(lambda: store.write_fault)
    return store


class Listeners:
    """Binds the listeners and remembers what is bound (for GET /v1.0/metadata)."""

    def __init__(self, config: Config, readiness: Readiness, observer: Observer,
                 security: Security) -> None:
        self._config = config
        self._readiness = readiness
        self._observer = observer
        self._security = security
        self.bound: list[ListenerInfo] = []

    async def start_grpc(self, stack: AsyncExitStack,
                         dapr: tuple[grpc.GenericRpcHandler, ...],
                         ms: tuple[grpc.GenericRpcHandler, ...]) -> list[GrpcListener]:
        listeners = []
        cfg = self._config.listeners
        wanted = [("dapr", "dapr", cfg.dapr_grpc.host, cfg.dapr_grpc.port),
                  ("durabletask", "ms", cfg.durabletask_grpc.host, cfg.durabletask_grpc.port)]
        for spec in cfg.extra_grpc:
            dialect, host, port = parse_listener(spec)
            wanted.append((f"extra {dialect}", dialect, host, port))
        for name, dialect, host, port in wanted:
            listener = GrpcListener(name, host, port, max_message_size=cfg.max_message_size,
                                    keepalive=(cfg.keepalive_interval, cfg.keepalive_timeout),
                                    fault=lambda: self._readiness.fault,
                                    observer=self._observer, gate=self._security.gate,
                                    tls=self._security.tls)
            # One dialect per listener: the two give some field numbers different meanings.
            listener.server.add_generic_rpc_handlers(dapr if dialect == "dapr" else ms)
            await listener.start()
            self.bound.append(ListenerInfo(name, "grpc", dialect, host, listener.port))
            # Unwinding after a failed start or a drain: stop is idempotent and the grace
            # here only matters if the drain never ran.
            stack.push_async_callback(listener.stop, 0)
            listeners.append(listener)
        return listeners

    async def start_http(self, stack: AsyncExitStack, api: WorkflowApi) -> int:
        cfg = self._config.listeners.http
        tls = self._security.tls
        listener = HttpListener(cfg.host, cfg.port, self._readiness, api,
                                max_body_size=cfg.max_body_size, observer=self._observer,
                                gate=self._security.gate,
                                ssl_context=tls.ssl_context() if tls.enabled else None)
        port = await listener.start()
        self.bound.append(ListenerInfo("http", "http", None, cfg.host, port))
        stack.push_async_callback(listener.stop)
        return port

    async def start_metrics(self, stack: AsyncExitStack, metrics: MetricsObserver | None,
                            sources: Sources) -> int | None:
        if metrics is None:
            return None
        # Scrapes need a read-only (or admin) token once tokens are configured.
        gate = self._security.gate
        auth = [authenticating(gate)] if gate is not None else []
        listener = MetricsListener(self._config.metrics, metrics, sources, middlewares=auth)
        port = await listener.start()
        # Listed by /v1.0/metadata too, so the dashboard (and anyone) can find the scrape port.
        self.bound.append(ListenerInfo("metrics", "http", None, self._config.metrics.host, port))
        stack.push_async_callback(listener.stop)
        return port
