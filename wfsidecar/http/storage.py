"""``GET /v1.0/storage``: the storage report (issue #13 item 5, workflow/storage.py).

The database file's size and free space, instances and stored bytes per status, the
largest instances (``?largest=N``, default 10, at most 100), the retention policy, its
backlog (what is past its limit now) and the last sweep's numbers.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from wfsidecar.engine import RuntimeStatus
from wfsidecar.http.context import api
from wfsidecar.http.errors import INVALID_QUERY, ApiError, operation
from wfsidecar.http.wire import json_response, timestamp
from wfsidecar.workflow.storage import MAX_LARGEST, Measure, StorageReport, storage_report


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/v1.0/storage", storage)


@operation("ERR_STORAGE")
async def storage(request: web.Request) -> web.StreamResponse:
    parts = api(request)
    largest = _largest(request)
    report = await storage_report(parts.service.read_model, parts.store, parts.retention,
                                  now_ms=parts.clock.now_ms(), largest=largest)
    return json_response(report_json(report, parts.store_backend))


def _largest(request: web.Request) -> int:
    unknown = sorted(k for k in request.query if k != "largest")
    if unknown:
        raise ApiError(400, INVALID_QUERY,
                       f"unknown query parameter {unknown[0]!r}; this route takes largest")
    text = request.query.get("largest", "10")
    if not text.isdigit() or int(text) > MAX_LARGEST:
        raise ApiError(400, INVALID_QUERY,
                       f"largest must be an integer 0-{MAX_LARGEST}, got {text!r}")
    return int(text)


def _measure(measure: Measure) -> dict[str, int]:
    return {"count": measure.count, "storedBytes": measure.stored_bytes}


def report_json(report: StorageReport, backend: str) -> dict[str, Any]:
    sweep = report.last_sweep
    return {
        "store": {"backend": backend, "fileBytes": report.file_bytes,
                  "freeBytes": report.free_bytes},
        "instances": {**_measure(report.total),
                      "byStatus": {name: _measure(m) for name, m in report.by_status.items()}},
        "largest": [{"instanceID": row.instance_id, "name": row.name,
                     "runtimeStatus": RuntimeStatus(row.status).name,
                     "createdAt": timestamp(row.created_ms),
                     "historyLength": row.history_len, "storedBytes": row.stored_bytes}
                    for row in report.largest],
        "retention": {
            "policySeconds": report.retention_limits,
            "backlog": {name: _measure(m) for name, m in report.backlog.items()},
            "lastSweep": None if sweep is None else {
                "purged": sweep.purged, "purgedBytes": sweep.purged_bytes,
                "archived": sweep.archived, "skipped": sweep.skipped, "packed": sweep.packed,
                "reclaimedPages": sweep.reclaimed_pages},
        },
    }
