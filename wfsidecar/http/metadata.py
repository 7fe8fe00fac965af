"""``GET /v1.0/metadata``: a summary of the daemon, in the spirit of Dapr's metadata API.

Version, start time and uptime, the listeners and their bound ports, the worker streams
connected per dialect, instance counts per status (from the read model's index, one count
each) and the store's size on disk.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from aiohttp import web

from wfsidecar.engine import RuntimeStatus
from wfsidecar.http.context import api
from wfsidecar.http.errors import operation
from wfsidecar.http.wire import json_response, timestamp
from wfsidecar.store.instances import InstanceFilter
from wfsidecar.workflow.requests import Dialect


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1.0/metadata", metadata)


@operation("ERR_METADATA")
async def metadata(request: web.Request) -> web.StreamResponse:
    parts = api(request)
    now_ms = parts.clock.now_ms()
    streams = parts.dispatch.streams()
    per_dialect = Counter(s.dialect for s in streams)
    filtered = Counter(s.dialect for s in streams if s.filtered)
    counts = {status.name: await parts.service.count_instances(
        InstanceFilter(statuses=frozenset({int(status)}))) for status in RuntimeStatus}
    workers: dict[str, Any] = {
        dialect.value: {"streams": per_dialect[dialect.value],
                        "filteredStreams": filtered[dialect.value]} for dialect in Dialect}
    return json_response({
        "version": parts.version,
        "startedAt": timestamp(parts.started_ms),
        "uptimeSeconds": max(now_ms - parts.started_ms, 0) / 1000,
        "listeners": [{"name": info.name, "protocol": info.protocol, "dialect": info.dialect,
                       "host": info.host, "port": info.port} for info in parts.listeners()],
        "workers": workers,
        "instances": {"total": sum(counts.values()), "byStatus": counts},
        "store": {"backend": parts.store_backend,
                  "sizeBytes": await parts.store.size_bytes()},
        "traceUrlTemplate": parts.trace_url_template,
    })
