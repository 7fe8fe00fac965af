"""What the HTTP API's handlers are handed by the composition root (app.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from wfsidecar.clock import Clock
from wfsidecar.store.base import StateStore
from wfsidecar.workflow.diagnostics import Diagnostics
from wfsidecar.workflow.dispatch_view import DispatchView
from wfsidecar.workflow.retention import RetentionSweeper
from wfsidecar.workflow.service import WorkflowService


@dataclass(frozen=True, slots=True)
class ListenerInfo:
    """One bound listener, as the daemon summary shows it."""

    name: str  # "dapr", "durabletask", "extra ms", "http"
    protocol: str  # "grpc" or "http"
    dialect: str | None  # "dapr" or "ms" for a gRPC listener
    host: str
    port: int


@dataclass(frozen=True, slots=True)
class WorkflowApi:
    """The service and the read-only views every route answers from."""

    service: WorkflowService
    diagnostics: Diagnostics
    dispatch: DispatchView
    store: StateStore
    clock: Clock
    version: str
    store_backend: str
    started_ms: int  # wall time the daemon started
    # The listeners bound so far (the HTTP listener starts before the daemon is ready).
    listeners: Callable[[], list[ListenerInfo]]
    retention: RetentionSweeper | None = None  # the storage report's policy and backlog
    trace_url_template: str | None = None  # tracing.ui_url_template, for the dashboard


API_KEY = web.AppKey("workflow_api", WorkflowApi)


def api(request: web.Request) -> WorkflowApi:
    return request.app[API_KEY]
